/* q8_0x4-q8-gemm-scalar.c — scalar twin of the Q8_0-x4 x q8 GEMM/GEMV: decode each weight, integer
 * dot per 32-block, scale by both block scales, accumulate in float. */
#include "ref.h"

void fvl_q8_0x4_q8_gemm__scalar(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                const float *ad, float *y, size_t ldy)
{
	ref_x4_q8_gemm(false, k, n, w, m, aq, ad, y, ldy);
}
