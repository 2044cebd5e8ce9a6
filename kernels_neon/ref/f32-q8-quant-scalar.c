/* f32-q8-quant-scalar.c — scalar twin of activation quantization: per 32 values one f32 scale
 * d = max|x| / 127, q = round-half-even(x * (1/d)). */
#include <math.h>

#include "kernels.h"

void fvl_f32_q8_quant__scalar(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d)
{
	for (size_t i = 0; i < m; i++) {
		const float *xr = x + i * ldx;
		for (size_t b = 0; b < k / FVL_QK; b++) {
			const float *xb = xr + b * FVL_QK;
			float amax = 0.0f;
			for (int j = 0; j < FVL_QK; j++)
				amax = fmaxf(amax, fabsf(xb[j]));
			const float db = amax / 127.0f;
			const float id = db != 0.0f ? 1.0f / db : 0.0f;
			d[i * (k / FVL_QK) + b] = db;
			for (int j = 0; j < FVL_QK; j++)
				q[i * k + b * FVL_QK + (size_t)j] = (int8_t)nearbyintf(xb[j] * id);
		}
	}
}
