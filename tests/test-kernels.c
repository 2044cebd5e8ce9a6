/* test-kernels.c — every NEON kernel variant against its scalar twin over awkward shapes. A variant
 * that this CPU (or this build) cannot run is reported as skipped, never passed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "gguf.h"
#include "kernels.h"
#include "linear.h"
#include "pool.h"
#include "rng.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static bool quick(void)
{
	const char *q = getenv("FVL_TEST_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

static void fill(struct rng *r, float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (rng_f32(r) * 2.0f - 1.0f) * scale;
}

/* The kernel tables of every variant this CPU and build can run (scalar first). */
static int variants(struct fvl_kernels *k)
{
	struct fvl_cpu cpu;
	int n = 0;
	fvl_cpu_detect(&cpu);
	for (int i = 0; i < FVL_ISA_N; i++)
		if (fvl_kernels_init(&k[n], &cpu, fvl_isa_name((enum fvl_isa)i)) == FVL_KERNELS_OK)
			n++;
	return n;
}

/* Largest |a - b| / (scale) over n values, scale = max(floor, |b|) per element. */
static double rel_err(const float *a, const float *b, size_t n, double floor_)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]), s = fabs((double)b[i]);
		if (!(d == d)) /* nan */
			return INFINITY;
		d /= s > floor_ ? s : floor_;
		if (d > worst)
			worst = d;
	}
	return worst;
}

/* ---- activation quantization ------------------------------------------------------------------ */

static void test_q8_quant_variants_are_bit_exact(void)
{
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {7};
	static const size_t ks[] = {32, 96, 3072};
	for (size_t t = 0; t < 3; t++) {
		const size_t m = 3, kk = ks[t];
		float *x = malloc(m * kk * sizeof(float));
		int8_t *q0 = malloc(m * kk), *q1 = malloc(m * kk);
		float *d0 = malloc(m * kk / 32 * sizeof(float)),
		      *d1 = malloc(m * kk / 32 * sizeof(float));
		T_ASSERT(x && q0 && q1 && d0 && d1, "oom");
		fill(&r, x, m * kk, 3.0f);
		x[0] = 127.0f;
		x[1] = 2.5f;
		x[2] = -2.5f;
		x[3] = 0.5f; /* exact halves: round to even */
		for (size_t j = 32; j < 64 && j < kk; j++)
			x[j] = 0.0f; /* an all-zero block */
		fvl_f32_q8_quant__scalar(m, kk, x, kk, q0, d0);
		T_ASSERT(q0[1] == 2 && q0[2] == -2 && q0[3] == 0 && d0[0] == 1.0f,
		         "round half even");
		for (int v = 1; v < nv; v++) {
			k[v].f32_q8_quant(m, kk, x, kk, q1, d1);
			T_ASSERT(memcmp(q0, q1, m * kk) == 0 &&
			                 memcmp(d0, d1, m * kk / 32 * sizeof(float)) == 0,
			         "%s differs from the scalar twin at k=%zu",
			         fvl_kernel_name(&k[v], "f32_q8_quant"), kk);
		}
		free(x);
		free(q0);
		free(q1);
		free(d0);
		free(d1);
	}
	t_note("%d variants bit-exact with the scalar twin (incl. halves and zero blocks)", nv - 1);
}

/* ---- quantized GEMM ---------------------------------------------------------------------------- */

struct qcase {
	size_t m, n, k;
};

/* Random weights quantized to type, packed; random activations quantized. Runs every variant of
 * the op and compares with the scalar twin; checks the twin against float math on dequantized
 * values once. */
static void check_qgemm(enum fvl_wtype type, enum fvl_isa isa)
{
	static const struct qcase cases[] = {
	        {1, 1, 32},   {1, 3, 64},    {1, 7, 256},   {2, 4, 96},    {3, 31, 128},
	        {4, 33, 64},  {5, 8, 32},    {7, 257, 64},  {8, 12, 160},  {31, 5, 64},
	        {33, 9, 96},  {1, 4, 4096},  {3, 5, 16384}, {1, 64, 3072}, {17, 40, 512},
	        {9, 140, 64}, {2, 4, 16416},
	};
	struct fvl_kernels k[2];
	struct fvl_cpu cpu;
	fvl_cpu_detect(&cpu);
	if (fvl_kernels_init(&k[1], &cpu, fvl_isa_name(isa)) != FVL_KERNELS_OK)
		T_SKIP("%s: this CPU or build cannot run it", fvl_isa_name(isa));
	const int nv = 2;
	struct rng r = {11};
	double worst[2] = {0};
	const char *tname = type == FVL_WTYPE_Q4_0 ? "q4_0" : "q8_0";
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const size_t m = cases[c].m, n = cases[c].n, kk = cases[c].k, nb = kk / 32;
		if (quick() && m * n * kk > 2000000)
			continue;
		float *wf = malloc(n * kk * sizeof(float)), *x = malloc(m * kk * sizeof(float));
		void *wq = malloc(n * nb * 34), *wp = malloc(fvl_pack_x4_size(type, n, kk));
		int8_t *aq = malloc(m * kk);
		float *ad = malloc(m * nb * sizeof(float)), *y0 = malloc(m * n * sizeof(float));
		float *y1 = malloc(m * n * sizeof(float));
		T_ASSERT(wf && x && wq && wp && aq && ad && y0 && y1, "oom");
		fill(&r, wf, n * kk, 1.0f);
		fill(&r, x, m * kk, 2.0f);
		if (type == FVL_WTYPE_Q4_0) {
			fvl_quantize_row_q4_0(wf, wq, n * kk);
			fvl_pack_q4_0x4(wq, n, kk, wp);
		} else {
			fvl_quantize_row_q8_0(wf, wq, n * kk);
			fvl_pack_q8_0x4(wq, n, kk, wp);
		}
		fvl_f32_q8_quant__scalar(m, kk, x, kk, aq, ad);
		fvl_x4_q8_gemm_fn ref = type == FVL_WTYPE_Q4_0 ? fvl_q4_0x4_q8_gemm__scalar
		                                               : fvl_q8_0x4_q8_gemm__scalar;
		ref(kk, n, wp, m, aq, ad, y0, n);
		/* The twin itself against float math on the dequantized operands. */
		if (c == 4) {
			float *wd = malloc(n * kk * sizeof(float));
			T_ASSERT(wd, "oom");
			if (type == FVL_WTYPE_Q4_0)
				fvl_dequantize_row_q4_0(wq, wd, n * kk);
			else
				fvl_dequantize_row_q8_0(wq, wd, n * kk);
			for (size_t i = 0; i < m; i++)
				for (size_t j = 0; j < n; j++) {
					double s = 0;
					for (size_t e = 0; e < kk; e++)
						s += (double)wd[j * kk + e] * aq[i * kk + e] *
						     ad[i * nb + e / 32];
					T_ASSERT(fabs(s - y0[i * n + j]) <= 1e-4 * (1 + fabs(s)),
					         "%s twin (%zu,%zu): %g vs %g", tname, i, j,
					         y0[i * n + j], s);
				}
			free(wd);
		}
		for (int v = 1; v < nv; v++) {
			fvl_x4_q8_gemm_fn fn =
			        type == FVL_WTYPE_Q4_0 ? k[v].q4_0x4_q8_gemm : k[v].q8_0x4_q8_gemm;
			const char *name = type == FVL_WTYPE_Q4_0
			                           ? fvl_kernel_name(&k[v], "q4_0x4_q8_gemm")
			                           : fvl_kernel_name(&k[v], "q8_0x4_q8_gemm");
			for (size_t i = 0; i < m * n; i++)
				y1[i] = NAN;
			fn(kk, n, wp, m, aq, ad, y1, n);
			double e = rel_err(y1, y0, m * n, 1.0);
			if (e > worst[v])
				worst[v] = e;
			T_ASSERT(e < 2e-5,
			         "%s m=%zu n=%zu k=%zu: error %.3g against the scalar twin", name,
			         m, n, kk, e);
		}
		free(wf);
		free(x);
		free(wq);
		free(wp);
		free(aq);
		free(ad);
		free(y0);
		free(y1);
	}
	t_note("%s: worst relative error %.2g over %zu shapes%s",
	       type == FVL_WTYPE_Q4_0 ? fvl_kernel_name(&k[1], "q4_0x4_q8_gemm")
	                              : fvl_kernel_name(&k[1], "q8_0x4_q8_gemm"),
	       worst[1], sizeof(cases) / sizeof(cases[0]),
	       quick() ? " (FVL_TEST_QUICK: the largest skipped)" : "");
}

