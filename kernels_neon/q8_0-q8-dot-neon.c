/* q8_0-q8-dot-neon.c — Q8_0 x Q8_0 dot product for armv8-a NEON without sdot (Cortex-A72):
 * widening multiplies (smull) folded pairwise into 32-bit lanes (sadalp). */
#include "fp16.h"
#include "kernels.h"
#include "neon.h"

static inline int32x4_t dot_block(const struct fvl_block_q8_0 *x, const struct fvl_block_q8_0 *y)
{
	int8x16_t x0 = vld1q_s8(x->qs), x1 = vld1q_s8(x->qs + 16);
	int8x16_t y0 = vld1q_s8(y->qs), y1 = vld1q_s8(y->qs + 16);
	/* |q| <= 128, so each product fits int16; sadalp widens before anything is added. */
	int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(x0), vget_low_s8(y0)));
	s = vpadalq_s16(s, vmull_s8(vget_high_s8(x0), vget_high_s8(y0)));
	s = vpadalq_s16(s, vmull_s8(vget_low_s8(x1), vget_low_s8(y1)));
	return vpadalq_s16(s, vmull_s8(vget_high_s8(x1), vget_high_s8(y1)));
}

float fvl_q8_0_q8_dot__neon(size_t n, const struct fvl_block_q8_0 *x,
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
