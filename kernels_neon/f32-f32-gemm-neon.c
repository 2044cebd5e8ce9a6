/* f32-f32-gemm-neon.c — f32 weights x f32 activations, GEMM and GEMV with NEON fmla (the tiles
 * are f32-gemm-neon.h's). */
#include "f32-gemm-neon.h"

void fvl_f32_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy)
{
	f32_gemm_neon(false, k, n, w, bias, m, x, ldx, y, ldy);
}
