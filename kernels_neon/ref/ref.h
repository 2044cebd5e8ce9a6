/* ref.h — what the scalar twins share: one weight of each layout, as a float or an integer. */
#ifndef FVL_REF_H
#define FVL_REF_H

#include "fp16.h"
#include "kernels.h"

/* W[j][e] of n x k weights: row-major f32 or f16, or f16 in the f16p16 layout. */
static inline float ref_w_f32(const void *w, size_t k, size_t j, size_t e)
{
	return ((const float *)w)[j * k + e];
}

static inline float ref_w_f16(const void *w, size_t k, size_t j, size_t e)
{
	return fvl_fp16_to_fp32(((const uint16_t *)w)[j * k + e]);
}

static inline float ref_w_f16p16(const void *w, size_t k, size_t j, size_t e)
{
	const size_t c = FVL_F16P16_COLS;
	return fvl_fp16_to_fp32(((const uint16_t *)w)[(j / c) * c * k + e * c + j % c]);
}

/* y[i*ldy + j] = sum_e W[j][e] x[i][e] (+ bias[j]), W read through weight. */
static inline void ref_f32_gemm(float (*weight)(const void *, size_t, size_t, size_t), size_t k,
                                size_t n, const void *w, const float *bias, size_t m,
                                const float *x, size_t ldx, float *y, size_t ldy)
{
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			float s = 0.0f;
			for (size_t e = 0; e < k; e++)
				s += weight(w, k, j, e) * x[i * ldx + e];
			y[i * ldy + j] = s + (bias ? bias[j] : 0.0f);
		}
}

/* Weight e (0..31) of row r (0..3) of an x4 block, as an integer. */
static inline int ref_q4_0x4(const void *block, int r, int e)
{
	const struct fvl_block_q4_0x4 *b = block;
	int hi = e >= 16, c = (e & 15) / 4, i = e & 3;
	uint8_t byte = b->qs[16 * c + 4 * r + i] ^ 0x88;
	return (hi ? byte >> 4 : byte & 15) - 8;
}

static inline int ref_q8_0x4(const void *block, int r, int e)
{
	const struct fvl_block_q8_0x4 *b = block;
	return b->qs[16 * (e / 4) + 4 * r + (e & 3)];
}

/* The x4 GEMM's definition: integer dot per 32-block, scaled by both block scales, accumulated in
 * float. q4: the blocks are fvl_block_q4_0x4, else fvl_block_q8_0x4. */
static inline void ref_x4_q8_gemm(bool q4, size_t k, size_t n, const void *w, size_t m,
                                  const int8_t *aq, const float *ad, float *y, size_t ldy)
{
	const size_t nb = k / FVL_QK;
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			const int r = (int)(j % 4);
			float sum = 0.0f;
			for (size_t b = 0; b < nb; b++) {
				const void *blk = (const uint8_t *)w + ((j / 4) * nb + b) * bytes;
				const uint16_t *d = blk; /* both block types start with d[4] */
				int32_t s = 0;
				for (int e = 0; e < FVL_QK; e++)
					s += (q4 ? ref_q4_0x4(blk, r, e) : ref_q8_0x4(blk, r, e)) *
					     aq[i * k + b * FVL_QK + (size_t)e];
				sum += (float)s * (fvl_fp16_to_fp32(d[r]) * ad[i * nb + b]);
			}
			y[i * ldy + j] = sum;
		}
	}
}

#endif /* FVL_REF_H */
