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

/* mr (1..4) input rows x nr (<= 4) weight rows from row j0. */
static inline __attribute__((always_inline)) void
f32_gemm_tile(bool f16, size_t k, size_t nr, const void *w, size_t j0, const float *bias, size_t mr,
              const float *x, size_t ldx, float *y, size_t ldy)
{
	float32x4_t acc[4][4];
	for (size_t i = 0; i < mr; i++)
		for (size_t r = 0; r < 4; r++)
			acc[i][r] = vdupq_n_f32(0.0f);
	size_t e = 0;
	for (; e + 4 <= k; e += 4) {
		float32x4_t wv[4], xv[4];
		for (size_t r = 0; r < 4; r++)
			wv[r] = r < nr ? load_w4(w, f16, (j0 + r) * k + e) : vdupq_n_f32(0.0f);
		for (size_t i = 0; i < mr; i++)
			xv[i] = vld1q_f32(x + i * ldx + e);
		for (size_t i = 0; i < mr; i++)
			for (size_t r = 0; r < 4; r++)
				acc[i][r] = vfmaq_f32(acc[i][r], wv[r], xv[i]);
	}
	for (size_t i = 0; i < mr; i++) {
		float32x4_t s = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]),
		                           vpaddq_f32(acc[i][2], acc[i][3]));
		float t[4];
		vst1q_f32(t, s);
		for (size_t r = 0; r < nr; r++) {
			float v = t[r];
			for (size_t f = e; f < k; f++)
				v += load_w1(w, f16, (j0 + r) * k + f) * x[i * ldx + f];
			y[i * ldy + j0 + r] = v + (bias ? bias[j0 + r] : 0.0f);
		}
	}
}

/* A constant row count at each call, so each tile's loops unroll. */
static inline __attribute__((always_inline)) void
f32_gemm_rows(bool f16, size_t k, size_t nr, const void *w, size_t j, const float *bias,
              size_t rows, const float *x, size_t ldx, float *y, size_t ldy)
{
	if (rows == 1)
		f32_gemm_tile(f16, k, nr, w, j, bias, 1, x, ldx, y, ldy);
	else if (rows == 2)
		f32_gemm_tile(f16, k, nr, w, j, bias, 2, x, ldx, y, ldy);
	else if (rows == 3)
		f32_gemm_tile(f16, k, nr, w, j, bias, 3, x, ldx, y, ldy);
	else
		f32_gemm_tile(f16, k, nr, w, j, bias, 4, x, ldx, y, ldy);
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
