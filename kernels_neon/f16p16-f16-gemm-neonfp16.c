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

/* Per activation row I (0..3, used when I < mr): f16 accumulators hI0, hI1 (16 columns) summed
 * over FLUSH values of k, f32 accumulators fI0..fI3, activations xvI (8 values of k) loaded from
 * xI. Named, not arrays: GCC kept arrays of them on the stack, storing them at every flush. */
#define ROW_OP(I, OP, L)                                                                           \
	if (mr > I) {                                                                              \
		OP(h##I##0, w0, xv##I, L);                                                         \
		OP(h##I##1, w1, xv##I, L);                                                         \
	}

/* One k step (lane L of the activations, k = E + L) for the rows against the panel's 16 columns
 * at w: the first step of a flush interval multiplies, the others accumulate. Two q loads rather
 * than vld1q_f16_x2, so they fold into an ldp with an immediate offset. */
#define STEP(E, L, OP)                                                                             \
	do {                                                                                       \
		const __fp16 *wl = w + ((E) + L) * FVL_F16P16_COLS;                                \
		const float16x8_t w0 = vld1q_f16(wl), w1 = vld1q_f16(wl + 8);                      \
		ROW_OP(0, OP, L)                                                                   \
		ROW_OP(1, OP, L)                                                                   \
		ROW_OP(2, OP, L)                                                                   \
		ROW_OP(3, OP, L)                                                                   \
	} while (0)

#define LOAD_X(I, E)                                                                               \
	if (mr > I)                                                                                \
		xv##I = vld1q_f16(x##I + (E));

/* 8 k steps from k = E of a flush interval, OP0 for the first. */
#define STEP8(E, OP0)                                                                              \
	do {                                                                                       \
		LOAD_X(0, E)                                                                       \
		LOAD_X(1, E)                                                                       \
		LOAD_X(2, E)                                                                       \
		LOAD_X(3, E)                                                                       \
		STEP(E, 0, OP0);                                                                   \
		STEP(E, 1, FMLA_LANE);                                                             \
		STEP(E, 2, FMLA_LANE);                                                             \
		STEP(E, 3, FMLA_LANE);                                                             \
		STEP(E, 4, FMLA_LANE);                                                             \
		STEP(E, 5, FMLA_LANE);                                                             \
		STEP(E, 6, FMLA_LANE);                                                             \
		STEP(E, 7, FMLA_LANE);                                                             \
	} while (0)

/* Row I's f16 sums of a flush interval into its f32 accumulators. */
#define FLUSH_ROW(I)                                                                               \
	if (mr > I) {                                                                              \
		f##I##0 = vaddq_f32(f##I##0, vcvt_f32_f16(vget_low_f16(h##I##0)));                 \
		f##I##1 = vaddq_f32(f##I##1, vcvt_high_f32_f16(h##I##0));                          \
		f##I##2 = vaddq_f32(f##I##2, vcvt_f32_f16(vget_low_f16(h##I##1)));                 \
		f##I##3 = vaddq_f32(f##I##3, vcvt_high_f32_f16(h##I##1));                          \
	}
#define FLUSH_ROWS()                                                                               \
	do {                                                                                       \
		FLUSH_ROW(0)                                                                       \
		FLUSH_ROW(1)                                                                       \
		FLUSH_ROW(2)                                                                       \
		FLUSH_ROW(3)                                                                       \
	} while (0)

/* One row's 16 sums times the row's scale, plus bias, with the k % 8 tail in f32 (x: the row's
 * activations, w: the panel). */
static inline __attribute__((always_inline)) void
store_row(size_t k, size_t k8, size_t nr, const __fp16 *w, const float *bias, const __fp16 *x,
          float xs, float *y, float32x4_t f0, float32x4_t f1, float32x4_t f2, float32x4_t f3)
{
	if (nr == FVL_F16P16_COLS && k8 == k) { /* a full panel: the same mul, then add */
		const float32x4_t s = vdupq_n_f32(xs), v[4] = {f0, f1, f2, f3};
		for (size_t c = 0; c < 4; c++) {
			float32x4_t o = vmulq_f32(v[c], s);
			if (bias)
				o = vaddq_f32(o, vld1q_f32(bias + 4 * c));
			vst1q_f32(y + 4 * c, o);
		}
		return;
	}
	float t[FVL_F16P16_COLS];
	vst1q_f32(t, f0), vst1q_f32(t + 4, f1), vst1q_f32(t + 8, f2), vst1q_f32(t + 12, f3);
	for (size_t c = 0; c < nr; c++) {
		float v = t[c];
		for (size_t e = k8; e < k; e++) /* k % 8 tail, in f32 */
			v += (float)w[e * FVL_F16P16_COLS + c] * (float)x[e];
		y[c] = v * xs + (bias ? bias[c] : 0.0f);
	}
}

/* mr (1..4, a constant after inlining) activation rows against one panel of 16 columns. Whole
 * flush intervals are unrolled (constant offsets, one pointer step per 32 values of k); the
 * last, shorter one goes 8 at a time. */
static inline __attribute__((always_inline)) void
tile(size_t k, size_t nr, const __fp16 *wp, const float *bias, size_t mr, const uint16_t *xh,
     size_t kp, const float *xs, float *y, size_t ldy)
{
	float16x8_t h00, h01, h10, h11, h20, h21, h30, h31, xv0, xv1, xv2, xv3;
	float32x4_t f00 = vdupq_n_f32(0.0f), f01 = f00, f02 = f00, f03 = f00, f10 = f00, f11 = f00;
	float32x4_t f12 = f00, f13 = f00, f20 = f00, f21 = f00, f22 = f00, f23 = f00, f30 = f00;
	float32x4_t f31 = f00, f32 = f00, f33 = f00;
	const __fp16 *const x0r = (const __fp16 *)xh, *const x1r = x0r + kp, *const x2r = x1r + kp,
	                    *const x3r = x2r + kp;
	const __fp16 *x0 = x0r, *x1 = x1r, *x2 = x2r, *x3 = x3r;
	const size_t k8 = k & ~(size_t)7;
	const __fp16 *w = wp;
	size_t e0 = 0;
	for (; e0 + FLUSH <= k8; e0 += FLUSH) {
		STEP8(0, FMUL_LANE);
		STEP8(8, FMLA_LANE);
		STEP8(16, FMLA_LANE);
		STEP8(24, FMLA_LANE);
		FLUSH_ROWS();
		w += FLUSH * FVL_F16P16_COLS;
		x0 += FLUSH, x1 += FLUSH, x2 += FLUSH, x3 += FLUSH;
	}
	if (e0 < k8) {
		STEP8(0, FMUL_LANE);
		for (size_t e = 8; e < k8 - e0; e += 8) {
			w += 8 * FVL_F16P16_COLS;
			x0 += 8, x1 += 8, x2 += 8, x3 += 8;
			STEP8(0, FMLA_LANE);
		}
		FLUSH_ROWS();
	}
	store_row(k, k8, nr, wp, bias, x0r, xs[0], y, f00, f01, f02, f03);
	if (mr > 1)
		store_row(k, k8, nr, wp, bias, x1r, xs[1], y + ldy, f10, f11, f12, f13);
	if (mr > 2)
		store_row(k, k8, nr, wp, bias, x2r, xs[2], y + 2 * ldy, f20, f21, f22, f23);
	if (mr > 3)
		store_row(k, k8, nr, wp, bias, x3r, xs[3], y + 3 * ldy, f30, f31, f32, f33);
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
