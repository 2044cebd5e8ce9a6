/* add-neon.c — elementwise a + b with NEON. */
#include "elementwise-neon.h"

void fvl_add__neon(size_t n, const float *a, const float *b, float *y)
{
	MAP2(n, a, b, y, vaddq_f32(v, u));
}
