/* f16-f32-gemm-avx2.c — row-major f16 weights x f32 activations natively on x86-64 hosts with
 * AVX2 + FMA + F16C: rows widened by vcvtph2ps, f32 FMA, for development hosts (SIMDe's fp16
 * loads cost many instructions). Built only for x86-64. */
#include <immintrin.h>

#include "fp16.h"
#include "kernels.h"

/* mr (1..4, constant after inlining) input rows x nr (<= 4) weight rows; 16 accumulators over k in
 * steps of 8, reduced at the end (same shape as the NEON tile). */
static inline __attribute__((always_inline)) void
f16_tile(size_t k, size_t nr, const uint16_t *w, const float *bias, size_t mr, const float *x,
         size_t ldx, float *y, size_t ldy)
{
	__m256 acc[4][4];
	const uint16_t *wr[4];
	for (size_t r = 0; r < 4; r++)
		wr[r] = w + (r < nr ? r : 0) * k;
	for (size_t i = 0; i < mr; i++)
		for (size_t r = 0; r < 4; r++)
			acc[i][r] = _mm256_setzero_ps();
	size_t e = 0;
	for (; e + 8 <= k; e += 8) {
		__m256 wv[4];
		for (size_t r = 0; r < 4; r++)
			wv[r] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr[r] + e)));
		for (size_t i = 0; i < mr; i++) {
			const __m256 xv = _mm256_loadu_ps(x + i * ldx + e);
			for (size_t r = 0; r < 4; r++)
				acc[i][r] = _mm256_fmadd_ps(wv[r], xv, acc[i][r]);
		}
	}
	for (size_t i = 0; i < mr; i++) {
		/* hadd pairs within 128-bit halves, then add the halves: lanes r0..r3 */
		const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[i][0], acc[i][1]),
		                                _mm256_hadd_ps(acc[i][2], acc[i][3]));
		float t[4];
		_mm_storeu_ps(t,
		              _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
		for (size_t r = 0; r < nr; r++) {
			float v = t[r];
			for (size_t f = e; f < k; f++)
				v += fvl_fp16_to_fp32(wr[r][f]) * x[i * ldx + f];
			y[i * ldy + r] = v + (bias ? bias[r] : 0.0f);
		}
	}
}

void fvl_f16_f32_gemm__avx2(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy)
{
	const uint16_t *wh = w;
	for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 weight rows stay in cache for all of x */
		const size_t j1 = j0 + 32 < n ? j0 + 32 : n;
		for (size_t i = 0; i < m; i += 4)
			for (size_t j = j0; j < j1; j += 4) {
				const size_t nr = j1 - j < 4 ? j1 - j : 4,
				             mr = m - i < 4 ? m - i : 4;
				const float *bj = bias ? bias + j : NULL;
				const float *xi = x + i * ldx;
				float *yo = y + i * ldy + j;
				if (mr == 1)
					f16_tile(k, nr, wh + j * k, bj, 1, xi, ldx, yo, ldy);
				else if (mr == 2)
					f16_tile(k, nr, wh + j * k, bj, 2, xi, ldx, yo, ldy);
				else if (mr == 3)
					f16_tile(k, nr, wh + j * k, bj, 3, xi, ldx, yo, ldy);
				else
					f16_tile(k, nr, wh + j * k, bj, 4, xi, ldx, yo, ldy);
			}
	}
}