/* The f16p16 packing against its definition (kernels.h): value k = e of column c of panel p at
 * (p k + e) 16 + c, zeros past n; n from 1 to 37 (full and partial panels), k around the
 * 8-value steps. */
static void test_f16p16_packing_matches_its_definition(void)
{
	static const size_t ks[] = {1, 7, 8, 9, 16, 23, 64, 100};
	struct rng r = {29};
	for (size_t n = 1; n <= 37; n++)
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
			const size_t k = ks[ki], size = fvl_pack_f16p16_size(n, k);
			uint16_t *w = malloc(n * k * 2), *dst = malloc(size * 2);
			T_ASSERT(w && dst, "oom");
			for (size_t i = 0; i < n * k; i++)
				w[i] = (uint16_t)(rng_f32(&r) * 65536.0f);
			T_ASSERT(size == (n + 15) / 16 * 16 * k, "size");
			memset(dst, 0x5a, size * 2);
			fvl_pack_f16p16(w, n, k, dst);
			for (size_t j = 0; j < (n + 15) / 16 * 16; j++)
				for (size_t e = 0; e < k; e++) {
					const uint16_t got = dst[((j / 16) * k + e) * 16 + j % 16];
					const uint16_t want = j < n ? w[j * k + e] : 0;
					T_ASSERT(got == want,
					         "n=%zu k=%zu column %zu k %zu: %u, want %u", n, k,
					         j, e, got, want);
				}
			free(w);
			free(dst);
		}
}

/* The x4 packing against its definition (kernels.h), byte by byte: chunk c of row r at bytes
 * 16c + 4r of its group's block, Q4_0 bytes XORed with 0x88, the last group padded with zero
 * scales and zero bytes (for Q4_0 nibbles 8 ^ 8, which decode to 0); n from 1 to 13 (whole and
 * padded groups), 1 and 3 blocks per row. */
static void test_x4_packing_matches_its_definition(void)
{
	struct rng r = {23};
	for (int q4 = 0; q4 < 2; q4++)
		for (size_t n = 1; n <= 13; n++)
			for (size_t nb = 1; nb <= 3; nb += 2) {
				const size_t k = 32 * nb, sb = q4 ? 18 : 34, qb = q4 ? 16 : 32;
				const size_t gb = q4 ? 72 : 136, groups = (n + 3) / 4;
				uint8_t *src = malloc(n * nb * sb), *dst = malloc(groups * nb * gb);
				T_ASSERT(src && dst, "oom");
				for (size_t i = 0; i < n * nb * sb; i++)
					src[i] = (uint8_t)(rng_f32(&r) * 256.0f);
				const enum fvl_wtype t = q4 ? FVL_WTYPE_Q4_0 : FVL_WTYPE_Q8_0;
				T_ASSERT(fvl_pack_x4_size(t, n, k) == groups * nb * gb, "size");
				memset(dst, 0x5a, groups * nb * gb);
				if (q4)
					fvl_pack_q4_0x4((const void *)src, n, k, (void *)dst);
				else
					fvl_pack_q8_0x4((const void *)src, n, k, (void *)dst);
				for (size_t row = 0; row < 4 * groups; row++)
					for (size_t b = 0; b < nb; b++) {
						const uint8_t *blk = dst +
						                     ((row / 4) * nb + b) * gb,
						              *sblk = src + (row * nb + b) * sb;
						const size_t rr = row % 4;
						uint16_t d, want_d = 0;
						memcpy(&d, blk + 2 * rr, 2);
						if (row < n)
							memcpy(&want_d, sblk, 2);
						T_ASSERT(d == want_d,
						         "%s n=%zu row %zu block %zu: scale",
						         q4 ? "q4_0" : "q8_0", n, row, b);
						for (size_t e = 0; e < qb; e++) {
							const uint8_t got = blk[8 + 16 * (e / 4) +
							                        4 * rr + e % 4];
							uint8_t want =
							        0; /* padding (Q4_0: 8 ^ 8, value 0) */
							if (row < n)
								want = sblk[2 + e] ^
								       (q4 ? 0x88 : 0);
							T_ASSERT(got == want,
							         "%s n=%zu row %zu block %zu byte "
							         "%zu: %u, want %u",
							         q4 ? "q4_0" : "q8_0", n, row, b, e,
							         got, want);
						}
					}
				free(src);
				free(dst);
			}
}

