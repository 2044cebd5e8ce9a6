/* gelu-neon.c — exact (erf) GELU with NEON, erf by the rational approximation of neon-math.h. */
#include "elementwise-neon.h"

void fvl_gelu__neon(size_t n, const float *x, float *y)
{
	MAP1(n, x, y,
	     vmulq_f32(vmulq_n_f32(v, 0.5f),
	               vaddq_f32(vdupq_n_f32(1.0f),
	                         fvl_erf_f32x4(vmulq_n_f32(v, 0.70710678118654752f)))));
}
