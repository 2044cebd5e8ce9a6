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
		for (; j + 8 <= n; j += 8) { /* 8 at a time: the loads and stores pair up */
			const float32x4_t v0 = vmulq_n_f32(vsubq_f32(vld1q_f32(x + j), mv), inv),
			                  v1 = vmulq_n_f32(vsubq_f32(vld1q_f32(x + j + 4), mv),
			                                   inv);
			const float32x4_t r0 = vfmaq_f32(vld1q_f32(b + j), v0, vld1q_f32(g + j)),
			                  r1 = vfmaq_f32(vld1q_f32(b + j + 4), v1,
			                                 vld1q_f32(g + j + 4));
			vst1q_f32(y + j, r0);
			vst1q_f32(y + j + 4, r1);
		}
		for (; j + 4 <= n; j += 4) {
			const float32x4_t v = vmulq_n_f32(vsubq_f32(vld1q_f32(x + j), mv), inv);
			vst1q_f32(y + j, vfmaq_f32(vld1q_f32(b + j), v, vld1q_f32(g + j)));
		}
		for (; j < n; j++)
			y[j] = (x[j] - mean) * inv * g[j] + b[j];
	}
}
