/* main.c — test runner: runs every suite (or those tests whose name contains argv[1]) and ends
 * with "N passed, N failed, N skipped". Exit status 1 if anything failed. */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

struct t_result *t_cur;
static int n_pass, n_fail, n_skip;
static const char *filter;
static char tmpdir[256];

void t_run(const char *name, void (*fn)(void))
{
	struct t_result r = {0};
	if (filter && !strstr(name, filter))
		return;
	t_cur = &r;
	fn();
	t_cur = NULL;
	if (r.failed) {
		n_fail++;
		printf("FAIL %s: %s\n", name, r.msg);
	} else if (r.skipped) {
		n_skip++;
		printf("skip %s: %s\n", name, r.msg);
	} else {
		n_pass++;
		printf("ok   %s\n", name);
	}
}

void t_failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	if (t_cur->failed) /* the first failure is the one reported */
		return;
	int n = snprintf(t_cur->msg, sizeof(t_cur->msg), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(t_cur->msg + n, sizeof(t_cur->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	t_cur->failed = true;
}

void t_note(const char *fmt, ...)
{
	va_list ap;
	fputs("     | ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void rm_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[512];
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(tmpdir);
}

const char *t_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/fvl-test-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

const char *t_tmppath(const char *name)
{
	static _Thread_local char p[8][512];
	static _Thread_local int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", t_tmpdir(), name);
	return p[i];
}

const char *t_datapath(const char *name)
{
	static _Thread_local char p[8][512];
	static _Thread_local int i;
	const char *base = getenv("FVL_TEST_DATA");
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", base ? base : FVL_TEST_DATA_DIR, name);
	return p[i];
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* a SIGILL under qemu must not eat the output */
	if (argc == 3 && strcmp(argv[1], "--write-gguf-seeds") == 0)
		return t_write_gguf_seeds(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--write-ckpt-seeds") == 0)
		return t_write_ckpt_seeds(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--write-fuzz-files") == 0)
		return t_write_fuzz_files(argv[2]);
	if (argc > 1)
		filter = argv[1];
	suite_base();
	suite_kernels();
	suite_gguf();
	suite_convert();
	suite_export();
	suite_llm();
	suite_vision();
	suite_tokenizer();
	suite_session();
	suite_api();
	suite_camera();
	suite_f2task();
	suite_layouts();
	suite_threads();
	suite_ops();
	suite_serve();
	printf("%d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}
