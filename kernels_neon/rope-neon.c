/* rope-neon.c — rotate-half rotary position embedding in place with NEON. */
#include "elementwise-neon.h"

void fvl_rope__neon(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x, size_t ldx,
                    const int32_t *pos, const float *cos_t, const float *sin_t)
{
	const size_t half = rot / 2;
	for (size_t r = 0; r < m; r++) {
		const float *c = cos_t + (size_t)pos[r] * half, *s = sin_t + (size_t)pos[r] * half;
		for (size_t h = 0; h < n_heads; h++) {
			float *v = x + r * ldx + h * head_dim;
			size_t i = 0;
			for (; i + 4 <= half; i += 4) {
				const float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
				const float32x4_t cv = vld1q_f32(c + i), sv = vld1q_f32(s + i);
				vst1q_f32(v + i, vsubq_f32(vmulq_f32(a, cv), vmulq_f32(b, sv)));
				vst1q_f32(v + i + half,
				          vaddq_f32(vmulq_f32(b, cv), vmulq_f32(a, sv)));
			}
			for (; i < half; i++) {
				const float a = v[i], b = v[i + half];
				v[i] = a * c[i] - b * s[i];
				v[i + half] = b * c[i] + a * s[i];
			}
		}
	}
}
