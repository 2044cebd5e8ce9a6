/* f32-f16-quant-scalar.c — scalar twin of f32 rows to power-of-two-scaled f16 rows (the
 * fp16-arithmetic path's activations). */
#include <math.h>

#include "fp16.h"
#include "kernels.h"

void fvl_f32_f16_quant__scalar(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                               float *xs)
{
	const size_t kp = FVL_F16_ROW_STRIDE(k);
	for (size_t i = 0; i < m; i++) {
		const float *r = x + i * ldx;
		float amax = 0.0f;
		for (size_t e = 0; e < k; e++)
			if (fabsf(r[e]) > amax) /* false for nan: nan is ignored, as fmaxnm does */
				amax = fabsf(r[e]);
		const int ex = fvl_f16_row_exponent(amax);
		const float s = ldexpf(1.0f, -ex);
		xs[i] = ldexpf(1.0f, ex);
		for (size_t e = 0; e < kp; e++)
			xh[i * kp + e] = e < k ? fvl_fp32_to_fp16(r[e] * s) : 0;
	}
}
