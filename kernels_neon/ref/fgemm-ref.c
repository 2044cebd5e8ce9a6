/* fgemm-ref.c — scalar twins of the float GEMM: y = x W^T (+ bias), W rows f32 or f16; and of
 * the fp16-arithmetic path (activations scaled to f16 rows, f16-weight GEMM over them). */
#include <math.h>

#include "fp16.h"
#include "kernels.h"

static inline float w_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
static inline float w_f16(const void *w, size_t i) { return fvl_fp16_to_fp32(((const uint16_t *)w)[i]); }
/* W[j][e] of f16 weights packed in panels (fvl_pack_f16_panels). */
static inline float w_panel(const void *w, size_t k, size_t j, size_t e)
{
	return w_f16(w, (j / FVL_HPANEL) * FVL_HPANEL * k + e * FVL_HPANEL + j % FVL_HPANEL);
}

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

void fvl_f16_act__scalar(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh, float *xs)
{
	const size_t kp = FVL_F16_ACT_STRIDE(k);
	for (size_t i = 0; i < m; i++) {
		const float *r = x + i * ldx;
		float amax = 0.0f;
		for (size_t e = 0; e < k; e++)
			if (fabsf(r[e]) > amax) /* false for nan: nan is ignored, as fmaxnm does */
				amax = fabsf(r[e]);
		const int ex = fvl_f16_act_exponent(amax);
		const float s = ldexpf(1.0f, -ex);
		xs[i] = ldexpf(1.0f, ex);
		for (size_t e = 0; e < kp; e++)
			xh[i * kp + e] = e < k ? fvl_fp32_to_fp16(r[e] * s) : 0;
	}
}

void fvl_hgemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                       const uint16_t *xh, const float *xs, float *y, size_t ldy)
{
	const size_t kp = FVL_F16_ACT_STRIDE(k);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			float s = 0.0f;
			for (size_t e = 0; e < k; e++)
				s += w_panel(w, k, j, e) * fvl_fp16_to_fp32(xh[i * kp + e]);
			y[i * ldy + j] = s * xs[i] + (bias ? bias[j] : 0.0f);
		}
}

void fvl_f16p_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                           const float *x, size_t ldx, float *y, size_t ldy)
{
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			float s = 0.0f;
			for (size_t e = 0; e < k; e++)
				s += w_panel(w, k, j, e) * x[i * ldx + e];
			y[i * ldy + j] = s + (bias ? bias[j] : 0.0f);
		}
}
