/* fgemm-neon.c — float GEMM/GEMV with NEON fmla: tiles of 4 weight rows x 4 input rows, 16
 * accumulators over k in steps of 4, reduced pairwise at the end. f16 weights are widened to f32
 * as they are loaded. */
#include "kernels.h"
#include "neon.h"

static inline float32x4_t ld_f32(const void *w, size_t i) { return vld1q_f32((const float *)w + i); }
static inline float32x4_t ld_f16(const void *w, size_t i) { return fvl_load_f16x4((const uint16_t *)w + i); }
static inline float el_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
static inline float el_f16(const void *w, size_t i) { return fvl_fp16_to_fp32(((const uint16_t *)w)[i]); }

#define FGEMM_NEON(name, LD, EL)                                                                 \
	static inline void name##_tile(size_t k, size_t nr, const void *w, size_t j0,             \
	                               const float *bias, size_t mr, const float *x, size_t ldx, \
	                               float *y, size_t ldy)                                      \
	{                                                                                        \
		float32x4_t acc[4][4];                                                           \
		for (size_t i = 0; i < 4; i++)                                                   \
			for (size_t r = 0; r < 4; r++)                                           \
				acc[i][r] = vdupq_n_f32(0.0f);                                   \
		size_t e = 0;                                                                    \
		for (; e + 4 <= k; e += 4) {                                                     \
			float32x4_t wv[4], xv[4];                                                \
			for (size_t r = 0; r < 4; r++)                                           \
				wv[r] = r < nr ? LD(w, (j0 + r) * k + e) : vdupq_n_f32(0.0f);    \
			for (size_t i = 0; i < 4; i++)                                           \
				xv[i] = i < mr ? vld1q_f32(x + i * ldx + e) : vdupq_n_f32(0.0f); \
			for (size_t i = 0; i < 4; i++)                                           \
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
	void name(size_t k, size_t n, const void *w, const float *bias, size_t m, const float *x, \
	          size_t ldx, float *y, size_t ldy)                                               \
	{                                                                                        \
		for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 rows stay in cache for all of x */ \
			size_t j1 = j0 + 32 < n ? j0 + 32 : n;                                   \
			for (size_t i = 0; i < m; i += 4)                                        \
				for (size_t j = j0; j < j1; j += 4)                              \
					name##_tile(k, j1 - j < 4 ? j1 - j : 4, w, j, bias,      \
					            m - i < 4 ? m - i : 4, x + i * ldx, ldx,     \
					            y + i * ldy, ldy);                           \
		}                                                                                \
	}

FGEMM_NEON(fvl_f32_gemm__neon, ld_f32, el_f32)
FGEMM_NEON(fvl_f16_gemm__neon, ld_f16, el_f16)
