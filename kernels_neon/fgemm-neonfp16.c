/* fgemm-neonfp16.c — f16-weight GEMM with fp16 arithmetic (Cortex-A76/A78AE: Pi 5, Orin): one
 * fmla .8h does 8 multiply-accumulates, twice an f32 fmla. Activations come pre-converted to f16
 * and scaled per row by a power of two (max |x| in [2, 4), fvl_f16_act), so products stay far from
 * the f16 range limit; tiles of 4 weight rows x up to 4 input rows accumulate in f16 for 64 values
 * of k, then reduce into f32 accumulators. Built with +fp16; aarch64 only (SIMDe has no fp16
 * arithmetic). */
#include <math.h>

#include "kernels.h"
#include "neon.h"

#define FLUSH_STEPS 8 /* 8-wide steps summed in f16 before an f32 reduction: 64 values of k */

void fvl_f16_act__neonfp16(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh, float *xs)
{
	const size_t kp = FVL_F16_ACT_STRIDE(k);
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
		int ex = fvl_f16_act_exponent(amax);
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

/* Sum of each of a row's four 8-lane accumulators, as one f32 vector (rows r0..r3). */
static inline float32x4_t reduce4(float16x8_t a0, float16x8_t a1, float16x8_t a2, float16x8_t a3)
{
	float16x8_t s = vpaddq_f16(vpaddq_f16(a0, a1), vpaddq_f16(a2, a3)); /* r0 r0 r1 r1 .. r3 r3 */
	return vcvt_f32_f16(vget_low_f16(vpaddq_f16(s, s)));
}

static inline __attribute__((always_inline)) void
tile(size_t k, size_t nr, const uint16_t *w, const float *bias, size_t mr, const uint16_t *xh,
     size_t kp, const float *xs, float *y, size_t ldy)
{
	const __fp16 *wr[4], *xr[4];
	for (size_t r = 0; r < 4; r++)
		wr[r] = (const __fp16 *)(w + (r < nr ? r : 0) * k);
	for (size_t i = 0; i < mr; i++)
		xr[i] = (const __fp16 *)(xh + i * kp);
	float32x4_t acc[4];
	for (size_t i = 0; i < mr; i++)
		acc[i] = vdupq_n_f32(0.0f);
	const size_t k8 = k & ~(size_t)7;
	for (size_t e0 = 0; e0 < k8; e0 += 8 * FLUSH_STEPS) {
		const size_t e1 = e0 + 8 * FLUSH_STEPS < k8 ? e0 + 8 * FLUSH_STEPS : k8;
		float16x8_t h[4][4], wv[4];
		/* the chunk's first step multiplies, so the accumulators need no zeroing */
		for (size_t r = 0; r < 4; r++)
			wv[r] = vld1q_f16(wr[r] + e0);
		for (size_t i = 0; i < mr; i++) {
			const float16x8_t xv = vld1q_f16(xr[i] + e0);
			for (size_t r = 0; r < 4; r++)
				h[i][r] = vmulq_f16(wv[r], xv);
		}
#pragma GCC unroll 2
		for (size_t e = e0 + 8; e < e1; e += 8) {
			for (size_t r = 0; r < 4; r++)
				wv[r] = vld1q_f16(wr[r] + e);
			for (size_t i = 0; i < mr; i++) {
				const float16x8_t xv = vld1q_f16(xr[i] + e);
				for (size_t r = 0; r < 4; r++)
					h[i][r] = vfmaq_f16(h[i][r], wv[r], xv);
			}
		}
		for (size_t i = 0; i < mr; i++)
			acc[i] = vaddq_f32(acc[i], reduce4(h[i][0], h[i][1], h[i][2], h[i][3]));
	}
	for (size_t i = 0; i < mr; i++) {
		float t[4];
		vst1q_f32(t, acc[i]);
		for (size_t r = 0; r < nr; r++) {
			float v = t[r];
			for (size_t e = k8; e < k; e++) /* k % 8 tail, in f32 */
				v += (float)wr[r][e] * (float)xr[i][e];
			y[i * ldy + r] = v * xs[i] + (bias ? bias[r] : 0.0f);
		}
	}
}

/* constant row counts, so each tile's loops unroll */
static void rows(size_t k, size_t nr, const uint16_t *w, const float *bias, size_t mr,
                 const uint16_t *xh, size_t kp, const float *xs, float *y, size_t ldy)
{
	if (mr == 1)
		tile(k, nr, w, bias, 1, xh, kp, xs, y, ldy);
	else if (mr == 2)
		tile(k, nr, w, bias, 2, xh, kp, xs, y, ldy);
	else if (mr == 3)
		tile(k, nr, w, bias, 3, xh, kp, xs, y, ldy);
	else
		tile(k, nr, w, bias, 4, xh, kp, xs, y, ldy);
}

void fvl_hgemm__neonfp16(size_t k, size_t n, const void *w, const float *bias, size_t m,
                         const uint16_t *xh, const float *xs, float *y, size_t ldy)
{
	const uint16_t *wh = w;
	const size_t kp = FVL_F16_ACT_STRIDE(k);
	for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 weight rows stay in cache for all of x */
		const size_t j1 = j0 + 32 < n ? j0 + 32 : n;
		for (size_t i = 0; i < m; i += 4)
			for (size_t j = j0; j < j1; j += 4)
				rows(k, j1 - j < 4 ? j1 - j : 4, wh + j * k, bias ? bias + j : NULL,
				     m - i < 4 ? m - i : 4, xh + i * kp, kp, xs + i, y + i * ldy + j, ldy);
	}
}
