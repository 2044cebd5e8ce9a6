/* fgemm-neonfp16.c — f16-weight GEMM with fp16 arithmetic (Cortex-A76/A78AE: Pi 5, Orin): one
 * fmla .8h does 8 multiply-accumulates, twice an f32 fmla. Activations come pre-converted to f16
 * and scaled per row by a power of two (max |x| in [2, 4), fvl_f16_act), so products stay far from
 * the f16 range limit. Weights come packed in panels of 16 columns (fvl_pack_f16_panels), so a
 * tile of up to 4 rows x 16 columns is an outer product: per value of k, one load of 16 weights
 * and 2 `fmla .8h` by element per row, no horizontal sums. f16 sums over 32 values of k go into
 * f32 accumulators. Built with +fp16; aarch64 only (SIMDe has no fp16 arithmetic). */
#include <math.h>

#include "kernels.h"
#include "neon.h"
#include "panels.h"

#define FLUSH 32 /* values of k summed in f16 before the f32 accumulators take them */

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

/* fmla / fmul by element. GCC builds the f16 by-lane intrinsics from a dup, and does not fold a
 * dup with two users back into the instruction, so each step would cost a dup per row: spelled
 * out, the element register must be v0-v15 ("x"). */
#define FMLA_LANE(acc, w, x, L) __asm__("fmla %0.8h, %1.8h, %2.h[" #L "]" : "+w"(acc) : "w"(w), "x"(x))
#define FMUL_LANE(acc, w, x, L) __asm__("fmul %0.8h, %1.8h, %2.h[" #L "]" : "=w"(acc) : "w"(w), "x"(x))

/* One k step (lane L of the 8 activations in xv) for MR rows against the panel's 16 columns at
 * w: the first step of a flush interval multiplies, the others accumulate. */
#define STEP(L, OP)                                                                               \
	{                                                                                         \
		const float16x8x2_t wv = vld1q_f16_x2(w + (e + L) * FVL_HPANEL);                  \
		for (size_t i = 0; i < mr; i++) {                                                 \
			OP(h[i][0], wv.val[0], xv[i], L);                                         \
			OP(h[i][1], wv.val[1], xv[i], L);                                         \
		}                                                                                 \
	}

/* mr (1..4, a constant after inlining) activation rows against one panel of 16 columns: f16
 * accumulators h (2 per row) summed over FLUSH values of k, then added into f32 accumulators f
 * (4 per row, all in registers). */
static inline __attribute__((always_inline)) void
tile(size_t k, size_t nr, const __fp16 *w, const float *bias, size_t mr, const uint16_t *xh,
     size_t kp, const float *xs, float *y, size_t ldy)
{
	float16x8_t h[4][2], xv[4];
	float32x4_t f[4][4];
	for (size_t i = 0; i < mr; i++)
		for (size_t c = 0; c < 4; c++)
			f[i][c] = vdupq_n_f32(0.0f);
	const size_t k8 = k & ~(size_t)7;
	for (size_t e0 = 0; e0 < k8; e0 += FLUSH) {
		const size_t e1 = e0 + FLUSH < k8 ? e0 + FLUSH : k8;
		size_t e = e0;
		for (size_t i = 0; i < mr; i++)
			xv[i] = vld1q_f16((const __fp16 *)(xh + i * kp + e));
		STEP(0, FMUL_LANE) STEP(1, FMLA_LANE) STEP(2, FMLA_LANE) STEP(3, FMLA_LANE)
		STEP(4, FMLA_LANE) STEP(5, FMLA_LANE) STEP(6, FMLA_LANE) STEP(7, FMLA_LANE)
		for (e = e0 + 8; e < e1; e += 8) {
			for (size_t i = 0; i < mr; i++)
				xv[i] = vld1q_f16((const __fp16 *)(xh + i * kp + e));
			STEP(0, FMLA_LANE) STEP(1, FMLA_LANE) STEP(2, FMLA_LANE) STEP(3, FMLA_LANE)
			STEP(4, FMLA_LANE) STEP(5, FMLA_LANE) STEP(6, FMLA_LANE) STEP(7, FMLA_LANE)
		}
		for (size_t i = 0; i < mr; i++) {
			f[i][0] = vaddq_f32(f[i][0], vcvt_f32_f16(vget_low_f16(h[i][0])));
			f[i][1] = vaddq_f32(f[i][1], vcvt_high_f32_f16(h[i][0]));
			f[i][2] = vaddq_f32(f[i][2], vcvt_f32_f16(vget_low_f16(h[i][1])));
			f[i][3] = vaddq_f32(f[i][3], vcvt_high_f32_f16(h[i][1]));
		}
	}
	for (size_t i = 0; i < mr; i++) {
		float t[FVL_HPANEL];
		for (size_t c = 0; c < 4; c++)
			vst1q_f32(t + 4 * c, f[i][c]);
		const __fp16 *x = (const __fp16 *)(xh + i * kp);
		for (size_t c = 0; c < nr; c++) {
			float v = t[c];
			for (size_t e = k8; e < k; e++) /* k % 8 tail, in f32 */
				v += (float)w[e * FVL_HPANEL + c] * (float)x[e];
			y[i * ldy + c] = v * xs[i] + (bias ? bias[c] : 0.0f);
		}
	}
}

/* constant row counts, so each tile's loops unroll */
static void rows(size_t k, size_t nr, const __fp16 *w, const float *bias, size_t mr,
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
	const __fp16 *wp = w;
	const size_t kp = FVL_F16_ACT_STRIDE(k);
	FOR_PANEL_TILES(n, m, rows(k, nr, wp + j * k, bias ? bias + j : NULL, mr, xh + i * kp, kp,
	                           xs + i, y + i * ldy + j, ldy));
}
