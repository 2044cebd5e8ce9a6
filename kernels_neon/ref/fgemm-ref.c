/* fgemm-ref.c — scalar twins of the float GEMM: y = x W^T (+ bias), W rows f32 or f16. */
#include "fp16.h"
#include "kernels.h"

static inline float w_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
static inline float w_f16(const void *w, size_t i) { return fvl_fp16_to_fp32(((const uint16_t *)w)[i]); }

#define FGEMM_REF(name, load)                                                                    \
	void name(size_t k, size_t n, const void *w, const float *bias, size_t m, const float *x, \
	          size_t ldx, float *y, size_t ldy)                                               \
	{                                                                                        \
		for (size_t i = 0; i < m; i++)                                                   \
			for (size_t j = 0; j < n; j++) {                                         \
				float s = 0.0f;                                                  \
				for (size_t e = 0; e < k; e++)                                   \
					s += load(w, j * k + e) * x[i * ldx + e];                \
				y[i * ldy + j] = s + (bias ? bias[j] : 0.0f);                    \
			}                                                                        \
	}

FGEMM_REF(fvl_f32_gemm__scalar, w_f32)
FGEMM_REF(fvl_f16_gemm__scalar, w_f16)
