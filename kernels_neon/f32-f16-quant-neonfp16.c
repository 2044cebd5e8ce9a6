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
		const float *r = x + i * ldx, *p = r;
		float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0, m2 = m0, m3 = m0;
		size_t e = 0;
		for (; e + 16 <= k; e += 16, p += 16) { /* through a pointer: the loads pair up */
			m0 = vmaxnmq_f32(m0, vabsq_f32(vld1q_f32(p)));
			m1 = vmaxnmq_f32(m1, vabsq_f32(vld1q_f32(p + 4)));
			m2 = vmaxnmq_f32(m2, vabsq_f32(vld1q_f32(p + 8)));
			m3 = vmaxnmq_f32(m3, vabsq_f32(vld1q_f32(p + 12)));
		}
		for (; e + 4 <= k; e += 4, p += 4)
			m0 = vmaxnmq_f32(m0, vabsq_f32(vld1q_f32(p)));
		float amax = vmaxnmvq_f32(vmaxnmq_f32(vmaxnmq_f32(m0, m1), vmaxnmq_f32(m2, m3)));
		for (; e < k; e++)
			if (fabsf(r[e]) > amax)
				amax = fabsf(r[e]);
		int ex = fvl_f16_row_exponent(amax);
		const float s = ldexpf(1.0f, -ex);
		xs[i] = ldexpf(1.0f, ex);
		__fp16 *h = (__fp16 *)(xh + i * kp);
		const float32x4_t vs = vdupq_n_f32(s);
		__fp16 *o = h;
		p = r;
		for (e = 0; e + 16 <= k; e += 16, p += 16, o += 16) {
			const float32x4_t a = vld1q_f32(p), b = vld1q_f32(p + 4),
			                  c = vld1q_f32(p + 8), d = vld1q_f32(p + 12);
			vst1q_f16(o, vcvt_high_f16_f32(vcvt_f16_f32(vmulq_f32(a, vs)),
			                               vmulq_f32(b, vs)));
			vst1q_f16(o + 8, vcvt_high_f16_f32(vcvt_f16_f32(vmulq_f32(c, vs)),
			                                   vmulq_f32(d, vs)));
		}
		for (; e + 8 <= k; e += 8, p += 8, o += 8)
			vst1q_f16(o, vcvt_high_f16_f32(vcvt_f16_f32(vmulq_f32(vld1q_f32(p), vs)),
			                               vmulq_f32(vld1q_f32(p + 4), vs)));
		for (; e < k; e++)
			h[e] = (__fp16)(r[e] * s);
		for (; e < kp; e++)
			h[e] = 0;
	}
}
