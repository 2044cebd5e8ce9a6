/* q4_0x4-q8-gemm-neon.c — Q4_0 (x4-packed) weights x q8 activations, GEMM and GEMV, for armv8-a
 * NEON without sdot (Cortex-A72, Pi 4): x4-dot-neon.h's widening multiplies in 4-row tiles. */
#include "x4-dot-neon.h"
#include "x4-q8-gemm-neon.h"

void fvl_q4_0x4_q8_gemm__neon(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy)
{
	x4_q8_gemm_tiles(true, k, n, w, m, aq, ad, y, ldy);
}
