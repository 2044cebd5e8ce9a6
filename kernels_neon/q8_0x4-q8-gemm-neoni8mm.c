/* q8_0x4-q8-gemm-neoni8mm.c — Q8_0 (x4-packed) weights x q8 activations with the int8
 * matrix-multiply instruction (Armv8.6 i8mm): the GEMM of x4-q8-gemm-neoni8mm.h; a GEMV goes to
 * the dot-product kernel. Built with +dotprod+i8mm. */
#include "x4-q8-gemm-neoni8mm.h"

static void strip_tile(const struct x4_strip_step *st, void *ctx)
{
	i8mm_step_tile(false, st, ctx);
}

void fvl_q8_0x4_q8_gemm__neoni8mm(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                  const float *ad, float *y, size_t ldy)
{
	if (m == 1) {
		fvl_q8_0x4_q8_gemm__neondot(k, n, w, m, aq, ad, y, ldy);
		return;
	}
	x4_q8_gemm_i8mm(k, n, w, m, aq, ad, y, ldy, strip_tile);
}
