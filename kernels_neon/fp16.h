/* fp16.h — IEEE half and bfloat16 <-> float conversions (round to nearest even), portable C with
 * the hardware conversion on aarch64. */
#ifndef FVL_FP16_H
#define FVL_FP16_H

#include <stdint.h>
#include <string.h>

static inline float fvl_bits_to_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint32_t fvl_f32_to_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float fvl_fp16_to_fp32(uint16_t h)
{
#if defined(__aarch64__)
	__fp16 x;
	memcpy(&x, &h, 2);
	return (float)x;
#else
	/* Scale the exponent through a float multiply: exact for normals and subnormals. */
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t em = h & 0x7fff;
	if (em >= 0x7c00) /* inf / nan */
		return fvl_bits_to_f32(sign | 0x7f800000u | ((uint32_t)(h & 0x03ff) << 13));
	float f = fvl_bits_to_f32(em << 13) * 0x1p112f;
	return fvl_bits_to_f32(sign | fvl_f32_to_bits(f));
#endif
}

static inline uint16_t fvl_fp32_to_fp16(float f)
{
#if defined(__aarch64__)
	__fp16 x = (__fp16)f;
	uint16_t h;
	memcpy(&h, &x, 2);
	return h;
#else
	/* The float-arithmetic rounding method (as in FP16 by Maratyszcza, MIT). */
	const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
	float base = (f < 0 ? -f : f) * scale_to_inf * scale_to_zero;
	uint32_t w = fvl_f32_to_bits(f);
	uint32_t shl1_w = w + w;
	uint32_t sign = w & 0x80000000u;
	uint32_t bias = shl1_w & 0xff000000u;
	if (bias < 0x71000000u)
		bias = 0x71000000u;
	base = fvl_bits_to_f32((bias >> 1) + 0x07800000u) + base;
	uint32_t bits = fvl_f32_to_bits(base);
	uint32_t exp_bits = (bits >> 13) & 0x00007c00u;
	uint32_t mant_bits = bits & 0x00000fffu;
	uint32_t nonsign = exp_bits + mant_bits;
	return (uint16_t)((sign >> 16) | (shl1_w > 0xff000000u ? 0x7e00u : nonsign));
#endif
}

static inline float fvl_bf16_to_fp32(uint16_t h)
{
	return fvl_bits_to_f32((uint32_t)h << 16);
}

static inline uint16_t fvl_fp32_to_bf16(float f)
{
	uint32_t u = fvl_f32_to_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* nan: keep it a quiet nan */
		return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

#endif /* FVL_FP16_H */
