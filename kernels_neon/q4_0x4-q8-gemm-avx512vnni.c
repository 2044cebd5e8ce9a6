/* q4_0x4-q8-gemm-avx512vnni.c — Q4_0 (x4-packed) weights x q8 activations, GEMM and GEMV, on x86-64
 * with AVX512-VNNI (zmm) (x4-q8-gemm-vnni.h). Built only for x86-64; run only where CPUID says so. */
#define FVL_VNNI_512
#include "x4-q8-gemm-vnni.h"

void fvl_q4_0x4_q8_gemm__avx512vnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                    const float *ad, float *y, size_t ldy)
{
	x4_q8_gemm_vnni(true, k, n, w, m, aq, ad, y, ldy);
}