static void test_q4_0_gemm_baseline_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_BASELINE);
}
static void test_q4_0_gemm_dotprod_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_DOTPROD);
}
static void test_q4_0_gemm_i8mm_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_I8MM);
}
static void test_q8_0_gemm_baseline_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_BASELINE);
}
static void test_q8_0_gemm_dotprod_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_DOTPROD);
}
static void test_q8_0_gemm_i8mm_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_I8MM);
}
static void test_q4_0_gemm_avx2_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_AVX2);
}
static void test_q8_0_gemm_avx2_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_AVX2);
}
static void test_q4_0_gemm_avxvnni_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_AVXVNNI);
}
static void test_q8_0_gemm_avxvnni_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_AVXVNNI);
}
static void test_q4_0_gemm_avx512vnni_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q4_0, FVL_ISA_AVX512VNNI);
}
static void test_q8_0_gemm_avx512vnni_matches_the_twin(void)
{
	check_qgemm(FVL_WTYPE_Q8_0, FVL_ISA_AVX512VNNI);
}

static void test_qgemm_threads_give_the_same_bits(void)
{
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {5};
	const size_t m = 3, n = 100, kk = 256, nb = kk / 32;
	float *wf = malloc(n * kk * sizeof(float)), *x = malloc(m * kk * sizeof(float));
	void *wq = malloc(n * nb * 18), *wp = malloc(fvl_pack_x4_size(FVL_WTYPE_Q4_0, n, kk));
	int8_t *aq = malloc(m * kk);
	float *ad = malloc(m * nb * sizeof(float)), *y0 = malloc(m * n * 4),
	      *y1 = malloc(m * n * 4);
	T_ASSERT(wf && x && wq && wp && aq && ad && y0 && y1, "oom");
	fill(&r, wf, n * kk, 1.0f);
	fill(&r, x, m * kk, 1.0f);
	fvl_quantize_row_q4_0(wf, wq, n * kk);
	fvl_pack_q4_0x4(wq, n, kk, wp);
	k[nv - 1].f32_q8_quant(m, kk, x, kk, aq, ad);
	k[nv - 1].q4_0x4_q8_gemm(kk, n, wp, m, aq, ad, y0, n);
	for (size_t t = 1; t <= 4; t++) {
		struct fvl_pool *pool;
		T_ASSERT(fvl_pool_init(t, &pool) == FVL_STATUS_OK, "pool");
		memset(y1, 0, m * n * 4);
		fvl_pool_x4_q8_gemm(pool, k[nv - 1].q4_0x4_q8_gemm, FVL_WTYPE_Q4_0, kk, n, wp, m,
		                    aq, ad, y1, n);
		fvl_pool_free(pool);
		T_ASSERT(memcmp(y0, y1, m * n * 4) == 0, "%zu threads differ", t);
	}
	/* float GEMM through the pool too */
	float *w32 = malloc(n * kk * 4), *b = malloc(n * 4);
	T_ASSERT(w32 && b, "oom");
	fill(&r, w32, n * kk, 1.0f);
	fill(&r, b, n, 1.0f);
	k[nv - 1].f32_f32_gemm(kk, n, w32, b, m, x, kk, y0, n);
	for (size_t t = 1; t <= 4; t++) {
		struct fvl_pool *pool;
		T_ASSERT(fvl_pool_init(t, &pool) == FVL_STATUS_OK, "pool");
		fvl_pool_f32_gemm(pool, k[nv - 1].f32_f32_gemm, FVL_WTYPE_F32, kk, n, w32, b, m, x,
		                  kk, y1, n);
		fvl_pool_free(pool);
		T_ASSERT(memcmp(y0, y1, m * n * 4) == 0, "f32 gemm: %zu threads differ", t);
	}
	t_note("%s and %s: 1-4 threads bit-identical",
	       fvl_kernel_name(&k[nv - 1], "q4_0x4_q8_gemm"),
	       fvl_kernel_name(&k[nv - 1], "f32_f32_gemm"));
	free(wf);
	free(x);
	free(wq);
	free(wp);
	free(aq);
	free(ad);
	free(y0);
	free(y1);
	free(w32);
	free(b);
}

/* ---- float GEMM --------------------------------------------------------------------------------- */

static void test_float_gemm_variants_match_the_twin(void)
{
	static const struct qcase cases[] = {
	        {1, 1, 1},    {1, 3, 5},    {2, 7, 33},   {3, 4, 64}, {4, 33, 17},
	        {5, 31, 100}, {9, 65, 256}, {1, 257, 96}, {17, 9, 3},
	};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {3};
	double worst = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const size_t m = cases[c].m, n = cases[c].n, kk = cases[c].k;
		float *w = malloc(n * kk * 4), *x = malloc(m * (kk + 3) * 4), *b = malloc(n * 4);
		uint16_t *wh = malloc(n * kk * 2);
		float *y0 = malloc(m * (n + 2) * 4), *y1 = malloc(m * (n + 2) * 4);
		T_ASSERT(w && x && b && wh && y0 && y1, "oom");
		fill(&r, w, n * kk, 1.0f);
		fill(&r, x, m * (kk + 3), 1.0f);
		fill(&r, b, n, 1.0f);
		for (size_t i = 0; i < n * kk; i++)
			wh[i] = fvl_fp32_to_fp16(w[i]);
		for (int f16 = 0; f16 < 2; f16++) {
			for (int bias = 0; bias < 2; bias++) {
				/* strided input (ldx = k + 3) and output (ldy = n + 2) */
				(f16 ? fvl_f16_f32_gemm__scalar : fvl_f32_f32_gemm__scalar)(
				        kk, n, f16 ? (void *)wh : w, bias ? b : NULL, m, x, kk + 3,
				        y0, n + 2);
				for (int v = 1; v < nv; v++) {
					(f16 ? k[v].f16_f32_gemm : k[v].f32_f32_gemm)(
					        kk, n, f16 ? (void *)wh : w, bias ? b : NULL, m, x,
					        kk + 3, y1, n + 2);
					for (size_t i = 0; i < m; i++) {
						double e =
						        rel_err(y1 + i * (n + 2), y0 + i * (n + 2),
						                n, sqrt((double)kk));
						if (e > worst)
							worst = e;
						T_ASSERT(
						        e < 1e-5,
						        "%s m=%zu n=%zu k=%zu: error %.3g",
						        f16 ? fvl_kernel_name(&k[v], "f16_f32_gemm")
						            : fvl_kernel_name(&k[v],
						                              "f32_f32_gemm"),
						        m, n, kk, e);
					}
				}
			}
		}
		free(w);
		free(x);
		free(b);
		free(wh);
		free(y0);
		free(y1);
	}
	t_note("f32 and f16-weight GEMM: worst error %.2g (relative to sqrt(k)), with bias and "
	       "strides",
	       worst);
}

