/* silu-mul-neon.c — silu(a) * b with NEON (the gated MLP of the LLMs). */
#include "elementwise-neon.h"

void fvl_silu_mul__neon(size_t n, const float *g, const float *up, float *y)
{
	MAP2(n, g, up, y,
	     vmulq_f32(vmulq_f32(v, fvl_recip_f32x4(vaddq_f32(vdupq_n_f32(1.0f),
	                                                      fvl_exp_f32x4(vnegq_f32(v))))),
	               u));
}
