/* layernorm-neon.c — layer normalization over rows with NEON (two passes: mean, then the centred sum of squares). */
#include "elementwise-neon.h"

void fvl_layernorm__neon(size_t m, size_t n, const float *x, const float *g, const float *b,
                         float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		const float mean = sum_f32(n, x) / (float)n;
		const float inv = 1.0f / sqrtf(sumsq_f32(n, x, mean) / (float)n + eps);
		const float32x4_t mv = vdupq_n_f32(mean);
		size_t j = 0;
		for (; j + 4 <= n; j += 4) {
			const float32x4_t v = vmulq_n_f32(vsubq_f32(vld1q_f32(x + j), mv), inv);
			vst1q_f32(y + j, vfmaq_f32(vld1q_f32(b + j), v, vld1q_f32(g + j)));
		}
		for (; j < n; j++)
			y[j] = (x[j] - mean) * inv * g[j] + b[j];
	}
}
