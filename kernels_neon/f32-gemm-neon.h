/* f32-gemm-neon.h — the row-major GEMM/GEMV on f32 activations with NEON fmla, for f32 or f16
 * weight rows (f32-f32-gemm-neon.c, f16-f32-gemm-neon.c call f32_gemm_neon with f16 a constant,
 * so each gets its own compiled copy): tiles of 4 weight rows x up to 4 input rows, 16
 * accumulators over k in steps of 4, reduced pairwise at the end. f16 weights are widened to f32
 * as they are loaded. The tile is compiled once per input-row count (1..4), so a GEMV (m = 1,
 * the decoders' case) issues 4 fmla per 4 weights, not 16. */
#ifndef FVL_F32_GEMM_NEON_H
#define FVL_F32_GEMM_NEON_H

#include "kernels.h"
#include "neon.h"

/* Four weights from element i of w (f16 or f32), and one. */
static inline float32x4_t load_w4(const void *w, bool f16, size_t i)
{
	return f16 ? fvl_load_f16x4((const uint16_t *)w + i) : vld1q_f32((const float *)w + i);
}

static inline float load_w1(const void *w, bool f16, size_t i)
{
	return f16 ? fvl_fp16_to_fp32(((const uint16_t *)w)[i]) : ((const float *)w)[i];
}

/* One input row's 4 sums (acc r: weight row j0 + r, still 4 lanes each) reduced, the k % 4 tail
 * added, stored with bias. */
static inline __attribute__((always_inline)) void
f32_gemm_store(bool f16, size_t k, size_t e, size_t nr, const void *w, size_t j0, const float *bias,
               const float *x, float *y, float32x4_t a0, float32x4_t a1, float32x4_t a2,
               float32x4_t a3)
{
	const float32x4_t s = vpaddq_f32(vpaddq_f32(a0, a1), vpaddq_f32(a2, a3));
	if (nr == 4 && e == k) { /* the same sums and adds, as one vector */
		vst1q_f32(y + j0, bias ? vaddq_f32(s, vld1q_f32(bias + j0)) : s);
		return;
	}
	float t[4];
	vst1q_f32(t, s);
	for (size_t r = 0; r < nr; r++) {
		float v = t[r];
		for (size_t f = e; f < k; f++)
			v += load_w1(w, f16, (j0 + r) * k + f) * x[f];
		y[j0 + r] = v + (bias ? bias[j0 + r] : 0.0f);
	}
}

/* Input row I's step of 4 values of k: its 4 accumulators (named, not an array: GCC kept an
 * array of them on the stack, storing all 16 at every step). */
#define F32_ROW_STEP(I, A0, A1, A2, A3)                                                            \
	if (mr > I) {                                                                              \
		const float32x4_t xv = vld1q_f32(x + I * ldx + e);                                 \
		A0 = vfmaq_f32(A0, w0, xv), A1 = vfmaq_f32(A1, w1, xv);                            \
		A2 = vfmaq_f32(A2, w2, xv), A3 = vfmaq_f32(A3, w3, xv);                            \
	}

/* mr (1..4) input rows x nr (<= 4) weight rows from row j0. */
static inline __attribute__((always_inline)) void
f32_gemm_tile(bool f16, size_t k, size_t nr, const void *w, size_t j0, const float *bias, size_t mr,
              const float *x, size_t ldx, float *y, size_t ldy)
{
	float32x4_t a00 = vdupq_n_f32(0.0f), a01 = a00, a02 = a00, a03 = a00;
	float32x4_t a10 = a00, a11 = a00, a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00;
	float32x4_t a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
	const float32x4_t zero = vdupq_n_f32(0.0f);
	size_t e = 0;
	for (; e + 4 <= k; e += 4) {
		const float32x4_t w0 = load_w4(w, f16, j0 * k + e);
		const float32x4_t w1 = nr > 1 ? load_w4(w, f16, (j0 + 1) * k + e) : zero;
		const float32x4_t w2 = nr > 2 ? load_w4(w, f16, (j0 + 2) * k + e) : zero;
		const float32x4_t w3 = nr > 3 ? load_w4(w, f16, (j0 + 3) * k + e) : zero;
		F32_ROW_STEP(0, a00, a01, a02, a03)
		F32_ROW_STEP(1, a10, a11, a12, a13)
		F32_ROW_STEP(2, a20, a21, a22, a23)
		F32_ROW_STEP(3, a30, a31, a32, a33)
	}
	f32_gemm_store(f16, k, e, nr, w, j0, bias, x, y, a00, a01, a02, a03);
	if (mr > 1)
		f32_gemm_store(f16, k, e, nr, w, j0, bias, x + ldx, y + ldy, a10, a11, a12, a13);
	if (mr > 2)
		f32_gemm_store(f16, k, e, nr, w, j0, bias, x + 2 * ldx, y + 2 * ldy, a20, a21, a22,
		               a23);
	if (mr > 3)
		f32_gemm_store(f16, k, e, nr, w, j0, bias, x + 3 * ldx, y + 3 * ldy, a30, a31, a32,
		               a33);
}

/* mr input rows (a constant) x nr weight rows: 4 weight rows (every tile but the last of a
 * 32-row chunk) as a constant too, so the weight loads do not test nr at every step of k. */
static inline __attribute__((always_inline)) void
f32_gemm_nr(bool f16, size_t k, size_t nr, const void *w, size_t j, const float *bias, size_t mr,
            const float *x, size_t ldx, float *y, size_t ldy)
{
	if (nr == 4)
		f32_gemm_tile(f16, k, 4, w, j, bias, mr, x, ldx, y, ldy);
	else
		f32_gemm_tile(f16, k, nr, w, j, bias, mr, x, ldx, y, ldy);
}

/* A constant row count at each call, so each tile's loops unroll. */
static inline __attribute__((always_inline)) void
f32_gemm_rows(bool f16, size_t k, size_t nr, const void *w, size_t j, const float *bias,
              size_t rows, const float *x, size_t ldx, float *y, size_t ldy)
{
	if (rows == 1)
		f32_gemm_nr(f16, k, nr, w, j, bias, 1, x, ldx, y, ldy);
	else if (rows == 2)
		f32_gemm_nr(f16, k, nr, w, j, bias, 2, x, ldx, y, ldy);
	else if (rows == 3)
		f32_gemm_nr(f16, k, nr, w, j, bias, 3, x, ldx, y, ldy);
	else
		f32_gemm_nr(f16, k, nr, w, j, bias, 4, x, ldx, y, ldy);
}

static inline __attribute__((always_inline)) void
f32_gemm_neon(bool f16, size_t k, size_t n, const void *w, const float *bias, size_t m,
              const float *x, size_t ldx, float *y, size_t ldy)
{
	for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 rows stay in cache for all of x */
		size_t j1 = j0 + 32 < n ? j0 + 32 : n;
		for (size_t i = 0; i < m; i += 4)
			for (size_t j = j0; j < j1; j += 4)
				f32_gemm_rows(f16, k, j1 - j < 4 ? j1 - j : 4, w, j, bias,
				              m - i < 4 ? m - i : 4, x + i * ldx, ldx, y + i * ldy,
				              ldy);
	}
}

#endif /* FVL_F32_GEMM_NEON_H */
