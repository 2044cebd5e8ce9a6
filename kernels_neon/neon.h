/* neon.h — NEON intrinsics: the real ones on aarch64, SIMDe's translation on other hosts, so the
 * same kernel sources run in x86 host tests. */
#ifndef FVL_NEON_H
#define FVL_NEON_H

#if defined(__aarch64__)
#include <arm_neon.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
#endif

#include <stdint.h>

#include "fp16.h"

/* Four fp16 values as float32x4 (scales of an x4 block, f16 weights). */
static inline float32x4_t fvl_load_f16x4(const uint16_t *p)
{
#if defined(__aarch64__)
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
#else
	float f[4] = {fvl_fp16_to_fp32(p[0]), fvl_fp16_to_fp32(p[1]), fvl_fp16_to_fp32(p[2]),
	              fvl_fp16_to_fp32(p[3])};
	return vld1q_f32(f);
#endif
}

/* Makes v opaque to the compiler: a constant vector so marked stays in its register in a loop
 * instead of being re-materialized from the literal pool at every use (GCC does that even with
 * registers free). Nothing on other hosts. */
#if defined(__aarch64__)
#define FVL_OPAQUE(v) __asm__("" : "+w"(v))
#else
#define FVL_OPAQUE(v) ((void)(v))
#endif

#endif /* FVL_NEON_H */
