/* qgemm-common.h — the loop structure shared by the NEON quantized GEMM/GEMV variants (x4-packed
 * weights, q8 activations): chunks of weight groups kept in cache while every tile of up to four
 * activation rows passes over them. The including file defines, before including this header:
 *   BLOCK_T        the packed block type
 *   UNPACK(b, w)   loads block b's quants into int8x16_t w[8] (4-byte chunks of the 4 rows)
 *   DOT(w, a)      int32x4_t: the 4 rows' dot products with the 32 int8 at a
 *   OUT_SCALE      factor on the result (1/16 when UNPACK leaves q4 values times 16)
 *   KERNEL_NAME    the function's name
 *   STRIP_ROWS     (optional, 12) GEMM activation rows per strip: the variant's DOT is cheap enough
 *                  that sharing each unpacked weight block across 8 rows pays; the rows are first
 *                  copied block-major (a block's rows and their scales contiguous, 4096 values of
 *                  k at a time) so they load as pairs and the scales as vectors
 * qgemm-variants.h includes it twice, for Q4_0 and Q8_0. */
#include "qgemm-x4.h"

#define GROUP_CHUNK 8 /* groups of 4 rows per cache chunk */

/* MT act rows (1..4) against one group of 4 weight rows; accumulators are named variables so
 * they stay in registers. */
#define ACC_STEP(MT, i, accv)                                                                     \
	if (MT > i)                                                                               \
		accv = vfmaq_f32(accv, vcvtq_f32_s32(DOT(w, aq + (size_t)i * k + b * FVL_QK)),     \
		                 vmulq_n_f32(wd, ad[(size_t)i * nb + b]));
#define TILE(MT)                                                                                  \
	static inline void tile_##MT(size_t nb, const BLOCK_T *g, const int8_t *aq, size_t k,     \
	                             const float *ad, float *y, size_t ldy, size_t valid)          \
	{                                                                                         \
		float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;      \
		for (size_t b = 0; b < nb; b++) {                                                 \
			int8x16_t w[8];                                                           \
			UNPACK(&g[b], w);                                                         \
			const float32x4_t wd = fvl_load_f16x4(g[b].d);                            \
			ACC_STEP(MT, 0, acc0) ACC_STEP(MT, 1, acc1)                               \
			ACC_STEP(MT, 2, acc2) ACC_STEP(MT, 3, acc3)                               \
		}                                                                                 \
		store_rows(y, vmulq_n_f32(acc0, OUT_SCALE), valid);                               \
		if (MT > 1) store_rows(y + ldy, vmulq_n_f32(acc1, OUT_SCALE), valid);             \
		if (MT > 2) store_rows(y + 2 * ldy, vmulq_n_f32(acc2, OUT_SCALE), valid);         \
		if (MT > 3) store_rows(y + 3 * ldy, vmulq_n_f32(acc3, OUT_SCALE), valid);         \
	}
TILE(1)
TILE(2)
TILE(3)
TILE(4)

#ifdef STRIP_ROWS
#define STRIP_KC 4096        /* k per strip: 12 rows x 4096 = 48 KB (+ 6 KB of scales) */
#define STRIP_GROUP_CHUNK 32 /* groups of 4 weight rows per cache chunk; strips refill per chunk */
#ifndef FVL_QGEMM_STRIP_DEFINED
#define FVL_QGEMM_STRIP_DEFINED
struct strip {
	int8_t q[STRIP_ROWS * STRIP_KC]; /* block b, row r at (b * STRIP_ROWS + r) * 32 */
	float d[STRIP_ROWS * (STRIP_KC / FVL_QK)];
};

/* Blocks b0 .. b0 + nbc of `rows` activation rows (row stride k) into s. */
static void fill_strip(size_t k, size_t b0, size_t nbc, size_t rows, const int8_t *aq,
                       const float *ad, struct strip *s)
{
	const size_t nb = k / FVL_QK;
	for (size_t b = 0; b < nbc; b++)
		for (size_t r = 0; r < STRIP_ROWS; r++) {
			int8_t *q = s->q + (b * STRIP_ROWS + r) * FVL_QK;
			if (r < rows)
				memcpy(q, aq + r * k + (b0 + b) * FVL_QK, FVL_QK);
			s->d[b * STRIP_ROWS + r] = r < rows ? ad[r * nb + b0 + b] : 0.0f;
		}
}
#endif

#define SACC_STEP(MT, i, accv)                                                                    \
	if (MT > i)                                                                               \
		accv = vfmaq_f32(accv, vcvtq_f32_s32(DOT(w, q + i * FVL_QK)),                     \
		                 vmulq_laneq_f32(wd, i < 4 ? d0 : i < 8 ? d1 : d2, i & 3));
