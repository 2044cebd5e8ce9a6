/* bench-kernels.c — kernel benchmarks. Two modes:
 *   bench-kernels run OP K N M REPS [ISA]   runs one kernel REPS times on random data (for
 *       instruction counting under qemu: the driver runs REPS and REPS + d and divides the
 *       difference, so set-up cost cancels out)
 *   bench-kernels native [THREADS]          times the kernels on this machine: GEMV GB/s against a
 *       memory-bandwidth probe, GEMM GOP/s
 * OP: q4_0 | q8_0 (quantized GEMM/GEMV on x4-packed weights), f32 | f16 (float GEMM), xnn-f32 |
 * xnn-f16 (XNNPACK's fully-connected operator on the same shape, for comparison; xnn-f16 takes
 * f16 activations, converted as fvl's fp16 path does), attn (bidirectional attention, f32 K and
 * V: K = head dim, N = keys, M = queries, over 4 heads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <math.h>
#include <xnnpack.h>

#include "fp16.h"
#include "kernels.h"
#include "linear.h"
#include "pool.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Random packed weights: random quant bytes, small fp16 scales (no quantization pass). */
static void *make_weights(enum fvl_wtype type, size_t n, size_t k, size_t *bytes)
{
	*bytes = type == FVL_WTYPE_F32   ? n * k * 4
	         : type == FVL_WTYPE_F16 ? n * k * 2
	                                 : fvl_pack_x4_size(type, n, k);
	uint8_t *w = aligned_alloc(64, (*bytes + 63) & ~(size_t)63);
	if (!w)
		return NULL;
	for (size_t i = 0; i + 8 <= *bytes; i += 8) {
		uint64_t v = rnd();
		memcpy(w + i, &v, 8);
	}
	const uint16_t scale = fvl_fp32_to_fp16(0.01f);
	if (type == FVL_WTYPE_Q4_0 || type == FVL_WTYPE_Q8_0) {
		size_t bsz = type == FVL_WTYPE_Q4_0 ? sizeof(struct fvl_block_q4_0x4)
		                                    : sizeof(struct fvl_block_q8_0x4);
		for (size_t i = 0; i < *bytes; i += bsz)
			for (int r = 0; r < 4; r++)
				memcpy(w + i + 2 * (size_t)r, &scale, 2);
	} else if (type == FVL_WTYPE_F32) {
		for (size_t i = 0; i < n * k; i++)
			((float *)w)[i] = (float)(rnd() >> 40) * 0x1p-24f - 0.5f;
	} else {
		for (size_t i = 0; i < n * k; i++)
			((uint16_t *)w)[i] =
			        fvl_fp32_to_fp16((float)(rnd() >> 40) * 0x1p-24f - 0.5f);
	}
	return w;
}

struct job {
	enum fvl_wtype type;
	size_t k, n, m;
	void *w;
	float *x, *y, *ad;
	int8_t *aq;
	uint16_t *xh;       /* f16 activations of the fp16-arithmetic path */
	uint16_t *wp;       /* f16 weights in panels, for it */
	xnn_operator_t xnn; /* xnn-f32 / xnn-f16 */
};

/* XNNPACK's fully-connected operator over the job's weights (f32 or f16). */
static int job_xnn(struct job *j)
{
	enum xnn_status st = xnn_status_uninitialized;
	if (fvl_xnnpack_available())
		st = j->type == FVL_WTYPE_F32
		             ? xnn_create_fully_connected_nc_f32(j->k, j->n, j->k, j->n, j->w, NULL,
		                                                 -INFINITY, INFINITY, 0, &j->xnn)
		             : xnn_create_fully_connected_nc_f16(
		                       j->k, j->n, FVL_F16_ROW_STRIDE(j->k), j->n, j->w, NULL,
		                       -INFINITY, INFINITY, 0, &j->xnn);
	if (st != xnn_status_success) {
		fprintf(stderr,
		        "bench-kernels: XNNPACK cannot run this operator here (status %d)\n", st);
		return -1;
	}
	return 0;
}

