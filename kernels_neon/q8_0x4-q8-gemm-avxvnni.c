/* q8_0x4-q8-gemm-avxvnni.c — Q8_0 (x4-packed) weights x q8 activations, GEMM and GEMV, on x86-64
 * with AVX-VNNI (ymm, VEX vpdpbusd) (x4-q8-gemm-vnni.h). Built only for x86-64; run only where CPUID says so. */
#include "x4-q8-gemm-vnni.h"

void fvl_q8_0x4_q8_gemm__avxvnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy)
{
	x4_q8_gemm_vnni(false, k, n, w, m, aq, ad, y, ldy);
}
