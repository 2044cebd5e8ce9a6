/* f16p16-f16-gemm-neonfp16.c — f16 weights in 16-column panels (f16p16) x f16 activations with
 * fp16 arithmetic (Cortex-A76/A78AE: Pi 5, Orin): one fmla .8h does 8 multiply-accumulates, twice
 * an f32 fmla. Activations come from fvl_f32_f16_quant: f16, scaled per row by a power of two
 * (max |x| in [2, 4)), so products stay far from the f16 range limit. Weights come packed in
 * panels of 16 columns (fvl_pack_f16p16), so a tile of up to 4 rows x 16 columns is an outer
 * product: per value of k, one load of 16 weights and 2 `fmla .8h` by element per row, no
 * horizontal sums. f16 sums over 32 values of k go into f32 accumulators. Built with +fp16;
 * aarch64 only (SIMDe has no fp16 arithmetic). */
#include "f16p16.h"
#include "kernels.h"
#include "neon.h"

#define FLUSH 32 /* values of k summed in f16 before the f32 accumulators take them */

/* fmla / fmul by element. GCC builds the f16 by-lane intrinsics from a dup, and does not fold a
 * dup with two users back into the instruction, so each step would cost a dup per row: spelled
 * out, the element register must be v0-v15 ("x"). */
#define FMLA_LANE(acc, w, x, L)                                                                    \
	__asm__("fmla %0.8h, %1.8h, %2.h[" #L "]" : "+w"(acc) : "w"(w), "x"(x))
#define FMUL_LANE(acc, w, x, L)                                                                    \
	__asm__("fmul %0.8h, %1.8h, %2.h[" #L "]" : "=w"(acc) : "w"(w), "x"(x))

/* One k step (lane L of the 8 activations in xv) for MR rows against the panel's 16 columns at
 * w: the first step of a flush interval multiplies, the others accumulate. */
#define STEP(L, OP)                                                                                \
	{                                                                                          \
		const float16x8x2_t wv = vld1q_f16_x2(w + (e + L) * FVL_F16P16_COLS);              \
		for (size_t i = 0; i < mr; i++) {                                                  \
			OP(h[i][0], wv.val[0], xv[i], L);                                          \
			OP(h[i][1], wv.val[1], xv[i], L);                                          \
		}                                                                                  \
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
		/* clang-format off */
		STEP(0, FMUL_LANE) STEP(1, FMLA_LANE) STEP(2, FMLA_LANE) STEP(3, FMLA_LANE)
		STEP(4, FMLA_LANE) STEP(5, FMLA_LANE) STEP(6, FMLA_LANE) STEP(7, FMLA_LANE)
		        /* clang-format on */
		        for (e = e0 + 8; e < e1; e += 8)
		{
			for (size_t i = 0; i < mr; i++)
				xv[i] = vld1q_f16((const __fp16 *)(xh + i * kp + e));
			/* clang-format off */
			STEP(0, FMLA_LANE) STEP(1, FMLA_LANE) STEP(2, FMLA_LANE) STEP(3, FMLA_LANE)
			STEP(4, FMLA_LANE) STEP(5, FMLA_LANE) STEP(6, FMLA_LANE) STEP(7, FMLA_LANE)
			/* clang-format on */
		}
		for (size_t i = 0; i < mr; i++) {
			f[i][0] = vaddq_f32(f[i][0], vcvt_f32_f16(vget_low_f16(h[i][0])));
			f[i][1] = vaddq_f32(f[i][1], vcvt_high_f32_f16(h[i][0]));
			f[i][2] = vaddq_f32(f[i][2], vcvt_f32_f16(vget_low_f16(h[i][1])));
			f[i][3] = vaddq_f32(f[i][3], vcvt_high_f32_f16(h[i][1]));
		}
	}
	for (size_t i = 0; i < mr; i++) {
		float t[FVL_F16P16_COLS];
		for (size_t c = 0; c < 4; c++)
			vst1q_f32(t + 4 * c, f[i][c]);
		const __fp16 *x = (const __fp16 *)(xh + i * kp);
		for (size_t c = 0; c < nr; c++) {
			float v = t[c];
			for (size_t e = k8; e < k; e++) /* k % 8 tail, in f32 */
				v += (float)w[e * FVL_F16P16_COLS + c] * (float)x[e];
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

struct gemm_ctx {
	size_t k, kp;
	const __fp16 *w;
	const float *bias;
	const uint16_t *xh;
	const float *xs;
	float *y;
	size_t ldy;
};

static void gemm_tile(const struct f16p16_tile *t, void *ctx)
{
	const struct gemm_ctx *c = ctx;
	rows(c->k, t->nr, c->w + t->j * c->k, c->bias ? c->bias + t->j : NULL, t->mr,
	     c->xh + t->i * c->kp, c->kp, c->xs + t->i, c->y + t->i * c->ldy + t->j, c->ldy);
}

void fvl_f16p16_f16_gemm__neonfp16(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                   const uint16_t *xh, const float *xs, float *y, size_t ldy)
{
	struct gemm_ctx c = {.k = k,
	                     .kp = FVL_F16_ROW_STRIDE(k),
	                     .w = w,
	                     .bias = bias,
	                     .xh = xh,
	                     .xs = xs,
	                     .y = y,
	                     .ldy = ldy};
	f16p16_for_each_tile(n, m, gemm_tile, &c);
}
