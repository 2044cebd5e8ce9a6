/* gram-neon.c — the Gram matrix of channel attention with NEON: tiles of 8 x 8 outputs held in
 * 16 registers while the tokens stream by, each token's 8 a-values and 8 b-values loaded once
 * (a pair each) for 16 fma by lane (64 multiply-adds); sums over the tokens in order from zero, as
 * the twin, then added to g. n not a multiple of 8 goes to the twin. */
#include "kernels.h"
#include "neon.h"

/* acc row pair for a's lane L of vector A: acc[2 I] += b0 a[L], acc[2 I + 1] += b1 a[L] */
#define ROW(I, A, L)                                                                               \
	do {                                                                                       \
		c[2 * (I)] = vfmaq_laneq_f32(c[2 * (I)], b0, A, L);                                \
		c[2 * (I) + 1] = vfmaq_laneq_f32(c[2 * (I) + 1], b1, A, L);                        \
	} while (0)

void fvl_gram__neon(size_t m, size_t n, const float *a, const float *b, size_t ld, float *g)
{
	if (n % 8) {
		fvl_gram__scalar(m, n, a, b, ld, g);
		return;
	}
	for (size_t i0 = 0; i0 < n; i0 += 8)
		for (size_t j0 = 0; j0 < n; j0 += 8) {
			float32x4_t c[16];
			for (int t = 0; t < 16; t++)
				c[t] = vdupq_n_f32(0.0f);
			const float *ar = a + i0, *br = b + j0;
			for (size_t r = 0; r < m; r++, ar += ld, br += ld) {
				const float32x4_t a0 = vld1q_f32(ar), a1 = vld1q_f32(ar + 4);
				const float32x4_t b0 = vld1q_f32(br), b1 = vld1q_f32(br + 4);
				ROW(0, a0, 0);
				ROW(1, a0, 1);
				ROW(2, a0, 2);
				ROW(3, a0, 3);
				ROW(4, a1, 0);
				ROW(5, a1, 1);
				ROW(6, a1, 2);
				ROW(7, a1, 3);
			}
			for (size_t i = 0; i < 8; i++) {
				float *gr = g + (i0 + i) * n + j0;
				vst1q_f32(gr, vaddq_f32(vld1q_f32(gr), c[2 * i]));
				vst1q_f32(gr + 4, vaddq_f32(vld1q_f32(gr + 4), c[2 * i + 1]));
			}
		}
}
