/* qgemm-x4.h — loading x4-packed blocks into int8x16 registers, shared by the NEON variants:
 * w[c] (c < 4) holds elements 4c..4c+3 of rows 0..3, w[c + 4] elements 16 + 4c.. */
#ifndef FVL_QGEMM_X4_H
#define FVL_QGEMM_X4_H

#include <stdbool.h>

#include "kernels.h"
#include "neon.h"

/* Q4_0: nibbles were stored xor 8, so << 4 and & 0xf0 give (q - 8) * 16 as int8. */
static inline void unpack_q4(const struct fvl_block_q4_0x4 *b, int8x16_t w[8])
{
	const uint8x16x4_t v = vld1q_u8_x4(b->qs);
	const uint8x16_t m = vdupq_n_u8(0xf0);
	w[0] = vshlq_n_s8(vreinterpretq_s8_u8(v.val[0]), 4);
	w[1] = vshlq_n_s8(vreinterpretq_s8_u8(v.val[1]), 4);
	w[2] = vshlq_n_s8(vreinterpretq_s8_u8(v.val[2]), 4);
	w[3] = vshlq_n_s8(vreinterpretq_s8_u8(v.val[3]), 4);
	w[4] = vreinterpretq_s8_u8(vandq_u8(v.val[0], m));
	w[5] = vreinterpretq_s8_u8(vandq_u8(v.val[1], m));
	w[6] = vreinterpretq_s8_u8(vandq_u8(v.val[2], m));
	w[7] = vreinterpretq_s8_u8(vandq_u8(v.val[3], m));
}

static inline void unpack_q8(const struct fvl_block_q8_0x4 *b, int8x16_t w[8])
{
	const int8x16x4_t v0 = vld1q_s8_x4(b->qs), v1 = vld1q_s8_x4(b->qs + 64);
	w[0] = v0.val[0], w[1] = v0.val[1], w[2] = v0.val[2], w[3] = v0.val[3];
	w[4] = v1.val[0], w[5] = v1.val[1], w[6] = v1.val[2], w[7] = v1.val[3];
}

/* Stores the first `valid` (<= 4) lanes: the last group of rows may be partly padding. */
static inline void store_rows(float *y, float32x4_t v, size_t valid)
{
	if (valid >= 4) {
		vst1q_f32(y, v);
		return;
	}
	float t[4];
	vst1q_f32(t, v);
	for (size_t r = 0; r < valid; r++)
		y[r] = t[r];
}

/* The strip GEMM loop of the dotprod and i8mm kernels: CHUNK groups of 4 weight rows stay in
 * cache; for each range of KC values of k (blocks b0 .. b0 + nbc), every strip of up to ROWS
 * activation rows (first row i, `rows` of them) is re-laid out once (FILL) and meets every group g
 * of the chunk (TILE, with `valid` weight rows of the group and `add` set after the first range,
 * whose results later ranges add to). */
#define FOR_STRIP_TILES(k, n, m, CHUNK, KC, ROWS, FILL, TILE)                                     \
	for (size_t g0_ = 0; g0_ < ((n) + 3) / 4; g0_ += (CHUNK))                                 \
		for (size_t b0 = 0; b0 < (k) / FVL_QK; b0 += (KC) / FVL_QK) {                     \
			const size_t nbc = (k) / FVL_QK - b0 < (KC) / FVL_QK ? (k) / FVL_QK - b0   \
			                                                    : (KC) / FVL_QK;       \
			const bool add = b0 > 0;                                                  \
			for (size_t i = 0; i < (m); i += (ROWS)) {                                \
				const size_t rows = (m) - i < (ROWS) ? (m) - i : (ROWS);          \
				FILL;                                                             \
				for (size_t g = g0_; g < g0_ + (CHUNK) && g < ((n) + 3) / 4; g++) { \
					const size_t valid = (n) - 4 * g < 4 ? (n) - 4 * g : 4;   \
					TILE;                                                     \
				}                                                                 \
			}                                                                         \
		}

/* store_rows, or y += v over the same lanes when add is set (a later range of k). */
static inline void store_rows_add(float *y, float32x4_t v, size_t valid, bool add)
{
	if (!add) {
		store_rows(y, v, valid);
		return;
	}
	float t[4];
	vst1q_f32(t, v);
	for (size_t r = 0; r < valid; r++)
		y[r] += t[r];
}

#endif /* FVL_QGEMM_X4_H */