/* f16 weights in panels, f32 arithmetic: every variant against the twin, and the twin against the
 * row-major twin (the same sums in the same order, so the same bits: this checks the packing). */
static void test_f16_panel_gemm_variants_match_the_twin(void)
{
	static const struct qcase cases[] = {
	        {1, 1, 1},    {1, 3, 5},    {2, 7, 33},   {3, 16, 64}, {4, 17, 17},
	        {5, 31, 100}, {9, 65, 256}, {1, 257, 96}, {17, 9, 3},  {4, 48, 1027},
	};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {17};
	double worst = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const size_t m = cases[c].m, n = cases[c].n, kk = cases[c].k;
		float *x = malloc(m * (kk + 3) * 4), *b = malloc(n * 4);
		float *y0 = malloc(m * (n + 2) * 4), *y1 = malloc(m * (n + 2) * 4);
		uint16_t *wh = malloc(n * kk * 2), *wp = malloc(fvl_pack_f16p16_size(n, kk) * 2);
		T_ASSERT(x && b && y0 && y1 && wh && wp, "oom");
		for (size_t i = 0; i < n * kk; i++)
			wh[i] = fvl_fp32_to_fp16((rng_f32(&r) * 2.0f - 1.0f));
		fill(&r, x, m * (kk + 3), 1.0f);
		fill(&r, b, n, 1.0f);
		fvl_pack_f16p16(wh, n, kk, wp);
		const float *bb =
		        c % 2 ? b : NULL; /* with and without bias, full and partial panels */
		fvl_f16_f32_gemm__scalar(kk, n, wh, bb, m, x, kk + 3, y0, n + 2);
		fvl_f16p16_f32_gemm__scalar(kk, n, wp, bb, m, x, kk + 3, y1, n + 2);
		for (size_t i = 0; i < m; i++)
			T_ASSERT(memcmp(y0 + i * (n + 2), y1 + i * (n + 2), n * 4) == 0,
			         "panel twin differs from the row-major twin: m=%zu n=%zu k=%zu", m,
			         n, kk);
		for (int v = 1; v < nv; v++) {
			k[v].f16p16_f32_gemm(kk, n, wp, bb, m, x, kk + 3, y1, n + 2);
			for (size_t i = 0; i < m; i++) {
				double e = rel_err(y1 + i * (n + 2), y0 + i * (n + 2), n,
				                   sqrt((double)kk));
				if (e > worst)
					worst = e;
				T_ASSERT(e < 1e-5, "%s m=%zu n=%zu k=%zu: error %.3g",
				         fvl_kernel_name(&k[v], "f16p16_f32_gemm"), m, n, kk, e);
			}
		}
		free(x);
		free(b);
		free(y0);
		free(y1);
		free(wh);
		free(wp);
	}
	t_note("f16 panel GEMM (f32 arithmetic): worst error %.2g (relative to sqrt(k)), strided, "
	       "with and without bias",
	       worst);
}

/* ---- fp16-arithmetic GEMM ------------------------------------------------------------------------ */

/* The variants whose table has the fp16 path (dotprod tier on a core with FEAT_FP16). */
static int fp16_variants(struct fvl_kernels *k)
{
	struct fvl_kernels all[FVL_ISA_N];
	int nv = variants(all), n = 0;
	for (int v = 0; v < nv; v++)
		if (all[v].f16p16_f16_gemm)
			k[n++] = all[v];
	return n;
}

static void test_f16_act_variants_are_bit_exact(void)
{
	static const size_t ks[] = {1, 7, 8, 9, 33, 768, 3075};
	static const float mags[] = {1.0f, 1e5f, 3e-6f, 0.0f};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = fp16_variants(k);
	if (nv == 0)
		T_SKIP("no fp16-arithmetic variant on this CPU or build");
	struct rng r = {11};
	for (size_t c = 0; c < sizeof(ks) / sizeof(ks[0]); c++) {
		const size_t kk = ks[c], kp = FVL_F16_ROW_STRIDE(kk), m = 5, ldx = kk + 2;
		float *x = malloc(m * ldx * 4), xs0[5], xs1[5];
		uint16_t *h0 = malloc(m * kp * 2), *h1 = malloc(m * kp * 2);
		T_ASSERT(x && h0 && h1, "oom");
		for (size_t i = 0; i < m; i++)
			fill(&r, x + i * ldx, ldx, mags[i % 4]);
		if (kk > 3)
			x[4 * ldx + 3] = NAN; /* ignored by the max, kept as a value */
		fvl_f32_f16_quant__scalar(m, kk, x, ldx, h0, xs0);
		for (size_t i = 0; i < 4; i++) { /* the twin's contract: max |xh| in [2, 4] */
			float mx = 0;
			for (size_t e = 0; e < kk; e++)
				mx = fmaxf(mx, fabsf(fvl_fp16_to_fp32(h0[i * kp + e])));
			T_ASSERT(mags[i % 4] == 0 ? mx == 0 && xs0[i] == 1 : mx >= 2 && mx <= 4,
			         "k=%zu row %zu: max |xh| %g, inverse scale %g", kk, i, mx, xs0[i]);
		}
		for (int v = 0; v < nv; v++) {
			memset(h1, 0xff, m * kp * 2);
			k[v].f32_f16_quant(m, kk, x, ldx, h1, xs1);
			T_ASSERT(memcmp(h0, h1, m * kp * 2) == 0 &&
			                 memcmp(xs0, xs1, sizeof(xs0)) == 0,
			         "%s k=%zu: differs from the twin",
			         fvl_kernel_name(&k[v], "f32_f16_quant"), kk);
		}
		free(x);
		free(h0);
		free(h1);
	}
}

