/* q8_0x4-q8-gemm-avx2.c — Q8_0 (x4-packed) weights x q8 activations, GEMM and GEMV, natively on
 * x86-64 hosts with AVX2 + FMA + F16C (x4-q8-gemm-avx2.h). Built only for x86-64. */
#include "x4-q8-gemm-avx2.h"

void fvl_q8_0x4_q8_gemm__avx2(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy)
{
	x4_q8_gemm_avx2(false, k, n, w, m, aq, ad, y, ldy);
}
