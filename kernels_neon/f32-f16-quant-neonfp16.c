/* f32-f16-quant-neonfp16.c — f32 activation rows to f16 rows, each scaled by a power of two (max
 * |x| in [2, 4)), for the fp16-arithmetic GEMM, with NEON fp16 conversions; bit-exact with the
 * scalar twin. Built with +fp16; aarch64 only. */
#include <math.h>

#include "kernels.h"
#include "neon.h"

void fvl_f32_f16_quant__neonfp16(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                                 float *xs)
{
	const size_t kp = FVL_F16_ROW_STRIDE(k);
	for (size_t i = 0; i < m; i++) {
		const float *r = x + i * ldx;
		float32x4_t mx = vdupq_n_f32(0.0f);
		size_t e = 0;
		for (; e + 4 <= k; e += 4)
			mx = vmaxnmq_f32(mx, vabsq_f32(vld1q_f32(r + e)));
		float amax = vmaxnmvq_f32(mx);
		for (; e < k; e++)
			if (fabsf(r[e]) > amax)
				amax = fabsf(r[e]);
		int ex = fvl_f16_row_exponent(amax);
		const float s = ldexpf(1.0f, -ex);
		xs[i] = ldexpf(1.0f, ex);
		__fp16 *h = (__fp16 *)(xh + i * kp);
		const float32x4_t vs = vdupq_n_f32(s);
		for (e = 0; e + 8 <= k; e += 8) {
			float16x4_t lo = vcvt_f16_f32(vmulq_f32(vld1q_f32(r + e), vs));
			float16x8_t v = vcvt_high_f16_f32(lo, vmulq_f32(vld1q_f32(r + e + 4), vs));
			vst1q_f16(h + e, v);
		}
		for (; e < k; e++)
			h[e] = (__fp16)(r[e] * s);
		for (; e < kp; e++)
			h[e] = 0;
	}
}
