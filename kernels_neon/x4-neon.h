/* x4-neon.h — what the NEON quantized GEMMs share: x4-packed blocks loaded into int8x16 registers
 * (w[c], c < 4, holds elements 4c..4c+3 of rows 0..3, w[c + 4] elements 16 + 4c..), the stores of
 * a group's 4 output rows, and the strip loop of the dotprod and i8mm GEMMs. */
#ifndef FVL_X4_NEON_H
#define FVL_X4_NEON_H

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

/* One step of the strip loop: the strip of `rows` activation rows from row i meets weight group
 * g over blocks b0 .. b0 + nbc (of 32 values of k), with `valid` real rows in the group; `add`
 * is set for every range of k after the first, whose results later ranges add to. */
struct x4_strip_step {
	size_t g, b0, nbc, i, rows, valid;
	bool add;
};

/* The strip GEMM loop of the dotprod and i8mm kernels: `chunk` groups of 4 weight rows stay in
 * cache; for each range of kc values of k, every strip of up to strip_rows activation rows is
 * re-laid out once (fill) and then meets every group of the chunk (tile). */
static inline __attribute__((always_inline)) void
x4_for_each_strip_tile(size_t k, size_t n, size_t m, size_t chunk, size_t kc, size_t strip_rows,
                       void (*fill)(const struct x4_strip_step *s, void *ctx),
                       void (*tile)(const struct x4_strip_step *s, void *ctx), void *ctx)
{
	const size_t groups = (n + 3) / 4, nb = k / FVL_QK, nbk = kc / FVL_QK;
	for (size_t g0 = 0; g0 < groups; g0 += chunk)
		for (size_t b0 = 0; b0 < nb; b0 += nbk) {
			struct x4_strip_step s = {
			        .b0 = b0, .nbc = nb - b0 < nbk ? nb - b0 : nbk, .add = b0 > 0};
			for (s.i = 0; s.i < m; s.i += strip_rows) {
				s.rows = m - s.i < strip_rows ? m - s.i : strip_rows;
				fill(&s, ctx);
				for (s.g = g0; s.g < g0 + chunk && s.g < groups; s.g++) {
					s.valid = n - 4 * s.g < 4 ? n - 4 * s.g : 4;
					tile(&s, ctx);
				}
			}
		}
}

#endif /* FVL_X4_NEON_H */
