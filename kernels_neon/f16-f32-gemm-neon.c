/* f16-f32-gemm-neon.c — row-major f16 weights x f32 activations, GEMM and GEMV with NEON fmla,
 * each weight widened as it is loaded (the tiles are f32-gemm-neon.h's). x86-64 hosts keep f16
 * weights row-major; aarch64 runtimes pack them (f16p16) for the panel kernels. */
#include "f32-gemm-neon.h"

void fvl_f16_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy)
{
	f32_gemm_neon(true, k, n, w, bias, m, x, ldx, y, ldy);
}
