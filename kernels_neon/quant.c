/* quant.c — quantizers and dequantizers for ggml's Q8_0 and Q4_0 blocks, bit-exact with ggml's
 * quantize_row_*_ref (scale from the block's extreme, multiply by the reciprocal, its rounding),
 * so files fvl-quant writes match what ggml tools write. */
#include <math.h>

#include "fp16.h"
#include "kernels.h"

void fvl_quantize_row_q8_0(const float *x, struct fvl_block_q8_0 *y, size_t n)
{
	for (size_t b = 0; b < n / FVL_QK; b++, x += FVL_QK) {
		float amax = 0.0f;
		for (int j = 0; j < FVL_QK; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		const float d = amax / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = fvl_fp32_to_fp16(d);
		for (int j = 0; j < FVL_QK; j++)
			y[b].qs[j] = (int8_t)roundf(x[j] * id);
	}
}

void fvl_quantize_row_q4_0(const float *x, struct fvl_block_q4_0 *y, size_t n)
{
	for (size_t b = 0; b < n / FVL_QK; b++, x += FVL_QK) {
		float amax = 0.0f, max = 0.0f; /* max: the signed value of largest magnitude */
		for (int j = 0; j < FVL_QK; j++) {
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		const float d = max / -8.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = fvl_fp32_to_fp16(d);
		for (int j = 0; j < FVL_QK / 2; j++) {
			int q0 = (int8_t)(x[j] * id + 8.5f);
			int q1 = (int8_t)(x[j + FVL_QK / 2] * id + 8.5f);
			q0 = q0 < 15 ? q0 : 15;
			q1 = q1 < 15 ? q1 : 15;
			y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

void fvl_dequantize_row_q8_0(const struct fvl_block_q8_0 *x, float *y, size_t n)
{
	for (size_t b = 0; b < n / FVL_QK; b++) {
		const float d = fvl_fp16_to_fp32(x[b].d);
		for (int j = 0; j < FVL_QK; j++)
			*y++ = d * (float)x[b].qs[j];
	}
}

void fvl_dequantize_row_q4_0(const struct fvl_block_q4_0 *x, float *y, size_t n)
{
	for (size_t b = 0; b < n / FVL_QK; b++, y += FVL_QK) {
		const float d = fvl_fp16_to_fp32(x[b].d);
		for (int j = 0; j < FVL_QK / 2; j++) {
			y[j] = d * (float)((x[b].qs[j] & 0x0f) - 8);
			y[j + FVL_QK / 2] = d * (float)((x[b].qs[j] >> 4) - 8);
		}
	}
}
