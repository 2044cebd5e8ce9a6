/* q8_0x4-q8-gemm-neondot.c — Q8_0 (x4-packed) weights x q8 activations, GEMM and GEMV, with the
 * dot-product instruction (Cortex-A76/A78AE: Pi 5, Orin): x4-dot-neondot.h's sdot by lane, the
 * GEMM in strips of 12 activation rows. Built with +dotprod. */
#include "x4-dot-neondot.h"
#include "x4-q8-gemm-neon.h"

static void strip_tile(const struct x4_strip_step *st, void *ctx)
{
	x4_strip_step_tile(false, st, ctx);
}

void fvl_q8_0x4_q8_gemm__neondot(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy)
{
	x4_q8_gemm_strips(false, k, n, w, m, aq, ad, y, ldy, strip_tile);
}
