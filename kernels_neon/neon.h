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

#endif /* FVL_NEON_H */
