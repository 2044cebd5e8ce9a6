/* f16p16-f16-gemm-scalar.c — scalar twin of the fp16-arithmetic path's GEMM: f16p16 weights times
 * the scaled f16 activation rows of fvl_f32_f16_quant, summed in f32, times the row's inverse
 * scale. */
#include "ref.h"

void fvl_f16p16_f16_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                 const uint16_t *xh, const float *xs, float *y, size_t ldy)
{
	const size_t kp = FVL_F16_ROW_STRIDE(k);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			float s = 0.0f;
			for (size_t e = 0; e < k; e++)
				s += ref_w_f16p16(w, k, j, e) * fvl_fp16_to_fp32(xh[i * kp + e]);
			y[i * ldy + j] = s * xs[i] + (bias ? bias[j] : 0.0f);
		}
}
