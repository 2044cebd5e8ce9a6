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

/* 16 values a step through pointers, all loaded before any is stored (so y may be a or b, and
 * the loads pair up: ldp / stp take no index register), then 4 at a time. */
#define MAP2(n, a, b, y, OP)                                                                       \
	do {                                                                                       \
		const float *a_ = (a), *b_ = (b);                                                  \
		float *y_ = (y);                                                                   \
		size_t j_ = 0;                                                                     \
		for (; j_ + 16 <= (n); j_ += 16, a_ += 16, b_ += 16, y_ += 16) {                   \
			float32x4_t r_[4];                                                         \
			const float32x4x4_t va_ = {{vld1q_f32(a_), vld1q_f32(a_ + 4),              \
			                            vld1q_f32(a_ + 8), vld1q_f32(a_ + 12)}};       \
			const float32x4x4_t vb_ = {{vld1q_f32(b_), vld1q_f32(b_ + 4),              \
			                            vld1q_f32(b_ + 8), vld1q_f32(b_ + 12)}};       \
			for (int q_ = 0; q_ < 4; q_++) {                                           \
				const float32x4_t v = va_.val[q_], u = vb_.val[q_];                \
				r_[q_] = OP;                                                       \
			}                                                                          \
			vst1q_f32(y_, r_[0]), vst1q_f32(y_ + 4, r_[1]);                            \
			vst1q_f32(y_ + 8, r_[2]), vst1q_f32(y_ + 12, r_[3]);                       \
		}                                                                                  \
		for (; j_ + 4 <= (n); j_ += 4, a_ += 4, b_ += 4, y_ += 4) {                        \
			const float32x4_t v = vld1q_f32(a_), u = vld1q_f32(b_);                    \
			vst1q_f32(y_, OP);                                                         \
		}                                                                                  \
		if (j_ < (n)) {                                                                    \
			float t_[4] = {0}, s_[4] = {0};                                            \
			memcpy(t_, a_, ((n)-j_) * sizeof(float));                                  \
			memcpy(s_, b_, ((n)-j_) * sizeof(float));                                  \
			const float32x4_t v = vld1q_f32(t_), u = vld1q_f32(s_);                    \
			vst1q_f32(t_, OP);                                                         \
			memcpy(y_, t_, ((n)-j_) * sizeof(float));                                  \
		}                                                                                  \
	} while (0)

/* Sum of x: four accumulators over 16 values a step (through a pointer, so the loads pair). */
static inline float sum_f32(size_t n, const float *x)
{
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
	const float *p = x;
	size_t j = 0;
	for (; j + 16 <= n; j += 16, p += 16) {
		s0 = vaddq_f32(s0, vld1q_f32(p));
		s1 = vaddq_f32(s1, vld1q_f32(p + 4));
		s2 = vaddq_f32(s2, vld1q_f32(p + 8));
		s3 = vaddq_f32(s3, vld1q_f32(p + 12));
	}
	for (; j + 4 <= n; j += 4, p += 4)
		s0 = vaddq_f32(s0, vld1q_f32(p));
	float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; j < n; j++)
		s += x[j];
	return s;
}

/* sum of (x - c)^2, the same way */
static inline float sumsq_f32(size_t n, const float *x, float c)
{
	const float32x4_t cv = vdupq_n_f32(c);
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
	const float *p = x;
	size_t j = 0;
	for (; j + 16 <= n; j += 16, p += 16) {
		const float32x4_t a = vsubq_f32(vld1q_f32(p), cv),
		                  b = vsubq_f32(vld1q_f32(p + 4), cv),
		                  d = vsubq_f32(vld1q_f32(p + 8), cv),
		                  e = vsubq_f32(vld1q_f32(p + 12), cv);
		s0 = vfmaq_f32(s0, a, a);
		s1 = vfmaq_f32(s1, b, b);
		s2 = vfmaq_f32(s2, d, d);
		s3 = vfmaq_f32(s3, e, e);
	}
	for (; j + 4 <= n; j += 4, p += 4) {
		const float32x4_t a = vsubq_f32(vld1q_f32(p), cv);
		s0 = vfmaq_f32(s0, a, a);
	}
	float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; j < n; j++)
		s += (x[j] - c) * (x[j] - c);
	return s;
}

#endif /* FVL_ELEMENTWISE_NEON_H */
