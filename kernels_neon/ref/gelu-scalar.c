/* gelu-scalar.c — scalar twin of fvl_gelu__neon: the definition, in plain C with libm. */
#include <math.h>

#include "kernels.h"

void fvl_gelu__scalar(size_t n, const float *x, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = 0.5f * x[j] * (1.0f + erff(x[j] * 0.70710678118654752f));
}