#define STILE(MT)                                                                                 \
	static inline void stile_##MT(size_t nb, const BLOCK_T *g, const struct strip *s,        \
	                              float *y, size_t ldy, size_t valid, bool add)               \
	{                                                                                         \
		float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;      \
		float32x4_t acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;                   \
		float32x4_t acc8 = acc0, acc9 = acc0, acc10 = acc0, acc11 = acc0;                 \
		for (size_t b = 0; b < nb; b++) {                                                 \
			int8x16_t w[8];                                                           \
			UNPACK(&g[b], w);                                                         \
			const float32x4_t wd = fvl_load_f16x4(g[b].d);                            \
			const int8_t *q = s->q + b * STRIP_ROWS * FVL_QK;                         \
			const float32x4_t d2 = vld1q_f32(s->d + b * STRIP_ROWS + 8);              \
			const float32x4_t d0 = vld1q_f32(s->d + b * STRIP_ROWS);                  \
			const float32x4_t d1 = vld1q_f32(s->d + b * STRIP_ROWS + 4);              \
			SACC_STEP(MT, 0, acc0) SACC_STEP(MT, 1, acc1)                             \
			SACC_STEP(MT, 2, acc2) SACC_STEP(MT, 3, acc3)                             \
			SACC_STEP(MT, 4, acc4) SACC_STEP(MT, 5, acc5)                             \
			SACC_STEP(MT, 6, acc6) SACC_STEP(MT, 7, acc7)                             \
			SACC_STEP(MT, 8, acc8) SACC_STEP(MT, 9, acc9)                             \
			SACC_STEP(MT, 10, acc10) SACC_STEP(MT, 11, acc11)                         \
		}                                                                                 \
		const float32x4_t acc[12] = {acc0, acc1, acc2, acc3, acc4, acc5,                  \
		                             acc6, acc7, acc8, acc9, acc10, acc11};               \
		for (size_t i = 0; i < MT; i++)                                                   \
			store_rows_add(y + i * ldy, vmulq_n_f32(acc[i], OUT_SCALE), valid, add);  \
	}
STILE(1)
STILE(2)
STILE(3)
STILE(4)
STILE(5)
STILE(6)
STILE(7)
STILE(8)
STILE(9)
STILE(10)
STILE(11)
STILE(12)

static void strip_gemm(size_t k, size_t n, const BLOCK_T *wb, size_t m, const int8_t *aq,
                       const float *ad, float *y, size_t ldy)
{
	struct strip s;
	const size_t nb = k / FVL_QK;
#define S(MT) case MT: stile_##MT(nbc, gb, &s, yo, ldy, valid, add); break;
	FOR_STRIP_TILES(k, n, m, STRIP_GROUP_CHUNK, STRIP_KC, STRIP_ROWS,
	                fill_strip(k, b0, nbc, rows, aq + i * k, ad + i * nb, &s), {
		const BLOCK_T *gb = wb + g * nb + b0;
		float *yo = y + i * ldy + 4 * g;
		switch (rows) {
		S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
		default: stile_12(nbc, gb, &s, yo, ldy, valid, add); break;
		}
	})
#undef S
}
#endif

/* GEMV: two groups (8 weight rows) per pass share the activation loads. */
static inline void gemv_pair(size_t nb, const BLOCK_T *g0, const BLOCK_T *g1, const int8_t *a,
                             const float *ad, float *y, size_t valid1)
{
	float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
	for (size_t b = 0; b < nb; b++) {
		int8x16_t w0[8], w1[8];
		UNPACK(&g0[b], w0);
		UNPACK(&g1[b], w1);
		const float da = ad[b];
		acc0 = vfmaq_f32(acc0, vcvtq_f32_s32(DOT(w0, a + b * FVL_QK)),
		                 vmulq_n_f32(fvl_load_f16x4(g0[b].d), da));
		acc1 = vfmaq_f32(acc1, vcvtq_f32_s32(DOT(w1, a + b * FVL_QK)),
		                 vmulq_n_f32(fvl_load_f16x4(g1[b].d), da));
	}
	vst1q_f32(y, vmulq_n_f32(acc0, OUT_SCALE));
	store_rows(y + 4, vmulq_n_f32(acc1, OUT_SCALE), valid1);
}

void KERNEL_NAME(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,
                 float *y, size_t ldy)
{
	const BLOCK_T *wb = w;
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4;
	if (m == 1) {
		size_t g = 0;
		for (; g + 2 <= groups; g += 2) {
			const size_t valid1 = n - 4 * (g + 1) < 4 ? n - 4 * (g + 1) : 4;
			gemv_pair(nb, wb + g * nb, wb + (g + 1) * nb, aq, ad, y + 4 * g, valid1);
		}
		if (g < groups)
			tile_1(nb, wb + g * nb, aq, k, ad, y + 4 * g, ldy, n - 4 * g);
		return;
	}
#ifdef STRIP_ROWS
	strip_gemm(k, n, wb, m, aq, ad, y, ldy);
#else
	for (size_t g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
		const size_t g1 = g0 + GROUP_CHUNK < groups ? g0 + GROUP_CHUNK : groups;
		for (size_t i = 0; i < m; i += 4) {
			const size_t mt = m - i < 4 ? m - i : 4;
			for (size_t g = g0; g < g1; g++) {
				const size_t valid = n - 4 * g < 4 ? n - 4 * g : 4;
				const BLOCK_T *gb = wb + g * nb;
				const int8_t *a = aq + i * k;
				const float *d = ad + i * nb;
				float *yo = y + i * ldy + 4 * g;
				switch (mt) {
				case 1: tile_1(nb, gb, a, k, d, yo, ldy, valid); break;
				case 2: tile_2(nb, gb, a, k, d, yo, ldy, valid); break;
				case 3: tile_3(nb, gb, a, k, d, yo, ldy, valid); break;
				default: tile_4(nb, gb, a, k, d, yo, ldy, valid); break;
				}
			}
		}
	}
#endif
}
