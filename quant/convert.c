/* convert.c — fvl-quant's writer: resolves each planned tensor's type, then streams the model
 * file tensor by tensor in row chunks (peak memory: one chunk, not the model), with progress,
 * into OUT.tmp, renamed to OUT only when everything is written. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"
#include "fp16.h"
#include "kernels.h"
#include "outfile.h"

#define CHUNK_FLOATS (4u << 20) /* 16 MB of f32 rows per read */

/* ---- progress ------------------------------------------------------------------------------- */

struct progress {
	bool quiet, tty;
	uint64_t total_bytes, done_bytes;
	uint32_t total, done;
	double t0, last;
	int last_decile;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_show(struct progress *pg, bool final)
{
	if (pg->quiet)
		return;
	double t = now_s(), dt = t - pg->t0;
	double mbs = dt > 0 ? (double)pg->done_bytes / dt / 1e6 : 0;
	double frac = pg->total_bytes ? (double)pg->done_bytes / (double)pg->total_bytes : 1;
	double eta = frac > 0 ? dt / frac - dt : 0;
	if (pg->tty) {
		if (!final && t - pg->last < 0.1)
			return;
		pg->last = t;
		char bar[31];
		int fill = (int)(frac * 30);
		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = 0;
		fprintf(stderr, "\r[%s] %u/%u tensors  %.0f MB  %.1f MB/s  ETA %d:%02d ", bar,
		        pg->done, pg->total, (double)pg->done_bytes / 1e6, mbs, (int)eta / 60,
		        (int)eta % 60);
		if (final)
			fputc('\n', stderr);
		return;
	}
	int decile = (int)(frac * 10);
	if (decile > pg->last_decile || final) {
		pg->last_decile = decile;
		fprintf(stderr, "fvl-quant: %u/%u tensors, %.0f of %.0f MB (%d%%), %.1f MB/s\n",
		        pg->done, pg->total, (double)pg->done_bytes / 1e6,
		        (double)pg->total_bytes / 1e6, (int)(frac * 100), mbs);
	}
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Converts n_rows rows of ne0 floats into the tensor type at out. */
static void
convert_rows(enum fvl_type type, const float *x, uint64_t n_rows, uint64_t ne0, void *out)
{
	uint64_t n = n_rows * ne0;
	switch (type) {
	case FVL_TYPE_F32: memcpy(out, x, n * 4); break;
	case FVL_TYPE_F16:
		for (uint64_t i = 0; i < n; i++)
			((uint16_t *)out)[i] = fvl_fp32_to_fp16(x[i]);
		break;
	case FVL_TYPE_BF16:
		for (uint64_t i = 0; i < n; i++)
			((uint16_t *)out)[i] = fvl_fp32_to_bf16(x[i]);
		break;
	case FVL_TYPE_Q8_0: fvl_quantize_row_q8_0(x, out, n); break;
	case FVL_TYPE_Q4_0: fvl_quantize_row_q4_0(x, out, n); break;
	}
}

/* Drops the pages of a tensor's storage that were read, so resident memory stays near one
 * tensor even though the whole checkpoint is mapped. */
static void release_source(const struct ckpt_tensor *t)
{
	static long page;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (!t->storage)
		return;
	uintptr_t lo = (uintptr_t)t->storage & ~(uintptr_t)(page - 1);
	uint32_t es = t->dtype == CKPT_DTYPE_F32 ? 4 : 2;
	uintptr_t hi = (uintptr_t)t->storage + t->storage_n * es;
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static enum fvl_status write_tensor(struct fvl_gguf_writer *w, FILE *f, const struct plan_tensor *t,
                                    float *buf, void *obuf, struct progress *pg)
{
	const struct fvl_type_info *ti = fvl_type_info(t->type);
	const uint64_t ne0 = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
	uint64_t chunk = CHUNK_FLOATS / ne0;
	if (chunk == 0)
		chunk = 1;
	for (uint64_t r = 0; r < rows; r += chunk) {
		uint64_t n = rows - r < chunk ? rows - r : chunk;
		enum fvl_status st = ckpt_read_rows(&t->src, r, n, buf);
		if (st != FVL_STATUS_OK)
			return st;
		ckpt_release_rows(&t->src, r, n);
		convert_rows(t->type, buf, n, ne0, obuf);
		uint64_t bytes = n * ne0 / ti->blck * ti->size;
		if ((st = fvl_gguf_writer_write_data(w, f, obuf, bytes)) != FVL_STATUS_OK)
			return st;
		pg->done_bytes += bytes;
		progress_show(pg, false);
	}
	release_source(&t->src);
	return fvl_gguf_writer_end_tensor(w, f);
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

enum fvl_status convert_run(const struct convert_opts *o)
{
	return convert_run_ex(o, NULL, NULL);
}

/* Refuses an output that is one of the inputs (the same file under any name): every file in
 * the folders the conversion reads, the weight files included. */
static enum fvl_status
check_not_input(const char *out, const struct ckpt *ck, const char *const *dirs)
{
	struct stat so, si;
	if (stat(out, &so) != 0)
		return FVL_STATUS_OK;
	for (uint32_t i = 0; i < ck->n_files; i++)
		if (stat(ck->files[i]->path, &si) == 0 && si.st_dev == so.st_dev &&
		    si.st_ino == so.st_ino)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
			                "-o %s is the checkpoint's %s: the "
			                "conversion would destroy its own input",
			                out, ck->files[i]->path);
	for (size_t d = 0; dirs[d]; d++) {
		const char *sub[2] = {"", "/vision_tower"};
		for (int k = 0; k < 2; k++) {
			char path[2048];
			snprintf(path, sizeof(path), "%s%s", dirs[d], sub[k]);
			DIR *dir = opendir(path);
			if (!dir)
				continue;
			for (struct dirent *e; (e = readdir(dir));) {
				char f[4096];
				snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
				if (e->d_name[0] != '.' && stat(f, &si) == 0 &&
				    S_ISREG(si.st_mode) && si.st_dev == so.st_dev &&
				    si.st_ino == so.st_ino) {
					closedir(dir);
					return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
					                "-o %s is %s, an input of "
					                "the conversion: it would be destroyed",
					                out, f);
				}
			}
			closedir(dir);
		}
	}
	return FVL_STATUS_OK;
}

enum fvl_status convert_run_ex(const struct convert_opts *o, uint64_t *n_params, uint64_t *n_bytes)
{
	struct ckpt ck;
	struct plan p = {.opts = o};
	struct fvl_gguf_writer *w = NULL;
	struct progress pg = {.quiet = o->quiet, .tty = isatty(2) != 0};
	float *buf = NULL;
	void *obuf = NULL;
	FILE *f = NULL;
	enum fvl_status st;
	uint64_t max_row = 1, n_fallback = 0;

	ckpt_init(&ck);
	p.ck = &ck;
	if (!o->dry_run && o->out && (st = outfile_check(o->out)) != FVL_STATUS_OK)
		return st;
	if (!o->synth && o->ckpt_dir) {
		struct stat sb;
		if (stat(o->ckpt_dir, &sb) != 0)
			return fvl_fail(FVL_STATUS_NOT_FOUND, "%s: cannot open: %s", o->ckpt_dir,
			                strerror(errno));
		if (!S_ISDIR(sb.st_mode))
			return fvl_fail(FVL_STATUS_NOT_FOUND,
			                "%s is not a directory: give the checkpoint's "
			                "folder (config.json and the weights)",
			                o->ckpt_dir);
	}
	if ((st = fvl_gguf_writer_init(&w)) != FVL_STATUS_OK)
		goto done;
	if ((st = arch_plan(o, &ck, &p, w)) != FVL_STATUS_OK)
		goto done;
	const char *const in_dirs[] = {o->ckpt_dir, p.tower_dir[0] ? p.tower_dir : NULL, NULL};
	if (!o->dry_run && o->out && !o->synth &&
	    (st = check_not_input(o->out, &ck, in_dirs)) != FVL_STATUS_OK)
		goto done;
	for (uint32_t i = 0; i < p.n; i++) {
		uint64_t tb;
		if ((st = fvl_gguf_writer_add_tensor(w, p.t[i].name, p.t[i].type, p.t[i].n_dims,
		                                     p.t[i].ne, &tb)) != FVL_STATUS_OK)
			goto done;
		pg.total_bytes += tb;
		if (p.t[i].ne[0] > max_row)
			max_row = p.t[i].ne[0];
		if (p.t[i].fallback) {
			n_fallback++;
			if (!o->quiet)
				fprintf(stderr,
				        "fvl-quant: %s: row length %llu is not a multiple of 32, "
				        "stored as f16\n",
				        p.t[i].name, (unsigned long long)p.t[i].ne[0]);
		}
	}
	pg.total = p.n;
	uint64_t params = 0;
	for (uint32_t i = 0; i < p.n; i++)
		params += p.t[i].ne[0] * p.t[i].ne[1] * p.t[i].ne[2] * p.t[i].ne[3];
	if (n_params)
		*n_params = params;
	if (n_bytes)
		*n_bytes = fvl_gguf_writer_file_size(w);
	if (o->dry_run) {
		if (!o->quiet)
			fprintf(stderr,
			        "fvl-quant: %s would hold %u tensors, %llu parameters, %llu bytes "
			        "(%.2f GB)\n",
			        o->out ? o->out : "the model file", p.n, (unsigned long long)params,
			        (unsigned long long)fvl_gguf_writer_file_size(w),
			        (double)fvl_gguf_writer_file_size(w) / 1e9);
		goto done;
	}
	uint64_t cap = CHUNK_FLOATS > max_row ? CHUNK_FLOATS : max_row;
	buf = malloc(cap * sizeof(float));
	obuf = malloc(cap * sizeof(float));
	if (!buf || !obuf) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the conversion buffers");
		goto done;
	}
	if ((st = outfile_open(o->out, &f)) != FVL_STATUS_OK)
		goto done;
	if (!o->quiet)
		fprintf(stderr, "fvl-quant: writing %s: %u tensors, %.1f MB\n", o->out, p.n,
		        (double)fvl_gguf_writer_file_size(w) / 1e6);
	pg.t0 = now_s();
	if ((st = fvl_gguf_writer_write_header(w, f)) != FVL_STATUS_OK)
		goto done;
	for (uint32_t i = 0; i < p.n; i++) {
		if ((st = write_tensor(w, f, &p.t[i], buf, obuf, &pg)) != FVL_STATUS_OK) {
			char ctx[160];
			snprintf(ctx, sizeof(ctx), "writing '%s'", p.t[i].name);
			fvl_error_prefix(ctx);
			goto done;
		}
		pg.done = i + 1;
	}
	if ((st = fvl_gguf_writer_finish(w, f)) != FVL_STATUS_OK)
		goto done;
	if ((st = outfile_commit(&f)) != FVL_STATUS_OK)
		goto done;
	pg.done = p.n;
	if (pg.tty)
		progress_show(&pg, true);
	if (!o->quiet) {
		double dt = now_s() - pg.t0;
		fprintf(stderr,
		        "fvl-quant: wrote %s: %u tensors (%llu stored as f16 for their row "
		        "length), %.1f MB in %.1f s (%.1f MB/s), peak RSS %.1f MB\n",
		        o->out, p.n, (unsigned long long)n_fallback,
		        (double)fvl_gguf_writer_file_size(w) / 1e6, dt,
		        dt > 0 ? (double)pg.done_bytes / dt / 1e6 : 0.0,
		        (double)peak_rss_kb() / 1024.0);
	}
done:
	outfile_abort(f, st);
	free(buf);
	free(obuf);
	free(p.t);
	fvl_gguf_writer_free(w);
	ckpt_free(&ck);
	return st;
}
