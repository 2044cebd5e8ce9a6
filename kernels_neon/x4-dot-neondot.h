/* x4-dot-neondot.h — the 4-row block dot product with the dot-product instruction (Cortex-A76/
 * A78AE): one sdot by lane multiplies a 4-byte chunk of each of the group's four rows with the same
 * four activations, so the four rows' sums land in the four lanes directly (no horizontal
 * reduction): 8 sdot per block per activation row. The Q4_0 unpacking maps w[c] (c < 4) to
 * elements 4c.. and w[c + 4] to 16 + 4c.., the same order as Q8_0's. Needs +dotprod. */
#ifndef FVL_X4_DOT_NEONDOT_H
#define FVL_X4_DOT_NEONDOT_H

#include "x4-neon.h"

/* w[c] holds elements 4c..4c+3 of rows 0..3 (c < 4: from a[0..15], else a[16..31]). */
static inline int32x4_t x4_dot(const int8x16_t w[8], const int8_t *a)
{
	const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
	int32x4_t s = vdotq_laneq_s32(vdupq_n_s32(0), w[0], a0, 0);
	s = vdotq_laneq_s32(s, w[1], a0, 1);
	s = vdotq_laneq_s32(s, w[2], a0, 2);
	s = vdotq_laneq_s32(s, w[3], a0, 3);
	s = vdotq_laneq_s32(s, w[4], a1, 0);
	s = vdotq_laneq_s32(s, w[5], a1, 1);
	s = vdotq_laneq_s32(s, w[6], a1, 2);
	return vdotq_laneq_s32(s, w[7], a1, 3);
}

#endif /* FVL_X4_DOT_NEONDOT_H */
