/* gram-scalar.c — scalar twin of fvl_gram__neon: each of the n x n sums over the m tokens in
 * order from zero, then added to g. */
#include "kernels.h"

void fvl_gram__scalar(size_t m, size_t n, const float *a, const float *b, size_t ld, float *g)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			float s = 0.0f;
			for (size_t r = 0; r < m; r++)
				s += a[r * ld + i] * b[r * ld + j];
			g[i * n + j] += s;
		}
}
