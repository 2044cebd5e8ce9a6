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

/* exp(x) for x <= 0 (a softmax's scores minus their max), its constants in registers the caller
 * loads once (fvl_exp_le0_init) so a loop over scores does not reload them. n = round(x log2 e)
 * by adding 1.5 * 2^23 + 127: the sum's low mantissa bits are n + 127, which shifted left by 23
 * are the exponent bits of 2^n; n >= -126 since x is clamped at -87. r = x - n ln 2 (ln 2 in two
 * parts) is within +-0.35; exp(r) is the degree 6 Taylor polynomial (as fvl_exp_f32x4) summed
 * as a + r^2 (b + r^2 c) with a, b, c linear or quadratic in r (fewer dependent steps and no
 * register copies, which Horner's form needs on AArch64). Positive x is not supported. */
struct fvl_exp_le0 {
	float32x4_t lo, magic, one, half, c4, k0, k1;
};

static inline struct fvl_exp_le0 fvl_exp_le0_init(void)
{
	static const float k0[4] = {1.44269504088896341f, -0.693359375f, 2.12194440e-4f,
	                            1.0f / 720.0f}; /* log2 e, -ln 2 in two parts, 1/6! */
	static const float k1[4] = {1.0f / 6.0f, 1.0f / 120.0f, 0.0f, 0.0f};
	struct fvl_exp_le0 c = {
	        .lo = vdupq_n_f32(-87.0f),
	        .magic = vdupq_n_f32(12583039.0f), /* 1.5 * 2^23 + 127 */
	        .one = vdupq_n_f32(1.0f),
	        .half = vdupq_n_f32(0.5f),
	        .c4 = vdupq_n_f32(1.0f / 24.0f),
	        .k0 = vld1q_f32(k0),
	        .k1 = vld1q_f32(k1),
	};
	FVL_OPAQUE(c.lo);
	FVL_OPAQUE(c.magic);
	FVL_OPAQUE(c.one);
	FVL_OPAQUE(c.half);
	FVL_OPAQUE(c.c4);
	FVL_OPAQUE(c.k0);
	FVL_OPAQUE(c.k1);
	return c;
}

static inline float32x4_t fvl_exp_le0_f32x4(float32x4_t x, const struct fvl_exp_le0 *c)
{
	x = vmaxq_f32(x, c->lo);
	const float32x4_t t = vfmaq_laneq_f32(c->magic, x, c->k0, 0);
	const int32x4_t e = vshlq_n_s32(vreinterpretq_s32_f32(t), 23);
	const float32x4_t n = vsubq_f32(t, c->magic);
	float32x4_t r = vfmaq_laneq_f32(x, n, c->k0, 1);
	r = vfmaq_laneq_f32(r, n, c->k0, 2);
	const float32x4_t r2 = vmulq_f32(r, r);
	const float32x4_t a = vaddq_f32(c->one, r);            /* 1 + r */
	float32x4_t b = vfmaq_laneq_f32(c->half, r, c->k1, 0); /* 1/2 + r/6 */
	float32x4_t d = vfmaq_laneq_f32(c->c4, r, c->k1, 1);   /* 1/24 + r/120 */
	d = vfmaq_laneq_f32(d, r2, c->k0, 3);                  /* + r^2/720 */
	b = vfmaq_f32(b, r2, d);
	return vmulq_f32(vfmaq_f32(a, r2, b), vreinterpretq_f32_s32(e));
}

static inline float32x4_t fvl_recip_f32x4(float32x4_t x)
{
	float32x4_t r = vrecpeq_f32(x);
	r = vmulq_f32(r, vrecpsq_f32(x, r));
	return vmulq_f32(r, vrecpsq_f32(x, r));
}

/* a / b: the divide instruction on aarch64 (one instruction, correctly rounded), elsewhere (SIMDe
 * has no vdivq_f32) the reciprocal estimate and two Newton steps. */
static inline float32x4_t fvl_div_f32x4(float32x4_t a, float32x4_t b)
{
#if defined(__aarch64__)
	return vdivq_f32(a, b);
#else
	return vmulq_f32(a, fvl_recip_f32x4(b));
#endif
}

/* erf(x) = x P(x^2) / Q(x^2), P of degree 5 and Q of degree 5 in t = x^2, fitted for this file
 * on |x| <= 3.925 (past it erf rounds to +-1 in float; Lawson-weighted least squares on
 * Chebyshev nodes, in double): absolute error 1.6e-8 in exact arithmetic, ~4.3e-7 in float.
 * x is clamped to +-4.1, where the fit overshoots 1 by 5e-7, more than the float rounding, so
 * the final clamp makes erf exactly +-1 in the tails (GELU exactly 0 far left). All
 * coefficients are positive and t >= 0, so P and Q are summed as c0 + c1 t + ... + c5 t^5 from
 * shared powers of t (no cancellation; a multiply-add by lane per term, no register copies as
 * Horner's form needs on AArch64). No exp, one division; odd by construction. */
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
	const float32x4_t r = fvl_div_f32x4(vmulq_f32(x, p), q);
	return vminq_f32(vmaxq_f32(r, vdupq_n_f32(-1.0f)), vdupq_n_f32(1.0f));
}

#endif /* FVL_NEON_MATH_H */
