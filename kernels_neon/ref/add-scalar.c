/* add-scalar.c — scalar twin of fvl_add__neon: the definition, in plain C. */
#include "kernels.h"

void fvl_add__scalar(size_t n, const float *a, const float *b, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = a[j] + b[j];
}
