/* elementwise-ref.c — scalar twins of the normalization and elementwise kernels (libm exp/erf). */
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

void fvl_gelu__scalar(size_t n, const float *x, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = 0.5f * x[j] * (1.0f + erff(x[j] * 0.70710678118654752f));
}

void fvl_silu_mul__scalar(size_t n, const float *g, const float *u, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
}

void fvl_add__scalar(size_t n, const float *a, const float *b, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = a[j] + b[j];
}

void fvl_scale__scalar(size_t n, const float *x, float s, float *y)
{
	for (size_t j = 0; j < n; j++)
		y[j] = x[j] * s;
}

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

void fvl_dwconv3x3__scalar(size_t h, size_t w, size_t c, const float *x, const float *k,
                           const float *b, float *y)
{
	for (size_t i = 0; i < h; i++)
		for (size_t j = 0; j < w; j++)
			for (size_t ch = 0; ch < c; ch++) {
				float s = b ? b[ch] : 0.0f;
				for (int dy = 0; dy < 3; dy++)
					for (int dx = 0; dx < 3; dx++) {
						const ptrdiff_t yy = (ptrdiff_t)i + dy - 1, xx = (ptrdiff_t)j + dx - 1;
						if (yy < 0 || xx < 0 || yy >= (ptrdiff_t)h || xx >= (ptrdiff_t)w)
							continue;
						s += x[((size_t)yy * w + (size_t)xx) * c + ch] *
						     k[(size_t)(3 * dy + dx) * c + ch];
					}
				y[(i * w + j) * c + ch] = s;
			}
}
