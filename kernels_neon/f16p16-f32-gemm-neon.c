/* f16p16-f32-gemm-neon.c — f16 weights in 16-column panels (f16p16) x f32 activations, in f32
 * arithmetic, for cores without fp16 arithmetic (Cortex-A72, Pi 4): per value of k, 16 weights
 * are loaded and widened once (4 fcvtl) and feed 4 `fmla` by element per activation row, an outer
 * product with no horizontal sums (the row-major f16 kernel spends a widening per weight per
 * 4 rows and reduces at the end). */
#include "f16p16.h"
#include "kernels.h"
#include "neon.h"

/* acc += w * x[lane]. GCC builds the by-lane intrinsic from a dup and does not fold a dup with
 * several users back, so on aarch64 the instruction is spelled out. */
#if defined(__aarch64__)
#define FMLA_LANE(acc, w, x, L)                                                                    \
	__asm__("fmla %0.4s, %1.4s, %2.s[" #L "]" : "+w"(acc) : "w"(w), "w"(x))
#else
#define FMLA_LANE(acc, w, x, L) ((acc) = vfmaq_laneq_f32((acc), (w), (x), L))
#endif

/* The 16 weights of one value of k as 4 float vectors. */
static inline void load16(const uint16_t *p, float32x4_t w[4])
{
#if defined(__aarch64__)
	const uint16x8x2_t h = vld1q_u16_x2(p);
	w[0] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h.val[0])));
	w[1] = vcvt_high_f32_f16(vreinterpretq_f16_u16(h.val[0]));
	w[2] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h.val[1])));
	w[3] = vcvt_high_f32_f16(vreinterpretq_f16_u16(h.val[1]));
#else
	for (int c = 0; c < 4; c++)
		w[c] = fvl_load_f16x4(p + 4 * c);
#endif
}

/* Accumulators and activations are named variables, not arrays: GCC kept a 4 x 4 array of them
 * in memory around the asm statements. */
#define ROW_STEP(i, X, A0, A1, A2, A3, L)                                                          \
	if (mr > i) {                                                                              \
		FMLA_LANE(A0, w[0], X, L);                                                         \
		FMLA_LANE(A1, w[1], X, L);                                                         \
		FMLA_LANE(A2, w[2], X, L);                                                         \
		FMLA_LANE(A3, w[3], X, L);                                                         \
	}
#define STEP(L)                                                                                    \
	{                                                                                          \
		float32x4_t w[4];                                                                  \
		load16(wp + (e + L) * FVL_F16P16_COLS, w);                                         \
		ROW_STEP(0, x0, a00, a01, a02, a03, L)                                             \
		ROW_STEP(1, x1, a10, a11, a12, a13, L)                                             \
		ROW_STEP(2, x2, a20, a21, a22, a23, L)                                             \
		ROW_STEP(3, x3, a30, a31, a32, a33, L)                                             \
	}

static inline void store_row(size_t k, size_t e, size_t nr, const uint16_t *wp, const float *bias,
                             const float *x, float *y, float32x4_t a0, float32x4_t a1,
                             float32x4_t a2, float32x4_t a3)
{
	if (nr == FVL_F16P16_COLS && e == k) { /* a full panel */
		if (bias) {
			a0 = vaddq_f32(a0, vld1q_f32(bias)),
			a1 = vaddq_f32(a1, vld1q_f32(bias + 4));
			a2 = vaddq_f32(a2, vld1q_f32(bias + 8)),
			a3 = vaddq_f32(a3, vld1q_f32(bias + 12));
		}
		vst1q_f32(y, a0), vst1q_f32(y + 4, a1), vst1q_f32(y + 8, a2), vst1q_f32(y + 12, a3);
		return;
	}
	float t[FVL_F16P16_COLS];
	vst1q_f32(t, a0), vst1q_f32(t + 4, a1), vst1q_f32(t + 8, a2), vst1q_f32(t + 12, a3);
	for (size_t c = 0; c < nr; c++) {
		float v = t[c];
		for (size_t f = e; f < k; f++) /* k % 4 tail */
			v += fvl_fp16_to_fp32(wp[f * FVL_F16P16_COLS + c]) * x[f];
		y[c] = v + (bias ? bias[c] : 0.0f);
	}
}

/* mr (1..4, a constant after inlining) rows x one panel (nr <= 16 valid columns). */
static inline __attribute__((always_inline)) void tile(size_t k, size_t nr, const uint16_t *wp,
                                                       const float *bias, size_t mr, const float *x,
                                                       size_t ldx, float *y, size_t ldy)
{
	float32x4_t a00 = vdupq_n_f32(0.0f), a01 = a00, a02 = a00, a03 = a00;
	float32x4_t a10 = a00, a11 = a00, a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00;
	float32x4_t a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
	float32x4_t x0 = a00, x1 = a00, x2 = a00, x3 = a00;
	size_t e = 0;
	for (; e + 4 <= k; e += 4) {
		x0 = vld1q_f32(x + e);
		if (mr > 1)
			x1 = vld1q_f32(x + ldx + e);
		if (mr > 2)
			x2 = vld1q_f32(x + 2 * ldx + e);
		if (mr > 3)
			x3 = vld1q_f32(x + 3 * ldx + e);
		/* clang-format off */
		STEP(0) STEP(1) STEP(2) STEP(3)
		/* clang-format on */
	}
	store_row(k, e, nr, wp, bias, x, y, a00, a01, a02, a03);
	if (mr > 1)
		store_row(k, e, nr, wp, bias, x + ldx, y + ldy, a10, a11, a12, a13);
	if (mr > 2)
		store_row(k, e, nr, wp, bias, x + 2 * ldx, y + 2 * ldy, a20, a21, a22, a23);
	if (mr > 3)
		store_row(k, e, nr, wp, bias, x + 3 * ldx, y + 3 * ldy, a30, a31, a32, a33);
}

/* constant row counts, so each tile's loops unroll */
static void rows(size_t k, size_t nr, const uint16_t *wp, const float *bias, size_t mr,
                 const float *x, size_t ldx, float *y, size_t ldy)
{
	if (mr == 1)
		tile(k, nr, wp, bias, 1, x, ldx, y, ldy);
	else if (mr == 2)
		tile(k, nr, wp, bias, 2, x, ldx, y, ldy);
	else if (mr == 3)
		tile(k, nr, wp, bias, 3, x, ldx, y, ldy);
	else
		tile(k, nr, wp, bias, 4, x, ldx, y, ldy);
}

struct gemm_ctx {
	size_t k;
	const uint16_t *w;
	const float *bias, *x;
	size_t ldx;
	float *y;
	size_t ldy;
};

static void gemm_tile(const struct f16p16_tile *t, void *ctx)
{
	const struct gemm_ctx *c = ctx;
	rows(c->k, t->nr, c->w + t->j * c->k, c->bias ? c->bias + t->j : NULL, t->mr,
	     c->x + t->i * c->ldx, c->ldx, c->y + t->i * c->ldy + t->j, c->ldy);
}

void fvl_f16p16_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                               const float *x, size_t ldx, float *y, size_t ldy)
{
	struct gemm_ctx c = {.k = k, .w = w, .bias = bias, .x = x, .ldx = ldx, .y = y, .ldy = ldy};
	f16p16_for_each_tile(n, m, gemm_tile, &c);
}
