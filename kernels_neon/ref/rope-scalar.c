/* rope-scalar.c — scalar twin of fvl_rope__neon: the definition, in plain C. */
#include "kernels.h"

void fvl_rope__scalar(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x, size_t ldx,
                      const int32_t *pos, const float *cos_t, const float *sin_t)
{
	const size_t half = rot / 2;
	for (size_t r = 0; r < m; r++) {
		const float *c = cos_t + (size_t)pos[r] * half, *s = sin_t + (size_t)pos[r] * half;
		for (size_t h = 0; h < n_heads; h++) {
			float *v = x + r * ldx + h * head_dim;
			for (size_t i = 0; i < half; i++) {
				const float a = v[i], b = v[i + half];
				v[i] = a * c[i] - b * s[i];
				v[i + half] = b * c[i] + a * s[i];
			}
		}
	}
}
