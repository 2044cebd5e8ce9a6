/* f16-f32-gemm-scalar.c — scalar twin of the row-major f16-weight GEMM on f32 activations: the definition. */
#include "ref.h"

void fvl_f16_f32_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                              const float *x, size_t ldx, float *y, size_t ldy)
{
	ref_f32_gemm(ref_w_f16, k, n, w, bias, m, x, ldx, y, ldy);
}