static int job_init(struct job *j, enum fvl_wtype type, size_t k, size_t n, size_t m,
                    const struct fvl_kernels *kt)
{
	size_t bytes;
	memset(j, 0, sizeof(*j));
	j->type = type, j->k = k, j->n = n, j->m = m;
	j->w = make_weights(type, n, k, &bytes);
	j->x = malloc(m * k * sizeof(float));
	j->y = malloc(m * n * sizeof(float));
	j->aq = malloc(m * k);
	j->ad = malloc(m * (k / 32 + 1) * sizeof(float));
	j->xh = malloc(m * FVL_F16_ROW_STRIDE(k) * 2);
	if (!j->w || !j->x || !j->y || !j->aq || !j->ad || !j->xh)
		return -1;
	for (size_t i = 0; i < m * k; i++)
		j->x[i] = (float)(rnd() >> 40) * 0x1p-24f - 0.5f;
	if (type == FVL_WTYPE_Q4_0 || type == FVL_WTYPE_Q8_0)
		kt->f32_q8_quant(m, k, j->x, k, j->aq, j->ad);
	if (type == FVL_WTYPE_F16 && kt->f16p16) { /* packed at load, as fvl_linear_init does */
		if (!(j->wp = malloc(fvl_pack_f16p16_size(n, k) * 2)))
			return -1;
		fvl_pack_f16p16(j->w, n, k, j->wp);
	}
	return 0;
}

static void job_free(struct job *j)
{
	free(j->w);
	free(j->x);
	free(j->y);
	free(j->aq);
	free(j->ad);
	free(j->xh);
	free(j->wp);
	if (j->xnn)
		xnn_delete_operator(j->xnn);
}

/* One kernel call on the calling thread, or split over pool. */
static void job_run(const struct job *j, const struct fvl_kernels *kt, struct fvl_pool *pool)
{
	if (j->xnn && j->type == FVL_WTYPE_F32) {
		xnn_setup_fully_connected_nc_f32(j->xnn, j->m, j->x, j->y, fvl_pool_xnn(pool));
		xnn_run_operator(j->xnn, fvl_pool_xnn(pool));
	} else if (j->xnn) { /* f16 in and out (y holds m x n halves) */
		(kt->f32_f16_quant ? kt->f32_f16_quant : fvl_f32_f16_quant__scalar)(
		        j->m, j->k, j->x, j->k, j->xh, j->ad);
		xnn_setup_fully_connected_nc_f16(j->xnn, j->m, j->xh, j->y, fvl_pool_xnn(pool));
		xnn_run_operator(j->xnn, fvl_pool_xnn(pool));
	} else if (j->type == FVL_WTYPE_Q4_0 || j->type == FVL_WTYPE_Q8_0) {
		fvl_x4_q8_gemm_fn fn =
		        j->type == FVL_WTYPE_Q4_0 ? kt->q4_0x4_q8_gemm : kt->q8_0x4_q8_gemm;
		if (pool)
			fvl_pool_x4_q8_gemm(pool, fn, j->type, j->k, j->n, j->w, j->m, j->aq, j->ad,
			                    j->y, j->n);
		else
			fn(j->k, j->n, j->w, j->m, j->aq, j->ad, j->y, j->n);
	} else if (j->type == FVL_WTYPE_F16 &&
	           kt->f16p16_f16_gemm) { /* as fvl_linear_forward: convert, then GEMM */
		kt->f32_f16_quant(j->m, j->k, j->x, j->k, j->xh, j->ad);
		if (pool)
			fvl_pool_f16_gemm(pool, kt->f16p16_f16_gemm, j->k, j->n, j->wp, NULL, j->m,
			                  j->xh, j->ad, j->y, j->n);
		else
			kt->f16p16_f16_gemm(j->k, j->n, j->wp, NULL, j->m, j->xh, j->ad, j->y,
			                    j->n);
	} else {
		fvl_f32_gemm_fn fn = j->type == FVL_WTYPE_F32 ? kt->f32_f32_gemm
		                     : j->wp                  ? kt->f16p16_f32_gemm
		                                              : kt->f16_f32_gemm;
		const void *w = j->type == FVL_WTYPE_F16 && j->wp ? (const void *)j->wp : j->w;
		if (pool)
			fvl_pool_f32_gemm(pool, fn, j->type, j->k, j->n, w, NULL, j->m, j->x, j->k,
			                  j->y, j->n);
		else
			fn(j->k, j->n, w, NULL, j->m, j->x, j->k, j->y, j->n);
	}
}