static void test_hgemm_matches_the_twin(void)
{
	static const struct qcase cases[] = {
	        {1, 1, 8},    {1, 3, 5},    {2, 7, 33}, {3, 4, 64},   {4, 33, 17},   {5, 31, 100},
	        {9, 65, 256}, {1, 257, 96}, {17, 9, 3}, {4, 8, 3072}, {1, 5, 16384},
	};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = fp16_variants(k);
	if (nv == 0)
		T_SKIP("no fp16-arithmetic variant on this CPU or build");
	struct rng r = {13};
	double worst = 0, worst_f32 = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const size_t m = cases[c].m, n = cases[c].n, kk = cases[c].k,
		             kp = FVL_F16_ROW_STRIDE(kk);
		float *x = malloc(m * kk * 4), *b = malloc(n * 4), *xs = malloc(m * 4);
		float *y0 = malloc(m * (n + 2) * 4), *y1 = malloc(m * (n + 2) * 4),
		      *yf = malloc(m * n * 4);
		uint16_t *wh = malloc(n * kk * 2), *xh = malloc(m * kp * 2);
		uint16_t *wp = malloc(fvl_pack_f16p16_size(n, kk) * 2);
		T_ASSERT(x && b && xs && y0 && y1 && yf && wh && xh && wp, "oom");
		for (size_t i = 0; i < m;
		     i++) /* rows from 1e-3 to 1e5: unscaled, 1e5 overflows f16 */
			fill(&r, x + i * kk, kk, i % 3 == 0 ? 1e5f : i % 3 == 1 ? 1.0f : 1e-3f);
		for (size_t i = 0; i < n * kk; i++)
			wh[i] = fvl_fp32_to_fp16((rng_f32(&r) * 2.0f - 1.0f) * 0.5f);
		fill(&r, b, n, 1.0f);
		fvl_pack_f16p16(wh, n, kk, wp);
		fvl_f32_f16_quant__scalar(m, kk, x, kk, xh, xs);
		fvl_f16_f32_gemm__scalar(kk, n, wh, b, m, x, kk, yf, n);
		for (int bias = 0; bias < 2; bias++) {
			fvl_f16p16_f16_gemm__scalar(kk, n, wp, bias ? b : NULL, m, xh, xs, y0,
			                            n + 2);
			for (int v = 0; v < nv; v++) {
				k[v].f16p16_f16_gemm(kk, n, wp, bias ? b : NULL, m, xh, xs, y1,
				                     n + 2);
				for (size_t i = 0; i < m; i++)
					for (size_t j = 0; j < n; j++) {
						double mag =
						        0; /* sum |terms|: what f16 rounding scales with */
						for (size_t e = 0; e < kk; e++)
							mag += fabs(
							        fvl_fp16_to_fp32(wh[j * kk + e]) *
							        fvl_fp16_to_fp32(xh[i * kp + e]) *
							        xs[i]);
						const double want = y0[i * (n + 2) + j],
						             got = y1[i * (n + 2) + j];
						const double e = fabs(got - want) / (mag + 1e-30);
						if (e > worst)
							worst = e;
						T_ASSERT(e < 4e-3,
						         "%s m=%zu n=%zu k=%zu (%zu, %zu): %.9g, "
						         "twin %.9g",
						         fvl_kernel_name(&k[v], "f16p16_f16_gemm"),
						         m, n, kk, i, j, got, want);
						if (bias) { /* end to end against the f32-activation path */
							const double ef =
							        fabs(got - yf[i * n + j]) /
							        (mag + 1e-30);
							if (ef > worst_f32)
								worst_f32 = ef;
							T_ASSERT(ef < 5e-3,
							         "%s m=%zu n=%zu k=%zu: %.9g, f32 "
							         "path %.9g",
							         fvl_kernel_name(&k[v],
							                         "f16p16_f16_gemm"),
							         m, n, kk, got, yf[i * n + j]);
						}
					}
			}
		}
		free(x);
		free(b);
		free(xs);
		free(y0);
		free(y1);
		free(yf);
		free(wh);
		free(xh);
		free(wp);
	}
	t_note("fp16-arithmetic GEMM: worst error %.2g vs its twin, %.2g vs the f32-activation "
	       "path "
	       "(relative to sum |terms|), rows 1e-3..1e5",
	       worst, worst_f32);
}

/* ---- elementwise --------------------------------------------------------------------------------- */

static void test_elementwise_variants_match_the_twin(void)
{
	static const size_t ns[] = {1, 3, 4, 7, 31, 33, 257, 3072};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {13};
	double w_gelu = 0, w_silu = 0, w_soft = 0, w_norm = 0;
	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		const size_t n = ns[t], m = 2;
		float *x = malloc(m * n * 4), *u = malloc(m * n * 4), *g = malloc(n * 4),
		      *b = malloc(n * 4);
		float *y0 = malloc(m * n * 4), *y1 = malloc(m * n * 4);
		T_ASSERT(x && u && g && b && y0 && y1, "oom");
		fill(&r, x, m * n, 6.0f);
		fill(&r, u, m * n, 2.0f);
		fill(&r, g, n, 1.5f);
		fill(&r, b, n, 0.5f);
		x[0] = -12.0f; /* GELU far tail */
		for (int v = 1; v < nv; v++) {
			double e;
#define CMP(call0, call1, floor_, worst_, what)                                                    \
	call0;                                                                                     \
	call1;                                                                                     \
	e = rel_err(y1, y0, m * n, floor_);                                                        \
	if (e > worst_)                                                                            \
		worst_ = e;                                                                        \
	T_ASSERT(e < 2e-6 * 4, "%s n=%zu: error %.3g", what, n, e);
			CMP(fvl_gelu__scalar(m * n, x, y0), k[v].gelu(m * n, x, y1), 1.0, w_gelu,
			    fvl_kernel_name(&k[v], "gelu"))
			CMP(fvl_silu_mul__scalar(m * n, x, u, y0), k[v].silu_mul(m * n, x, u, y1),
			    1.0, w_silu, fvl_kernel_name(&k[v], "silu_mul"))
			CMP(fvl_layernorm__scalar(m, n, x, g, b, 1e-5f, y0),
			    k[v].layernorm(m, n, x, g, b, 1e-5f, y1), 1.0, w_norm,
			    fvl_kernel_name(&k[v], "layernorm"))
			CMP(fvl_rmsnorm__scalar(m, n, x, g, 1e-5f, y0),
			    k[v].rmsnorm(m, n, x, g, 1e-5f, y1), 1.0, w_norm,
			    fvl_kernel_name(&k[v], "rmsnorm"))
			CMP((memcpy(y0, x, m * n * 4), fvl_softmax__scalar(m, n, y0, 0.7f)),
			    (memcpy(y1, x, m * n * 4), k[v].softmax(m, n, y1, 0.7f)), 1e-3, w_soft,
			    fvl_kernel_name(&k[v], "softmax"))
			CMP(fvl_add__scalar(m * n, x, u, y0), k[v].add(m * n, x, u, y1), 1.0,
			    w_norm, fvl_kernel_name(&k[v], "add"))
			CMP(fvl_add__scalar(m * n, x, u, y0), /* in place, as residuals run */
			    (memcpy(y1, x, m * n * 4), k[v].add(m * n, y1, u, y1)), 1.0, w_norm,
			    fvl_kernel_name(&k[v], "add"))
			CMP(fvl_scale__scalar(m * n, x, 0.3f, y0), k[v].scale(m * n, x, 0.3f, y1),
			    1.0, w_norm, fvl_kernel_name(&k[v], "scale"))
#undef CMP
		}
		free(x);
		free(u);
		free(g);
		free(b);
		free(y0);
		free(y1);
	}
	t_note("worst errors: gelu %.2g, silu*mul %.2g, softmax %.2g, norms/add/scale %.2g", w_gelu,
	       w_silu, w_soft, w_norm);
}

