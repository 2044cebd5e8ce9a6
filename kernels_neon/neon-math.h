/* neon-math.h — vector exp, reciprocal and erf for the elementwise kernels: exp by range reduction
 * to [-ln2/2, ln2/2] and a degree-6 polynomial (relative error ~2e-7), erf by a rational
 * approximation (absolute error ~3e-7 in float); the reciprocal is the estimate refined by two
 * Newton steps. */
#ifndef FVL_NEON_MATH_H
#define FVL_NEON_MATH_H

#include "neon.h"

static inline float32x4_t fvl_exp_f32x4(float32x4_t x)
{
	x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
	const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
	float32x4_t r = vfmaq_f32(x, n, vdupq_n_f32(-0.693359375f)); /* ln2 split in two */
	r = vfmaq_f32(r, n, vdupq_n_f32(2.12194440e-4f));
	float32x4_t p = vdupq_n_f32(1.0f / 720.0f);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	/* 2^n through the exponent bits (n is in [-126, 128]: split to stay finite) */
	const int32x4_t ni = vcvtq_s32_f32(n);
	const int32x4_t h = vshrq_n_s32(ni, 1);
	const float32x4_t s1 =
	        vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h, vdupq_n_s32(127)), 23));
	const float32x4_t s2 = vreinterpretq_f32_s32(
	        vshlq_n_s32(vaddq_s32(vsubq_s32(ni, h), vdupq_n_s32(127)), 23));
	return vmulq_f32(vmulq_f32(p, s1), s2);
}

static inline float32x4_t fvl_recip_f32x4(float32x4_t x)
{
	float32x4_t r = vrecpeq_f32(x);
	r = vmulq_f32(r, vrecpsq_f32(x, r));
	return vmulq_f32(r, vrecpsq_f32(x, r));
}

/* erf(x) = x P(x^2) / Q(x^2), P of degree 5 and Q of degree 5 in t = x^2, fitted for this file
 * on |x| <= 3.925 (past it erf rounds to +-1 in float; Lawson-weighted least squares on
 * Chebyshev nodes, in double): absolute error 1.6e-8 in exact arithmetic, ~4.3e-7 in float.
 * x is clamped to +-4.1, where the fit overshoots 1 by 5e-7, more than the float rounding, so
 * the final clamp makes erf exactly +-1 in the tails (GELU exactly 0 far left). All
 * coefficients are positive and t >= 0, so P and Q are summed as c0 + c1 t + ... + c5 t^5 from
 * shared powers of t (no cancellation; a multiply-add by lane per term, no register copies as
 * Horner's form needs on AArch64). No exp, one reciprocal; odd by construction. */
static inline float32x4_t fvl_erf_f32x4(float32x4_t x)
{
	static const float pc[4] = {1.929733377e-01f, 5.308444773e-02f, 3.876359646e-03f,
	                            2.874926825e-04f};
	static const float qc[4] = {5.043498053e-01f, 1.151677762e-01f, 1.518841950e-02f,
	                            1.189757660e-03f};
	const float32x4_t p0 = vld1q_f32(pc), q0 = vld1q_f32(qc);
	x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-4.1f)), vdupq_n_f32(4.1f));
	const float32x4_t t = vmulq_f32(x, x), t2 = vmulq_f32(t, t), t3 = vmulq_f32(t2, t);
	const float32x4_t t4 = vmulq_f32(t2, t2), t5 = vmulq_f32(t4, t);
	float32x4_t p = vfmaq_laneq_f32(vdupq_n_f32(1.128379020e+00f), t, p0, 0);
	float32x4_t q = vfmaq_laneq_f32(vdupq_n_f32(1.0f), t, q0, 0);
	p = vfmaq_laneq_f32(p, t2, p0, 1), q = vfmaq_laneq_f32(q, t2, q0, 1);
	p = vfmaq_laneq_f32(p, t3, p0, 2), q = vfmaq_laneq_f32(q, t3, q0, 2);
	p = vfmaq_laneq_f32(p, t4, p0, 3), q = vfmaq_laneq_f32(q, t4, q0, 3);
	p = vfmaq_n_f32(p, t5, 2.030859362e-06f), q = vfmaq_n_f32(q, t5, 3.803137442e-05f);
	const float32x4_t r = vmulq_f32(vmulq_f32(x, p), fvl_recip_f32x4(q));
	return vminq_f32(vmaxq_f32(r, vdupq_n_f32(-1.0f)), vdupq_n_f32(1.0f));
}

#endif /* FVL_NEON_MATH_H */
