/* elementwise-neon.h — what the NEON normalization and elementwise kernels share: MAP1 / MAP2 run
 * a vector expression over n elements, tails shorter than four through the same vector code on a
 * padded copy (so every element gets the same arithmetic); row sums for the norms. */
#ifndef FVL_ELEMENTWISE_NEON_H
#define FVL_ELEMENTWISE_NEON_H

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "neon-math.h"

/* Applies OP (a float32x4_t expression of v, or of v and u) over n elements. */
#define MAP1(n, x, y, OP)                                                                          \
	do {                                                                                       \
		size_t j_ = 0;                                                                     \
		_Pragma("GCC unroll 2") for (; j_ + 4 <= (n); j_ += 4)                             \
		{                                                                                  \
			const float32x4_t v = vld1q_f32((x) + j_);                                 \
			vst1q_f32((y) + j_, OP);                                                   \
		}                                                                                  \
		if (j_ < (n)) {                                                                    \
			float t_[4] = {0};                                                         \
			memcpy(t_, (x) + j_, ((n)-j_) * sizeof(float));                            \
			const float32x4_t v = vld1q_f32(t_);                                       \
			vst1q_f32(t_, OP);                                                         \
			memcpy((y) + j_, t_, ((n)-j_) * sizeof(float));                            \
		}                                                                                  \
	} while (0)

#define MAP2(n, a, b, y, OP)                                                                       \
	do {                                                                                       \
		size_t j_ = 0;                                                                     \
		for (; j_ + 4 <= (n); j_ += 4) {                                                   \
			const float32x4_t v = vld1q_f32((a) + j_), u = vld1q_f32((b) + j_);        \
			vst1q_f32((y) + j_, OP);                                                   \
		}                                                                                  \
		if (j_ < (n)) {                                                                    \
			float t_[4] = {0}, s_[4] = {0};                                            \
			memcpy(t_, (a) + j_, ((n)-j_) * sizeof(float));                            \
			memcpy(s_, (b) + j_, ((n)-j_) * sizeof(float));                            \
			const float32x4_t v = vld1q_f32(t_), u = vld1q_f32(s_);                    \
			vst1q_f32(t_, OP);                                                         \
			memcpy((y) + j_, t_, ((n)-j_) * sizeof(float));                            \
		}                                                                                  \
	} while (0)

static inline float sum_f32(size_t n, const float *x)
{
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		s0 = vaddq_f32(s0, vld1q_f32(x + j));
		s1 = vaddq_f32(s1, vld1q_f32(x + j + 4));
	}
	float s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; j < n; j++)
		s += x[j];
	return s;
}

/* sum of (x - c)^2 */
static inline float sumsq_f32(size_t n, const float *x, float c)
{
	const float32x4_t cv = vdupq_n_f32(c);
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		const float32x4_t a = vsubq_f32(vld1q_f32(x + j), cv),
		                  b = vsubq_f32(vld1q_f32(x + j + 4), cv);
		s0 = vfmaq_f32(s0, a, a);
		s1 = vfmaq_f32(s1, b, b);
	}
	float s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; j < n; j++)
		s += (x[j] - c) * (x[j] - c);
	return s;
}

#endif /* FVL_ELEMENTWISE_NEON_H */
