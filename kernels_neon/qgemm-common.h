/* qgemm-common.h — the loop structure shared by the NEON quantized GEMM/GEMV variants (x4-packed
 * weights, q8 activations): chunks of weight groups kept in cache while every tile of up to four
 * activation rows passes over them. The including file defines, before including this header:
 *   BLOCK_T        the packed block type
 *   UNPACK(b, w)   loads block b's quants into int8x16_t w[8] (4-byte chunks of the 4 rows)
 *   DOT(w, a)      int32x4_t: the 4 rows' dot products with the 32 int8 at a
 *   OUT_SCALE      factor on the result (1/16 when UNPACK leaves q4 values times 16)
 *   KERNEL_NAME    the function's name */
#include "kernels.h"
#include "neon.h"

#define GROUP_CHUNK 8 /* groups of 4 rows per cache chunk */

static inline void store_rows(float *y, float32x4_t v, size_t valid)
{
	if (valid >= 4) {
		vst1q_f32(y, v);
		return;
	}
	float t[4];
	vst1q_f32(t, v);
	for (size_t r = 0; r < valid; r++)
		y[r] = t[r];
}

/* MT act rows (1..4) against one group of 4 weight rows. */
#define TILE(MT)                                                                                  \
	static inline void tile_##MT(size_t nb, const BLOCK_T *g, const int8_t *aq, size_t k,     \
	                             const float *ad, float *y, size_t ldy, size_t valid)          \
	{                                                                                         \
		float32x4_t acc[MT];                                                              \
		for (int i = 0; i < MT; i++)                                                      \
			acc[i] = vdupq_n_f32(0.0f);                                               \
		for (size_t b = 0; b < nb; b++) {                                                 \
			int8x16_t w[8];                                                           \
			UNPACK(&g[b], w);                                                         \
			const float32x4_t wd = fvl_load_f16x4(g[b].d);                            \
			for (int i = 0; i < MT; i++) {                                            \
				int32x4_t s = DOT(w, aq + (size_t)i * k + b * FVL_QK);            \
				acc[i] = vfmaq_f32(acc[i], vcvtq_f32_s32(s),                      \
				                   vmulq_n_f32(wd, ad[(size_t)i * nb + b]));      \
			}                                                                         \
		}                                                                                 \
		for (int i = 0; i < MT; i++)                                                      \
			store_rows(y + (size_t)i * ldy, vmulq_n_f32(acc[i], OUT_SCALE), valid);   \
	}
TILE(1)
TILE(2)
TILE(3)
TILE(4)

void KERNEL_NAME(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,
                 float *y, size_t ldy)
{
	const BLOCK_T *wb = w;
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4;
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