/* The kernel layer's weight type named s ("q4_0", "q8_0", "f32", "f16"), or -1. */
static int parse_type(const char *s)
{
	static const char *const names[] = {[FVL_WTYPE_F32] = "f32",
	                                    [FVL_WTYPE_F16] = "f16",
	                                    [FVL_WTYPE_Q8_0] = "q8_0",
	                                    [FVL_WTYPE_Q4_0] = "q4_0"};
	for (int t = 0; t < (int)(sizeof(names) / sizeof(names[0])); t++)
		if (strcmp(s, names[t]) == 0)
			return t;
	return -1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int native(size_t threads)
{
	struct fvl_cpu cpu;
	struct fvl_kernels kt;
	struct fvl_pool *pool;
	fvl_cpu_detect(&cpu);
	fvl_kernels_init(&kt, &cpu, getenv("FVL_ISA"));
	if (fvl_pool_init(threads, &pool) != FVL_STATUS_OK)
		return 1;
	printf("native: %s, kernel variant %s, %zu threads\n\n", cpu.arch, fvl_isa_name(kt.isa),
	       fvl_pool_threads(pool));
	const double bw = fvl_pool_read_bandwidth(pool, 512u << 20);
	printf("memory read bandwidth (probe): %.1f GB/s\n\n", bw);
	printf("| op | K x N | M | ms | GB/s of weights | %% of probe | GOP/s "
	       "|\n|---|---|---|---|---|---|---|\n");
	static const struct {
		const char *t;
		size_t k, n, m;
	} cases[] = {
	        {"q4_0", 3072, 9216, 1},   {"q8_0", 3072, 9216, 1},  {"q4_0", 8192, 3072, 1},
	        {"q4_0", 4096, 14336, 1},  {"f16", 3072, 3072, 1},   {"q4_0", 3072, 9216, 577},
	        {"q8_0", 3072, 9216, 577}, {"f32", 1024, 4096, 577}, {"f16", 1024, 4096, 577},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct job j;
		const enum fvl_wtype type = (enum fvl_wtype)parse_type(cases[c].t);
		if (job_init(&j, type, cases[c].k, cases[c].n, cases[c].m, &kt) != 0)
			return 1;
		size_t bytes;
		free(make_weights(type, 4, 32,
		                  &bytes)); /* keep the rng stream independent of sizes */
		size_t wbytes = type == FVL_WTYPE_F32   ? j.n * j.k * 4
		                : type == FVL_WTYPE_F16 ? j.n * j.k * 2
		                                        : fvl_pack_x4_size(type, j.n, j.k);
		job_run(&j, &kt, pool); /* warm up */
		int reps = cases[c].m == 1 ? 20 : 2;
		double best = 1e30;
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			if (type == FVL_WTYPE_Q4_0 || type == FVL_WTYPE_Q8_0)
				kt.f32_q8_quant(j.m, j.k, j.x, j.k, j.aq,
				                j.ad); /* part of the op */
			job_run(&j, &kt, pool);
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		double gbs = (double)wbytes / best / 1e9;
		double gops = 2.0 * (double)j.m * (double)j.n * (double)j.k / best / 1e9;
		printf("| %s | %zu x %zu | %zu | %.2f | %.1f | %.0f%% | %.1f |\n", cases[c].t, j.k,
		       j.n, j.m, best * 1e3, gbs, 100.0 * gbs / bw, gops);
		job_free(&j);
	}
	fvl_pool_free(pool);
	return 0;
}

/* REPS calls of the attention kernel: m queries, n keys, 4 heads of hd, f32 K and V in one
 * qkv row as the vision side lays them out. */
static int run_attn(const struct fvl_kernels *kt, size_t hd, size_t n, size_t m, size_t reps)
{
	const size_t heads = 4, c = heads * hd, rows = m > n ? m : n;
	float *qkv = malloc(rows * 3 * c * sizeof(float)), *o = malloc(m * c * sizeof(float));
	if (!qkv || !o || hd > FVL_ATTN_MAX_HEAD_DIM) {
		free(qkv), free(o);
		return 1;
	}
	for (size_t i = 0; i < rows * 3 * c; i++)
		qkv[i] = (float)(rnd() >> 40) * 0x1p-24f - 0.5f;
	const struct fvl_attn_args a = {.n_q = m,
	                                .n_kv = n,
	                                .n_heads = heads,
	                                .n_kv_heads = heads,
	                                .head_dim = hd,
	                                .q = qkv,
	                                .ldq = 3 * c,
	                                .k = qkv + c,
	                                .v = qkv + 2 * c,
	                                .ldk = 3 * c,
	                                .ldv = 3 * c,
	                                .scale = 1.0f / sqrtf((float)hd),
	                                .o = o,
	                                .ldo = c,
	                                .head0 = 0,
	                                .head1 = heads};
	for (size_t r = 0; r < reps; r++)
		kt->attn(&a);
	printf("%s attn: %zu calls\n", fvl_kernel_name(kt, "attn"), reps);
	free(qkv), free(o);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "run") == 0 && strcmp(argv[2], "attn") == 0) {
		struct fvl_cpu cpu;
		struct fvl_kernels kt;
		fvl_cpu_detect(&cpu);
		if (fvl_kernels_init(&kt, &cpu, argc > 7 ? argv[7] : NULL) != FVL_KERNELS_OK) {
			fprintf(stderr, "bench-kernels: bad variant\n");
			return 2;
		}
		return run_attn(&kt, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
		                strtoull(argv[5], NULL, 10), strtoull(argv[6], NULL, 10));
	}
	if (argc >= 7 && strcmp(argv[1], "run") == 0) {
		struct fvl_cpu cpu;
		struct fvl_kernels kt;
		struct job j;
		const bool xnn = strncmp(argv[2], "xnn-", 4) == 0;
		int type = parse_type(xnn ? argv[2] + 4 : argv[2]);
		size_t k = strtoull(argv[3], NULL, 10), n = strtoull(argv[4], NULL, 10);
		size_t m = strtoull(argv[5], NULL, 10), reps = strtoull(argv[6], NULL, 10);
		fvl_cpu_detect(&cpu);
		if (type < 0 || k % 32 || !n || !m ||
		    fvl_kernels_init(&kt, &cpu, argc > 7 ? argv[7] : NULL) != FVL_KERNELS_OK) {
			fprintf(stderr, "bench-kernels: bad arguments or variant\n");
			return 2;
		}
		if (job_init(&j, (enum fvl_wtype)type, k, n, m, &kt) != 0 ||
		    (xnn && job_xnn(&j) != 0))
			return 1;
		for (size_t r = 0; r < reps; r++)
			job_run(&j, &kt, NULL);
		printf("%s %s: %zu calls\n",
		       xnn                      ? "xnnpack fully_connected"
		       : type == FVL_WTYPE_Q4_0 ? fvl_kernel_name(&kt, "q4_0x4_q8_gemm")
		       : type == FVL_WTYPE_Q8_0 ? fvl_kernel_name(&kt, "q8_0x4_q8_gemm")
		       : type == FVL_WTYPE_F32  ? fvl_kernel_name(&kt, "f32_f32_gemm")
		       : kt.f16p16_f16_gemm     ? fvl_kernel_name(&kt, "f16p16_f16_gemm")
		       : kt.f16p16              ? fvl_kernel_name(&kt, "f16p16_f32_gemm")
		                                : fvl_kernel_name(&kt, "f16_f32_gemm"),
		       argv[2], reps);
		job_free(&j);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "native") == 0)
		return native(argc > 2 ? strtoull(argv[2], NULL, 10) : 0);
	fprintf(stderr, "usage: bench-kernels run OP K N M REPS [ISA] | native [THREADS]\n");
	return 2;
}