/* GELU over a dense grid of [-10, 10], the clamp at |x| / sqrt(2) = 4.1 and the far tails:
 * within 1.5e-6 of the twin (libm's erff), absolute below |y| = 1, relative above. */
static void test_gelu_variants_are_accurate_everywhere(void)
{
	enum { N = 20003 };
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	static float x[N], y0[N], y1[N];
	for (size_t i = 0; i < N - 3; i++)
		x[i] = -10.0f + 20.0f * (float)i / (float)(N - 4);
	x[N - 3] = -4.1f * 1.41421356f, x[N - 2] = -1e30f, x[N - 1] = 1e30f;
	fvl_gelu__scalar(N, x, y0);
	double worst = 0;
	for (int v = 1; v < nv; v++) {
		k[v].gelu(N, x, y1);
		for (size_t i = 0; i < N; i++) {
			const double e = fabs((double)y1[i] - y0[i]) / fmax(1.0, fabs(y0[i]));
			worst = e > worst ? e : worst;
			T_ASSERT(e < 1.5e-6, "%s: gelu(%g) = %.9g, twin %.9g",
			         fvl_kernel_name(&k[v], "gelu"), x[i], y1[i], y0[i]);
		}
	}
	t_note("gelu: worst error %.2g on [-10, 10] and the tails", worst);
}

/* The softmax's exp (x - max <= 0) over its whole range: rows (0, x) for x on a dense grid of
 * [-100, 0], so the second output is e^x / (1 + e^x); within 1e-6 of double relative where e^x is
 * a normal float (x > -87), below 1e-37 where it is clamped, and exactly 1/2 at x = 0. */
static void test_softmax_exp_is_accurate_everywhere(void)
{
	enum { N = 12801 };
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	static float row[2 * N];
	double worst = 0;
	for (int v = 1; v < nv; v++) {
		for (size_t i = 0; i < N; i++)
			row[2 * i] = 0.0f, row[2 * i + 1] = -100.0f * (float)i / (float)(N - 1);
		k[v].softmax(N, 2, row, 1.0f);
		for (size_t i = 0; i < N; i++) {
			const double xf = -100.0f * (float)i / (float)(N - 1), ex = exp(xf),
			             want = ex / (1.0 + ex), got = row[2 * i + 1];
			if (xf > -87.0) {
				const double e = fabs(got - want) / want;
				worst = e > worst ? e : worst;
				T_ASSERT(e < 1e-6, "%s: softmax(0, %g)[1] = %.9g, want %.9g",
				         fvl_kernel_name(&k[v], "softmax"), xf, got, want);
			} else {
				T_ASSERT(got >= 0 && got < 1e-37, "%s: softmax(0, %g)[1] = %g",
				         fvl_kernel_name(&k[v], "softmax"), xf, got);
			}
		}
		T_ASSERT(row[1] == 0.5f, "%s: softmax(0, 0) = %.9g",
		         fvl_kernel_name(&k[v], "softmax"), row[1]);
	}
	t_note("softmax exp: worst relative error %.2g on [-87, 0]", worst);
}

/* Channel attention's kernels against their twins: the Gram matrix adds a tile's sums into what
 * g holds, over token rows ld apart; the apply pass over strided values and outputs; n on and
 * off the NEON paths' multiples (8 and 16, at most 64), token counts around the 4-row tiles. */
static void test_gram_variants_match_the_twin(void)
{
	static const size_t ms[] = {1, 3, 4, 7, 256, 301};
	static const size_t ns[] = {5, 8, 16, 24, 32, 48, 64, 80};
	struct fvl_kernels k[FVL_ISA_N];
	const int nv = variants(k);
	struct rng r = {31};
	double worst = 0;
	for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++)
		for (size_t b = 0; b < sizeof(ns) / sizeof(ns[0]); b++) {
			const size_t m = ms[a], n = ns[b], ld = 3 * n + 5, ldo = n + 3;
			float *x = malloc(m * ld * 4), *g0 = malloc(n * n * 4),
			      *g1 = malloc(n * n * 4);
			float *o0 = malloc(m * ldo * 4), *o1 = malloc(m * ldo * 4);
			T_ASSERT(x && g0 && g1 && o0 && o1, "oom");
			fill(&r, x, m * ld, 1.0f);
			fill(&r, g0, n * n, 1.0f);
			memcpy(g1, g0, n * n * 4);
			fvl_gram__scalar(m, n, x, x + n, ld, g0);
			fvl_gram_apply__scalar(m, n, g0, x + 2 * n, ld, o0, ldo);
			for (int v = 1; v < nv; v++) {
				float *gv = malloc(n * n * 4);
				T_ASSERT(gv, "oom");
				memcpy(gv, g1, n * n * 4);
				k[v].gram(m, n, x, x + n, ld, gv);
				double e = rel_err(gv, g0, n * n, sqrt((double)m));
				worst = e > worst ? e : worst;
				T_CHECK(e < 1e-5, "%s m=%zu n=%zu: error %.3g",
				        fvl_kernel_name(&k[v], "gram"), m, n, e);
				for (size_t i = 0; i < m * ldo; i++)
					o1[i] = -7.0f; /* the gaps between rows stay as they were */
				k[v].gram_apply(m, n, g0, x + 2 * n, ld, o1, ldo);
				for (size_t i = 0; i < m; i++) {
					e = rel_err(o1 + i * ldo, o0 + i * ldo, n, sqrt((double)n));
					worst = e > worst ? e : worst;
					T_CHECK(e < 1e-5, "%s m=%zu n=%zu row %zu: error %.3g",
					        fvl_kernel_name(&k[v], "gram_apply"), m, n, i, e);
					for (size_t j = n; j < ldo && i + 1 < m; j++)
						T_CHECK(o1[i * ldo + j] == -7.0f,
						        "%s wrote past row %zu's %zu values",
						        fvl_kernel_name(&k[v], "gram_apply"), i, n);
				}
				free(gv);
			}
			free(x), free(g0), free(g1), free(o0), free(o1);
		}
	t_note("gram and gram_apply: worst error %.2g over %zu token counts x %zu widths", worst,
	       sizeof(ms) / sizeof(ms[0]), sizeof(ns) / sizeof(ns[0]));
}

