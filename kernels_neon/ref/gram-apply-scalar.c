/* gram-apply-scalar.c — scalar twin of fvl_gram_apply__neon: each output a sum over j in order. */
#include "kernels.h"

void fvl_gram_apply__scalar(size_t m, size_t n, const float *g, const float *v, size_t ldv,
                            float *o, size_t ldo)
{
	for (size_t r = 0; r < m; r++)
		for (size_t i = 0; i < n; i++) {
			float s = 0.0f;
			for (size_t j = 0; j < n; j++)
				s += v[r * ldv + j] * g[i * n + j];
			o[r * ldo + i] = s;
		}
}
