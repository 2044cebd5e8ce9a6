/* x4-dot-neon.h — the 4-row block dot product of the armv8-a NEON quantized kernels (no sdot:
 * Cortex-A72, Pi 4): each 4-byte activation chunk is broadcast to the four rows, multiplied with
 * widening smull / smlal (two int16 products per lane, |p| <= 16256 each) and folded pairwise into
 * int32 with sadalp. */
#ifndef FVL_X4_DOT_NEON_H
#define FVL_X4_DOT_NEON_H

#include "x4-neon.h"

/* The 4-byte activation chunk `lane` of a, repeated for the 4 rows. */
static inline int8x16_t chunk(int8x16_t a, int lane)
{
	switch (lane) {
	case 0: return vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), 0));
	case 1: return vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), 1));
	case 2: return vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), 2));
	default: return vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), 3));
	}
}

/* Chunks c and c + 1 (lanes l, l + 1 of a): two products per int16 lane (|p| <= 128 * 127, so
 * their sum fits) before one pairwise widening add into int32. */
#define CHUNK_PAIR(s01, s23, wc, wd, a, l)                                                         \
	do {                                                                                       \
		const int8x16_t ac_ = chunk(a, l), ad_ = chunk(a, l + 1);                          \
		s01 = vpadalq_s16(s01, vmlal_s8(vmull_s8(vget_low_s8(wc), vget_low_s8(ac_)),       \
		                                vget_low_s8(wd), vget_low_s8(ad_)));               \
		s23 = vpadalq_s16(s23, vmlal_high_s8(vmull_high_s8(wc, ac_), wd, ad_));            \
	} while (0)

/* w[c] holds elements 4c..4c+3 of rows 0..3 (c < 4: from a[0..15], else a[16..31]). */
static inline int32x4_t x4_dot(const int8x16_t w[8], const int8_t *a)
{
	const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
	int32x4_t s01 = vdupq_n_s32(0), s23 = vdupq_n_s32(0); /* rows 0,1 and 2,3, two lanes each */
	CHUNK_PAIR(s01, s23, w[0], w[1], a0, 0);
	CHUNK_PAIR(s01, s23, w[2], w[3], a0, 2);
	CHUNK_PAIR(s01, s23, w[4], w[5], a1, 0);
	CHUNK_PAIR(s01, s23, w[6], w[7], a1, 2);
	return vpaddq_s32(s01, s23);
}

#endif /* FVL_X4_DOT_NEON_H */
