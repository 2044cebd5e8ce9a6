/* silu-mul-scalar.c — scalar twin of fvl_silu_mul__neon: the definition, in plain C with libm. */
#include <math.h>

#include "kernels.h"

void fvl_silu_mul__scalar(size_t n, const float *g, const float *u, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
}
