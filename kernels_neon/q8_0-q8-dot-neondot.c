/* q8_0-q8-dot-neondot.c — Q8_0 x Q8_0 dot product with the Armv8.2 dot-product instruction (sdot):
 * two sdot per block, two blocks in flight. Built with +dotprod; chosen only where HWCAP says so. */
#include "fp16.h"
#include "kernels.h"
#include "neon.h"

static inline int32x4_t dot_block(const struct fvl_block_q8_0 *x, const struct fvl_block_q8_0 *y)
{
	int32x4_t s = vdotq_s32(vdupq_n_s32(0), vld1q_s8(x->qs), vld1q_s8(y->qs));
	return vdotq_s32(s, vld1q_s8(x->qs + 16), vld1q_s8(y->qs + 16));
}

float fvl_q8_0_q8_dot__neondot(size_t n, const struct fvl_block_q8_0 *x,
                               const struct fvl_block_q8_0 *y)
{
	size_t nb = n / FVL_QK, b = 0;
	float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
	for (; b + 2 <= nb; b += 2) {
		int32x4_t s0 = dot_block(&x[b], &y[b]);
		int32x4_t s1 = dot_block(&x[b + 1], &y[b + 1]);
		acc0 = vmlaq_n_f32(acc0, vcvtq_f32_s32(s0),
		                   fvl_fp16_to_fp32(x[b].d) * fvl_fp16_to_fp32(y[b].d));
		acc1 = vmlaq_n_f32(acc1, vcvtq_f32_s32(s1),
		                   fvl_fp16_to_fp32(x[b + 1].d) * fvl_fp16_to_fp32(y[b + 1].d));
	}
	if (b < nb)
		acc0 = vmlaq_n_f32(acc0, vcvtq_f32_s32(dot_block(&x[b], &y[b])),
		                   fvl_fp16_to_fp32(x[b].d) * fvl_fp16_to_fp32(y[b].d));
	return vaddvq_f32(vaddq_f32(acc0, acc1));
}
