/* rmsnorm-scalar.c — scalar twin of fvl_rmsnorm__neon: the definition, in plain C with libm. */
#include <math.h>

#include "kernels.h"

void fvl_rmsnorm__scalar(size_t m, size_t n, const float *x, const float *g, float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		float ss = 0.0f;
		for (size_t j = 0; j < n; j++)
			ss += x[j] * x[j];
		const float inv = 1.0f / sqrtf(ss / (float)n + eps);
		for (size_t j = 0; j < n; j++)
			y[j] = x[j] * inv * g[j];
	}
}
