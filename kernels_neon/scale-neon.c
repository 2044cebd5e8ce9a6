/* scale-neon.c — elementwise x * s with NEON. */
#include "elementwise-neon.h"

void fvl_scale__neon(size_t n, const float *x, float s, float *y)
{
	MAP1(n, x, y, vmulq_n_f32(v, s));
}
