/* outfile.c — OUT.tmp, renamed to OUT when complete (see outfile.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "outfile.h"

/* The temporary file, removed by the signal handler if the user interrupts. */
static char tmp_path[4096];
static char out_path[4096];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
	if (tmp_live)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void arm(void (*handler)(int))
{
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
	signal(SIGHUP, handler);
}

static enum fvl_status write_error(const char *what)
{
	return fvl_fail(errno == ENOSPC ? FVL_STATUS_NO_SPACE : FVL_STATUS_IO, "%s: %s", what,
	                strerror(errno));
}

enum fvl_status outfile_check(const char *out)
{
	struct stat sb;
	if (stat(out, &sb) != 0)
		return FVL_STATUS_OK;
	if (S_ISDIR(sb.st_mode))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "-o %s is a directory: give the output file's name (e.g. "
		                "%s/model.gguf)",
		                out, out);
	if (!S_ISREG(sb.st_mode))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "-o %s is not a regular file (a device, FIFO or socket): "
		                "fvl-quant writes model files only",
		                out);
	return FVL_STATUS_OK;
}

enum fvl_status outfile_open(const char *out, FILE **f)
{
	*f = NULL;
	if ((size_t)snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", out) >= sizeof(tmp_path) ||
	    (size_t)snprintf(out_path, sizeof(out_path), "%s", out) >= sizeof(out_path))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "output path too long");
	FILE *t = fopen(tmp_path, "wbx");
	if (!t && errno == EEXIST) { /* a leftover from an earlier crash, if it is a plain file */
		struct stat sb;
		if (lstat(tmp_path, &sb) == 0 && !S_ISREG(sb.st_mode))
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
			                "%s exists and is not a regular file: remove it or choose "
			                "another -o",
			                tmp_path);
		unlink(tmp_path);
		t = fopen(tmp_path, "wbx");
	}
	if (!t)
		return fvl_fail(errno == ENOSPC ? FVL_STATUS_NO_SPACE : FVL_STATUS_IO,
		                "cannot create %s: %s", tmp_path, strerror(errno));
	tmp_live = 1;
	arm(on_signal);
	*f = t;
	return FVL_STATUS_OK;
}

enum fvl_status outfile_commit(FILE **f)
{
	if (fflush(*f) != 0 || (fsync(fileno(*f)) != 0 && errno != EINVAL))
		return write_error(tmp_path);
	int rc = fclose(*f);
	*f = NULL;
	if (rc != 0)
		return write_error(tmp_path);
	if (rename(tmp_path, out_path) != 0)
		return fvl_fail(FVL_STATUS_IO, "cannot rename %s to %s: %s", tmp_path, out_path,
		                strerror(errno));
	tmp_live = 0;
	arm(SIG_DFL);
	return FVL_STATUS_OK;
}

void outfile_abort(FILE *f, enum fvl_status st)
{
	if (f)
		fclose(f);
	if (tmp_live) {
		if (st != FVL_STATUS_OK)
			fvl_error_prefix(tmp_path);
		unlink(tmp_path);
		tmp_live = 0;
	}
	arm(SIG_DFL);
}
