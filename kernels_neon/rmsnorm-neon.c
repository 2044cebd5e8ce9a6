/* rmsnorm-neon.c — RMS normalization over rows with NEON. */
#include "elementwise-neon.h"

void fvl_rmsnorm__neon(size_t m, size_t n, const float *x, const float *g, float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		const float inv = 1.0f / sqrtf(sumsq_f32(n, x, 0.0f) / (float)n + eps);
		size_t j = 0;
		for (; j + 4 <= n; j += 4)
			vst1q_f32(y + j,
			          vmulq_f32(vmulq_n_f32(vld1q_f32(x + j), inv), vld1q_f32(g + j)));
		for (; j < n; j++)
			y[j] = x[j] * inv * g[j];
	}
}
