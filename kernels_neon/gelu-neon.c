/* gelu-neon.c — exact (erf) GELU with NEON, erf by the rational approximation of neon-math.h. */
#include "elementwise-neon.h"

/* x/2 + x/2 erf(x / sqrt 2) */
static inline float32x4_t gelu4(float32x4_t v)
{
	const float32x4_t h = vmulq_n_f32(v, 0.5f);
	return vfmaq_f32(h, h, fvl_erf_f32x4(vmulq_n_f32(v, 0.70710678118654752f)));
}

void fvl_gelu__neon(size_t n, const float *x, float *y)
{
	MAP1(n, x, y, gelu4(v));
}