static void test_rope_and_dwconv_variants_match_the_twin(void)
{
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {17};
	static const size_t hds[] = {16, 24, 96, 128};
	for (size_t t = 0; t < 4; t++) {
		const size_t hd = hds[t], heads = 3, m = 5, ld = heads * hd + 4, half = hd / 2;
		float *x = malloc(m * ld * 4), *x0 = malloc(m * ld * 4), *x1 = malloc(m * ld * 4);
		float *ct = malloc(64 * half * 4), *st = malloc(64 * half * 4);
		int32_t pos[5] = {0, 1, 7, 63, 2};
		T_ASSERT(x && x0 && x1 && ct && st, "oom");
		fill(&r, x, m * ld, 2.0f);
		for (size_t p = 0; p < 64; p++)
			for (size_t i = 0; i < half; i++) {
				ct[p * half + i] = cosf(
				        (float)p * powf(10000.0f, -2.0f * (float)i / (float)hd));
				st[p * half + i] = sinf(
				        (float)p * powf(10000.0f, -2.0f * (float)i / (float)hd));
			}
		memcpy(x0, x, m * ld * 4);
		fvl_rope__scalar(m, heads, hd, hd, x0, ld, pos, ct, st);
		for (int v = 1; v < nv; v++) {
			memcpy(x1, x, m * ld * 4);
			k[v].rope(m, heads, hd, hd, x1, ld, pos, ct, st);
			T_ASSERT(rel_err(x1, x0, m * ld, 1.0) < 1e-6, "%s head_dim %zu",
			         fvl_kernel_name(&k[v], "rope"), hd);
		}
		free(x);
		free(x0);
		free(x1);
		free(ct);
		free(st);
	}
	static const size_t dims[][3] = {{1, 1, 1},    {3, 5, 7},  {8, 8, 32}, {12, 9, 33},
	                                 {24, 24, 64}, {2, 1, 12}, {1, 7, 20}};
	for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
		const size_t h = dims[t][0], w = dims[t][1], c = dims[t][2];
		float *x = malloc(h * w * c * 4), *kk = malloc(9 * c * 4), *b = malloc(c * 4);
		float *y0 = malloc(h * w * c * 4), *y1 = malloc(h * w * c * 4);
		T_ASSERT(x && kk && b && y0 && y1, "oom");
		fill(&r, x, h * w * c, 1.0f);
		fill(&r, kk, 9 * c, 1.0f);
		fill(&r, b, c, 1.0f);
		fvl_dwconv3x3__scalar(h, w, c, 0, h, x, kk, b, y0);
		for (int v = 1; v < nv; v++) {
			/* in two row ranges, as threads split it (the first may be empty) */
			const size_t cut = h / 3;
			memset(y1, 0xff, h * w * c * 4);
			k[v].dwconv3x3(h, w, c, 0, cut, x, kk, b, y1);
			k[v].dwconv3x3(h, w, c, cut, h, x, kk, t == 2 ? NULL : b, y1);
			if (t == 2) /* no bias on the second range: compare against the twin's */
				fvl_dwconv3x3__scalar(h, w, c, cut, h, x, kk, NULL, y0);
			T_ASSERT(rel_err(y1, y0, h * w * c, 1.0) < 1e-6, "%s %zux%zux%zu",
			         fvl_kernel_name(&k[v], "dwconv3x3"), h, w, c);
			if (t == 2)
				fvl_dwconv3x3__scalar(h, w, c, 0, h, x, kk, b, y0);
		}
		free(x);
		free(kk);
		free(b);
		free(y0);
		free(y1);
	}
}

/* ---- attention ------------------------------------------------------------------------------------ */

