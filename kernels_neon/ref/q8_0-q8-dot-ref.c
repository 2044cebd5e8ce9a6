/* q8_0-q8-dot-ref.c — scalar twin of the Q8_0 x Q8_0 dot product: the definition the NEON
 * variants are tested against. */
#include "fp16.h"
#include "kernels.h"

float fvl_q8_0_q8_dot__scalar(size_t n, const struct fvl_block_q8_0 *x,
                              const struct fvl_block_q8_0 *y)
{
	float sum = 0.0f;
	for (size_t b = 0; b < n / FVL_QK; b++) {
		int32_t sumi = 0;
		for (int j = 0; j < FVL_QK; j++)
			sumi += (int32_t)x[b].qs[j] * (int32_t)y[b].qs[j];
		sum += (float)sumi * (fvl_fp16_to_fp32(x[b].d) * fvl_fp16_to_fp32(y[b].d));
	}
	return sum;
}
