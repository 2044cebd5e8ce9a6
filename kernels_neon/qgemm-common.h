/* qgemm-common.h — the loop structure shared by the NEON quantized GEMM/GEMV variants (x4-packed
 * weights, q8 activations): chunks of weight groups kept in cache while every tile of up to four
 * activation rows passes over them. The including file defines, before including this header:
 *   BLOCK_T        the packed block type
 *   UNPACK(b, w)   loads block b's quants into int8x16_t w[8] (4-byte chunks of the 4 rows)
 *   DOT(w, a)      int32x4_t: the 4 rows' dot products with the 32 int8 at a
 *   OUT_SCALE      factor on the result (1/16 when UNPACK leaves q4 values times 16)
 *   KERNEL_NAME    the function's name
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
}
