/* qgemm-ref.c — scalar twins of the quantized GEMM/GEMV on x4-packed weights: decode each weight,
 * integer dot per 32-block, scale by both block scales, accumulate in float. */
#include "fp16.h"
#include "kernels.h"

/* Weight (row r of the group, element e of the block) of a packed block, as an integer. */
static inline int q4_weight(const struct fvl_block_q4_0x4 *b, int r, int e)
{
	int hi = e >= 16, c = (e & 15) / 4, i = e & 3;
	uint8_t byte = b->qs[16 * c + 4 * r + i] ^ 0x88;
	return (hi ? byte >> 4 : byte & 15) - 8;
}

static inline int q8_weight(const struct fvl_block_q8_0x4 *b, int r, int e)
{
	return b->qs[16 * (e / 4) + 4 * r + (e & 3)];
}

#define QGEMM_REF(name, block_t, weight)                                                        \
	void name(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,  \
	          float *y, size_t ldy)                                                             \
	{                                                                                           \
		const block_t *wb = w;                                                              \
		const size_t nb = k / FVL_QK;                                                       \
		for (size_t i = 0; i < m; i++) {                                                    \
			for (size_t j = 0; j < n; j++) {                                            \
				const block_t *g = wb + (j / 4) * nb;                               \
				const int r = (int)(j % 4);                                         \
				float sum = 0.0f;                                                   \
				for (size_t b = 0; b < nb; b++) {                                   \
					int32_t s = 0;                                              \
					for (int e = 0; e < FVL_QK; e++)                            \
						s += weight(&g[b], r, e) * aq[i * k + b * FVL_QK + (size_t)e]; \
					sum += (float)s * (fvl_fp16_to_fp32(g[b].d[r]) * ad[i * nb + b]); \
				}                                                                   \
				y[i * ldy + j] = sum;                                               \
			}                                                                           \
		}                                                                                   \
	}

QGEMM_REF(fvl_q4_0x4_q8_gemm__scalar, struct fvl_block_q4_0x4, q4_weight)
QGEMM_REF(fvl_q8_0x4_q8_gemm__scalar, struct fvl_block_q8_0x4, q8_weight)
