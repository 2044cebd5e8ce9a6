/* softmax-scalar.c — scalar twin of fvl_softmax__neon: the definition, in plain C with libm. */
#include <math.h>

#include "kernels.h"

void fvl_softmax__scalar(size_t m, size_t n, float *x, float scale)
{
	for (size_t i = 0; i < m; i++, x += n) {
		float mx = -INFINITY, sum = 0.0f;
		for (size_t j = 0; j < n; j++)
			mx = fmaxf(mx, x[j] * scale);
		for (size_t j = 0; j < n; j++) {
			x[j] = expf(x[j] * scale - mx);
			sum += x[j];
		}
		for (size_t j = 0; j < n; j++)
			x[j] /= sum;
	}
}
