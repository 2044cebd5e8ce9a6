/* softmax-neon.c — row softmax with NEON: the max, exp of x - max through neon-math.h's
 * fvl_exp_le0, the sum. */
#include "elementwise-neon.h"

void fvl_softmax__neon(size_t m, size_t n, float *x, float scale)
{
	const struct fvl_exp_le0 ec = fvl_exp_le0_init();
	for (size_t i = 0; i < m; i++, x += n) {
		float mx = -INFINITY;
		for (size_t j = 0; j < n; j++)
			mx = fmaxf(mx, x[j] * scale);
		const float32x4_t mv = vdupq_n_f32(mx);
		MAP1(n, x, x, fvl_exp_le0_f32x4(vsubq_f32(vmulq_n_f32(v, scale), mv), &ec));
		const float inv = 1.0f / sum_f32(n, x);
		MAP1(n, x, x, vmulq_n_f32(v, inv));
	}
}
