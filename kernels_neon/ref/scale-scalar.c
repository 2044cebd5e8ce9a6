/* scale-scalar.c — scalar twin of fvl_scale__neon: the definition, in plain C. */
#include "kernels.h"

void fvl_scale__scalar(size_t n, const float *x, float s, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = x[j] * s;
}
