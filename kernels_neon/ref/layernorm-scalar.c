/* layernorm-scalar.c — scalar twin of fvl_layernorm__neon: the definition, in plain C with libm. */
#include <math.h>

#include "kernels.h"

void fvl_layernorm__scalar(size_t m, size_t n, const float *x, const float *g, const float *b,
                           float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		float mean = 0.0f, var = 0.0f;
		for (size_t j = 0; j < n; j++)
			mean += x[j];
		mean /= (float)n;
		for (size_t j = 0; j < n; j++)
			var += (x[j] - mean) * (x[j] - mean);
		const float inv = 1.0f / sqrtf(var / (float)n + eps);
		for (size_t j = 0; j < n; j++)
			y[j] = (x[j] - mean) * inv * g[j] + b[j];
	}
}
