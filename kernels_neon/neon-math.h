/* neon-math.h — vector exp, reciprocal and erf for the elementwise kernels: exp by range reduction
 * to [-ln2/2, ln2/2] and a degree-6 polynomial (relative error ~2e-7), erf by Abramowitz-Stegun
 * 7.1.26 (absolute error < 1.5e-7); the reciprocal is the estimate refined by two Newton steps. */
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

static inline float32x4_t fvl_erf_f32x4(float32x4_t x)
{
	const float32x4_t ax = vabsq_f32(x);
	const float32x4_t t =
	        fvl_recip_f32x4(vfmaq_f32(vdupq_n_f32(1.0f), ax, vdupq_n_f32(0.3275911f)));
	float32x4_t p = vdupq_n_f32(1.061405429f);
	p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
	p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
	p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
	p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
	p = vmulq_f32(p, t);
	const float32x4_t e = fvl_exp_f32x4(vnegq_f32(vmulq_f32(ax, ax)));
	const float32x4_t y = vsubq_f32(vdupq_n_f32(1.0f), vmulq_f32(p, e));
	return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vnegq_f32(y), y);
}

#endif /* FVL_NEON_MATH_H */
