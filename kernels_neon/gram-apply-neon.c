/* gram-apply-neon.c — channel attention's output o = v g^T with NEON: g transposed once (n x n,
 * n <= 64, on the stack), then tiles of 4 tokens x 16 outputs held in 16 registers: per 4 values
 * of j, each token's 4 values loaded once and 16 rows of g^T (4 per j) for 64 fma by lane. Sums
 * over j in order, as the twin. n not a multiple of 16, or past 64, goes to the twin. */
#include "kernels.h"
#include "neon.h"

#define GRAM_APPLY_MAX_N 64

/* Row j + JJ of g^T (outputs i0 .. i0 + 16) times lane JJ of each token's x. */
#define STEP(JJ)                                                                                   \
	do {                                                                                       \
		const float *gr = gt + (j + JJ) * n;                                               \
		const float32x4_t g0 = vld1q_f32(gr), g1 = vld1q_f32(gr + 4);                      \
		const float32x4_t g2 = vld1q_f32(gr + 8), g3 = vld1q_f32(gr + 12);                 \
		for (size_t t = 0; t < nt; t++) {                                                  \
			c[t][0] = vfmaq_laneq_f32(c[t][0], g0, x[t], JJ);                          \
			c[t][1] = vfmaq_laneq_f32(c[t][1], g1, x[t], JJ);                          \
			c[t][2] = vfmaq_laneq_f32(c[t][2], g2, x[t], JJ);                          \
			c[t][3] = vfmaq_laneq_f32(c[t][3], g3, x[t], JJ);                          \
		}                                                                                  \
	} while (0)

/* Tokens r .. r + nt (nt 1..4, a constant after inlining) against outputs i0 .. i0 + 16. */
static inline __attribute__((always_inline)) void
tile(size_t nt, size_t n, const float *gt, const float *v, size_t ldv, float *o, size_t ldo)
{
	float32x4_t c[4][4];
	for (size_t t = 0; t < nt; t++)
		for (int q = 0; q < 4; q++)
			c[t][q] = vdupq_n_f32(0.0f);
	for (size_t j = 0; j < n; j += 4) {
		float32x4_t x[4];
		for (size_t t = 0; t < nt; t++)
			x[t] = vld1q_f32(v + t * ldv + j);
		STEP(0);
		STEP(1);
		STEP(2);
		STEP(3);
	}
	for (size_t t = 0; t < nt; t++)
		for (int q = 0; q < 4; q++)
			vst1q_f32(o + t * ldo + 4 * q, c[t][q]);
}

void fvl_gram_apply__neon(size_t m, size_t n, const float *g, const float *v, size_t ldv, float *o,
                          size_t ldo)
{
	if (n % 16 || n > GRAM_APPLY_MAX_N) {
		fvl_gram_apply__scalar(m, n, g, v, ldv, o, ldo);
		return;
	}
	float gt[GRAM_APPLY_MAX_N * GRAM_APPLY_MAX_N]; /* gt[j n + i] = g[i n + j] */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			gt[j * n + i] = g[i * n + j];
	size_t r = 0;
	for (; r + 4 <= m; r += 4)
		for (size_t i0 = 0; i0 < n; i0 += 16)
			tile(4, n, gt + i0, v + r * ldv, ldv, o + r * ldo + i0, ldo);
	for (; r < m; r++)
		for (size_t i0 = 0; i0 < n; i0 += 16)
			tile(1, n, gt + i0, v + r * ldv, ldv, o + r * ldo + i0, ldo);
}
