/* qgemm-x4.h — loading x4-packed blocks into int8x16 registers, shared by the NEON variants:
 * w[c] (c < 4) holds elements 4c..4c+3 of rows 0..3, w[c + 4] elements 16 + 4c.. */
#ifndef FVL_QGEMM_X4_H
#define FVL_QGEMM_X4_H

#include "kernels.h"
#include "neon.h"

/* Q4_0: nibbles were stored xor 8, so << 4 and & 0xf0 give (q - 8) * 16 as int8. */
static inline void unpack_q4(const struct fvl_block_q4_0x4 *b, int8x16_t w[8])
{
	const uint8x16x4_t v = vld1q_u8_x4(b->qs);
	const uint8x16_t m = vdupq_n_u8(0xf0);
	for (int c = 0; c < 4; c++) {
		w[c] = vshlq_n_s8(vreinterpretq_s8_u8(v.val[c]), 4);
		w[c + 4] = vreinterpretq_s8_u8(vandq_u8(v.val[c], m));
	}
}

static inline void unpack_q8(const struct fvl_block_q8_0x4 *b, int8x16_t w[8])
{
	const int8x16x4_t v0 = vld1q_s8_x4(b->qs), v1 = vld1q_s8_x4(b->qs + 64);
	for (int c = 0; c < 4; c++) {
		w[c] = v0.val[c];
		w[c + 4] = v1.val[c];
	}
}

#endif /* FVL_QGEMM_X4_H */
