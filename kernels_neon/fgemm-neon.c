/* fgemm-neon.c — float GEMM/GEMV with NEON fmla: tiles of 4 weight rows x up to 4 input rows, 16
 * accumulators over k in steps of 4, reduced pairwise at the end. f16 weights are widened to f32
 * as they are loaded. The tile is compiled once per input-row count (1..4), so a GEMV (m = 1, the
 * decoders' case) issues 4 fmla per 4 weights, not 16. */
#include "kernels.h"
#include "neon.h"

static inline float32x4_t ld_f32(const void *w, size_t i) { return vld1q_f32((const float *)w + i); }
static inline float32x4_t ld_f16(const void *w, size_t i) { return fvl_load_f16x4((const uint16_t *)w + i); }
static inline float el_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
static inline float el_f16(const void *w, size_t i) { return fvl_fp16_to_fp32(((const uint16_t *)w)[i]); }

#define FGEMM_NEON(name, LD, EL)                                                                 \
	static inline __attribute__((always_inline)) void                                        \
	name##_tile(size_t k, size_t nr, const void *w, size_t j0, const float *bias, size_t mr,  \
	            const float *x, size_t ldx, float *y, size_t ldy)                             \
	{                                                                                        \
		float32x4_t acc[4][4];                                                           \
		for (size_t i = 0; i < mr; i++)                                                  \
			for (size_t r = 0; r < 4; r++)                                           \
				acc[i][r] = vdupq_n_f32(0.0f);                                   \
		size_t e = 0;                                                                    \
		for (; e + 4 <= k; e += 4) {                                                     \
			float32x4_t wv[4], xv[4];                                                \
			for (size_t r = 0; r < 4; r++)                                           \
				wv[r] = r < nr ? LD(w, (j0 + r) * k + e) : vdupq_n_f32(0.0f);    \
			for (size_t i = 0; i < mr; i++)                                          \
				xv[i] = vld1q_f32(x + i * ldx + e);                              \
			for (size_t i = 0; i < mr; i++)                                          \
				for (size_t r = 0; r < 4; r++)                                   \
					acc[i][r] = vfmaq_f32(acc[i][r], wv[r], xv[i]);          \
		}                                                                                \
		for (size_t i = 0; i < mr; i++) {                                                \
			float32x4_t s = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]),             \
			                           vpaddq_f32(acc[i][2], acc[i][3]));            \
			float t[4];                                                              \
			vst1q_f32(t, s);                                                         \
			for (size_t r = 0; r < nr; r++) {                                        \
				float v = t[r];                                                  \
				for (size_t f = e; f < k; f++)                                   \
					v += EL(w, (j0 + r) * k + f) * x[i * ldx + f];           \
				y[i * ldy + j0 + r] = v + (bias ? bias[j0 + r] : 0.0f);          \
			}                                                                        \
		}                                                                                \
	}                                                                                        \
	/* constant row counts, so each tile's loops unroll */                                 \
	static void name##_rows(size_t k, size_t nr, const void *w, size_t j, const float *bias,  \
	                        size_t rows, const float *x, size_t ldx, float *y, size_t ldy)    \
	{                                                                                        \
		if (rows == 1)                                                                   \
			name##_tile(k, nr, w, j, bias, 1, x, ldx, y, ldy);                       \
		else if (rows == 2)                                                              \
			name##_tile(k, nr, w, j, bias, 2, x, ldx, y, ldy);                       \
		else if (rows == 3)                                                              \
			name##_tile(k, nr, w, j, bias, 3, x, ldx, y, ldy);                       \
		else                                                                             \
			name##_tile(k, nr, w, j, bias, 4, x, ldx, y, ldy);                       \
	}                                                                                        \
	void name(size_t k, size_t n, const void *w, const float *bias, size_t m, const float *x, \
	          size_t ldx, float *y, size_t ldy)                                               \
	{                                                                                        \
		for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 rows stay in cache for all of x */ \
			size_t j1 = j0 + 32 < n ? j0 + 32 : n;                                   \
			for (size_t i = 0; i < m; i += 4)                                        \
				for (size_t j = j0; j < j1; j += 4)                              \
					name##_rows(k, j1 - j < 4 ? j1 - j : 4, w, j, bias,      \
					            m - i < 4 ? m - i : 4, x + i * ldx, ldx,     \
					            y + i * ldy, ldy);                           \
		}                                                                                \
	}

FGEMM_NEON(fvl_f32_gemm__neon, ld_f32, el_f32)
FGEMM_NEON(fvl_f16_gemm__neon, ld_f16, el_f16)