static void test_attention_variants_match_the_twin(void)
{
	static const struct {
		size_t n_q, n_kv, heads, kv_heads, hd, q_pos0;
		bool causal;
	} cases[] = {
	        {1, 1, 4, 4, 16, 0, true},
	        {1, 100, 4, 4, 24, 99, true},
	        {17, 17, 2, 2, 64, 0, true},
	        {5, 200, 8, 2, 32, 195, true},
	        {9, 9, 3, 3, 32, 0, false},
	        {31, 31, 4, 1, 128, 0, false},
	        {3, 130, 32, 8, 128, 127, true},
	        {2, 70, 2, 2, 96, 0, false},
	        /* query tiles: partial tiles, causal limits inside and across key blocks */
	        {150, 190, 6, 2, 16, 40, true},
	        {144, 144, 4, 4, 32, 0, false},
	        {13, 77, 2, 1, 20, 64, true},
	        {100, 100, 3, 3, 48, 0, true},
	        {12, 131, 2, 2, 24, 0, false},
	        /* several key blocks (the block holds 16384 / head_dim keys, at most 512) */
	        {20, 300, 4, 2, 128, 280, true},
	        {17, 150, 2, 2, 256, 0, false},
	        {37, 701, 2, 2, 36, 0, false},
	};
	struct fvl_kernels k[FVL_ISA_N];
	int nv = variants(k);
	struct rng r = {19};
	double worst = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const size_t nq = cases[c].n_q, nk = cases[c].n_kv, hd = cases[c].hd;
		const size_t qw = cases[c].heads * hd, kvw = cases[c].kv_heads * hd;
		float *q = malloc(nq * qw * 4), *kf = malloc(nk * kvw * 4),
		      *vf = malloc(nk * kvw * 4);
		uint16_t *kh = malloc(nk * kvw * 2), *vh = malloc(nk * kvw * 2);
		float *o0 = malloc(nq * qw * 4), *o1 = malloc(nq * qw * 4);
		T_ASSERT(q && kf && vf && kh && vh && o0 && o1, "oom");
		fill(&r, q, nq * qw, 1.0f);
		fill(&r, kf, nk * kvw, 1.0f);
		fill(&r, vf, nk * kvw, 1.0f);
		for (size_t i = 0; i < nk * kvw; i++) {
			kh[i] = fvl_fp32_to_fp16(kf[i]);
			vh[i] = fvl_fp32_to_fp16(vf[i]);
		}
		for (int f16 = 0; f16 < 2; f16++) {
			struct fvl_attn_args a = {
			        .n_q = nq,
			        .n_kv = nk,
			        .n_heads = cases[c].heads,
			        .n_kv_heads = cases[c].kv_heads,
			        .head_dim = hd,
			        .q = q,
			        .ldq = qw,
			        .k = f16 ? (void *)kh : kf,
			        .v = f16 ? (void *)vh : vf,
			        .ldk = kvw,
			        .ldv = kvw,
			        .kv_f16 = f16,
			        .causal = cases[c].causal,
			        .q_pos0 = cases[c].q_pos0,
			        .scale = 1.0f / sqrtf((float)hd),
			        .o = o0,
			        .ldo = qw,
			        .head0 = 0,
			        .head1 = cases[c].heads,
			};
			fvl_attn__scalar(&a);
			a.o = o1;
			for (int v = 1; v < nv; v++) {
				k[v].attn(&a);
				double e = rel_err(o1, o0, nq * qw, 1.0);
				if (e > worst)
					worst = e;
				T_ASSERT(e < 1e-5, "%s case %zu (kv %s): error %.3g",
				         fvl_kernel_name(&k[v], "attn"), c, f16 ? "f16" : "f32", e);
			}
		}
		free(q);
		free(kf);
		free(vf);
		free(kh);
		free(vh);
		free(o0);
		free(o1);
	}
	t_note("attention (causal/bidirectional, GQA, head_dim 16-256, one and several key blocks, "
	       "KV f32/f16): worst error "
	       "%.2g",
	       worst);
}

/* f32 linears go through XNNPACK where it initializes: same results as the scalar twin. */
static void test_xnnpack_linear_matches_the_twin(void)
{
	if (!fvl_xnnpack_available())
		T_SKIP("XNNPACK does not initialize here (FVL_NO_XNNPACK, or no usable CPU info)");
	const size_t m = 7, k = 96, n = 33;
	struct rng r = {23};
	float *w = malloc(n * k * 4), *b = malloc(n * 4), *x = malloc(m * k * 4);
	float *y0 = malloc(m * n * 4), *y1 = malloc(m * n * 4);
	T_ASSERT(w && b && x && y0 && y1, "oom");
	fill(&r, w, n * k, 1.0f);
	fill(&r, b, n, 1.0f);
	fill(&r, x, m * k, 1.0f);
	struct fvl_linear l = {.type = FVL_WTYPE_F32, .n = n, .k = k, .w = w, .bias = b};
	struct fvl_compute compute;
	T_ASSERT(fvl_compute_init(&compute, 2, NULL) == FVL_STATUS_OK, "compute");
	/* attach through the same path the loader uses */
	fvl_linear_attach_xnnpack(&l);
	T_ASSERT(l.xnn != NULL, "no operator");
	fvl_linear_forward(&compute, &l, m, x, k, y1, n);
	fvl_f32_f32_gemm__scalar(k, n, w, b, m, x, k, y0, n);
	double e = rel_err(y1, y0, m * n, sqrt((double)k));
	fvl_linear_free(&l);
	fvl_compute_free(&compute);
	free(w), free(b), free(x), free(y0), free(y1);
	t_note("XNNPACK f32 fully-connected vs the scalar twin: error %.2g", e);
	T_ASSERT(e < 1e-5, "error %.3g", e);
}

void suite_kernels(void)
{
	T_RUN(test_xnnpack_linear_matches_the_twin);
	T_RUN(test_q8_quant_variants_are_bit_exact);
	T_RUN(test_x4_packing_matches_its_definition);
	T_RUN(test_f16p16_packing_matches_its_definition);
	T_RUN(test_q4_0_gemm_baseline_matches_the_twin);
	T_RUN(test_q4_0_gemm_dotprod_matches_the_twin);
	T_RUN(test_q4_0_gemm_i8mm_matches_the_twin);
	T_RUN(test_q8_0_gemm_baseline_matches_the_twin);
	T_RUN(test_q8_0_gemm_dotprod_matches_the_twin);
	T_RUN(test_q8_0_gemm_i8mm_matches_the_twin);
	T_RUN(test_q4_0_gemm_avx2_matches_the_twin);
	T_RUN(test_q8_0_gemm_avx2_matches_the_twin);
	T_RUN(test_q4_0_gemm_avxvnni_matches_the_twin);
	T_RUN(test_q8_0_gemm_avxvnni_matches_the_twin);
	T_RUN(test_q4_0_gemm_avx512vnni_matches_the_twin);
	T_RUN(test_q8_0_gemm_avx512vnni_matches_the_twin);
	T_RUN(test_qgemm_threads_give_the_same_bits);
	T_RUN(test_float_gemm_variants_match_the_twin);
	T_RUN(test_f16_panel_gemm_variants_match_the_twin);
	T_RUN(test_f16_act_variants_are_bit_exact);
	T_RUN(test_hgemm_matches_the_twin);
	T_RUN(test_elementwise_variants_match_the_twin);
	T_RUN(test_gelu_variants_are_accurate_everywhere);
	T_RUN(test_softmax_exp_is_accurate_everywhere);
	T_RUN(test_rope_and_dwconv_variants_match_the_twin);
	T_RUN(test_gram_variants_match_the_twin);
	T_RUN(test_attention_variants_match_the_twin);
}
