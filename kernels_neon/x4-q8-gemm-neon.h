/* x4-q8-gemm-neon.h — the NEON quantized GEMM/GEMV (x4-packed Q4_0 or Q8_0 weights, q8
 * activations) as always-inline functions whose weight type (q4) and tile sizes are constants at
 * every call, so each kernel file (q4_0x4-q8-gemm-neon.c, q8_0x4-q8-gemm-neondot.c, ...) gets
 * its own compiled copy. The including file defines, before including this header,
 *   static inline int32x4_t x4_dot(const int8x16_t w[8], const int8_t *a)
 * the 4 rows' dot products with the 32 int8 at a, w as x4_unpack leaves them.
 *
 * GEMV (m = 1): two groups (8 weight rows) per pass share the activation loads. GEMM: chunks of
 * weight groups stay in cache while every tile of up to 4 activation rows passes over them; or,
 * in strips (x4_q8_gemm_strips: the dotprod kernels, whose dot is cheap enough that sharing each
 * unpacked weight block across 12 rows pays), the activation rows are first copied block-major (a
 * block's 12 rows and their scales contiguous, 4096 values of k at a time) so they load as pairs
 * and the scales as vectors. */
#ifndef FVL_X4_Q8_GEMM_NEON_H
#define FVL_X4_Q8_GEMM_NEON_H

#include <string.h>

#include "x4-neon.h"

#define X4_GROUP_CHUNK       8    /* 4-row tiles: groups of 4 weight rows per cache chunk */
#define X4_STRIP_ROWS        12   /* strips: activation rows per strip */
#define X4_STRIP_KC          4096 /* k per strip: 12 rows x 4096 = 48 KB (+ 6 KB of scales) */
#define X4_STRIP_GROUP_CHUNK 32   /* groups per cache chunk; strips refill per chunk */

#define X4_INLINE static inline __attribute__((always_inline))

/* Block b of the group starting at g. */
X4_INLINE const void *x4_block(bool q4, const void *g, size_t b)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	return (const uint8_t *)g + b * bytes;
}

/* The 4 rows' scales of a block (both block types start with d[4]), and its quants. */
X4_INLINE float32x4_t x4_scales(const void *block)
{
	return fvl_load_f16x4(((const struct fvl_block_q8_0x4 *)block)->d);
}

X4_INLINE void x4_unpack(bool q4, const void *block, int8x16_t w[8])
{
	if (q4)
		unpack_q4(block, w);
	else
		unpack_q8(block, w);
}

/* The factor on every result: Q4_0 values were unpacked times 16. */
X4_INLINE float x4_out_scale(bool q4)
{
	return q4 ? 0.0625f : 1.0f;
}

/* Rows i < mt of y (stride ldy) = (or += with add) scale * acc[i], `valid` lanes each. The
 * accumulators are copied out first by a loop that unrolls: read at a variable index, acc would
 * live in memory and every step of the tile loop would store it. */
X4_INLINE void x4_store_acc(size_t mt, const float32x4_t *acc, float scale, float *y, size_t ldy,
                            size_t valid, bool add)
{
	float32x4_t out[X4_STRIP_ROWS];
	for (size_t i = 0; i < mt; i++)
		out[i] = vmulq_n_f32(acc[i], scale);
	for (size_t i = 0; i < mt; i++)
		store_rows_add(y + i * ldy, out[i], valid, add);
}

/* mt (1..4) activation rows against one group of 4 weight rows. */
X4_INLINE void x4_tile(bool q4, size_t mt, size_t nb, const void *g, const int8_t *aq, size_t k,
                       const float *ad, float *y, size_t ldy, size_t valid)
{
	float32x4_t acc[4];
	for (size_t i = 0; i < mt; i++)
		acc[i] = vdupq_n_f32(0.0f);
	for (size_t b = 0; b < nb; b++) {
		const void *blk = x4_block(q4, g, b);
		int8x16_t w[8];
		x4_unpack(q4, blk, w);
		const float32x4_t wd = x4_scales(blk);
		for (size_t i = 0; i < mt; i++)
			acc[i] =
			        vfmaq_f32(acc[i], vcvtq_f32_s32(x4_dot(w, aq + i * k + b * FVL_QK)),
			                  vmulq_n_f32(wd, ad[i * nb + b]));
	}
	x4_store_acc(mt, acc, x4_out_scale(q4), y, ldy, valid, false);
}

/* GEMV: groups g0 and g1 (valid1 real rows in g1) against the one activation row a. */
X4_INLINE void x4_gemv_pair(bool q4, size_t nb, const void *g0, const void *g1, const int8_t *a,
                            const float *ad, float *y, size_t valid1)
{
	float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
	for (size_t b = 0; b < nb; b++) {
		const void *b0 = x4_block(q4, g0, b), *b1 = x4_block(q4, g1, b);
		int8x16_t w0[8], w1[8];
		x4_unpack(q4, b0, w0);
		x4_unpack(q4, b1, w1);
		const float da = ad[b];
		acc0 = vfmaq_f32(acc0, vcvtq_f32_s32(x4_dot(w0, a + b * FVL_QK)),
		                 vmulq_n_f32(x4_scales(b0), da));
		acc1 = vfmaq_f32(acc1, vcvtq_f32_s32(x4_dot(w1, a + b * FVL_QK)),
		                 vmulq_n_f32(x4_scales(b1), da));
	}
	vst1q_f32(y, vmulq_n_f32(acc0, x4_out_scale(q4)));
	store_rows(y + 4, vmulq_n_f32(acc1, x4_out_scale(q4)), valid1);
}

X4_INLINE void x4_gemv(bool q4, size_t k, size_t n, const void *w, const int8_t *aq,
                       const float *ad, float *y, size_t ldy)
{
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4;
	size_t g = 0;
	for (; g + 2 <= groups; g += 2) {
		const size_t valid1 = n - 4 * (g + 1) < 4 ? n - 4 * (g + 1) : 4;
		x4_gemv_pair(q4, nb, x4_block(q4, w, g * nb), x4_block(q4, w, (g + 1) * nb), aq, ad,
		             y + 4 * g, valid1);
	}
	if (g < groups)
		x4_tile(q4, 1, nb, x4_block(q4, w, g * nb), aq, k, ad, y + 4 * g, ldy, n - 4 * g);
}

/* GEMM in 4-row tiles (the baseline kernels). */
X4_INLINE void x4_q8_gemm_tiles(bool q4, size_t k, size_t n, const void *w, size_t m,
                                const int8_t *aq, const float *ad, float *y, size_t ldy)
{
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4;
	if (m == 1) {
		x4_gemv(q4, k, n, w, aq, ad, y, ldy);
		return;
	}
	for (size_t g0 = 0; g0 < groups; g0 += X4_GROUP_CHUNK) {
		const size_t g1 = g0 + X4_GROUP_CHUNK < groups ? g0 + X4_GROUP_CHUNK : groups;
		for (size_t i = 0; i < m; i += 4) {
			const size_t mt = m - i < 4 ? m - i : 4;
			for (size_t g = g0; g < g1; g++) {
				const size_t valid = n - 4 * g < 4 ? n - 4 * g : 4;
				const void *gb = x4_block(q4, w, g * nb);
				const int8_t *a = aq + i * k;
				const float *d = ad + i * nb;
				float *yo = y + i * ldy + 4 * g;
				switch (mt) { /* constant row counts, so each tile's loops unroll */
				case 1: x4_tile(q4, 1, nb, gb, a, k, d, yo, ldy, valid); break;
				case 2: x4_tile(q4, 2, nb, gb, a, k, d, yo, ldy, valid); break;
				case 3: x4_tile(q4, 3, nb, gb, a, k, d, yo, ldy, valid); break;
				default: x4_tile(q4, 4, nb, gb, a, k, d, yo, ldy, valid); break;
				}
			}
		}
	}
}

/* ---- strips (dotprod) ------------------------------------------------------------------------ */

struct x4_strip {
	int8_t q[X4_STRIP_ROWS * X4_STRIP_KC]; /* block b, row r at (b * X4_STRIP_ROWS + r) * 32 */
	float d[X4_STRIP_ROWS * (X4_STRIP_KC / FVL_QK)];
};

/* What a strip GEMM's fill and tile steps read. */
struct x4_strip_gemm {
	size_t k, n, m, ldy;
	const void *w;
	const int8_t *aq;
	const float *ad;
	float *y;
	struct x4_strip s;
};

/* Blocks b0 .. b0 + nbc of the step's activation rows into the strip. */
static inline void x4_strip_fill(const struct x4_strip_step *st, void *ctx)
{
	struct x4_strip_gemm *c = ctx;
	const size_t k = c->k, nb = k / FVL_QK;
	const int8_t *aq = c->aq + st->i * k;
	const float *ad = c->ad + st->i * nb;
	for (size_t b = 0; b < st->nbc; b++)
		for (size_t r = 0; r < X4_STRIP_ROWS; r++) {
			int8_t *q = c->s.q + (b * X4_STRIP_ROWS + r) * FVL_QK;
			if (r < st->rows)
				memcpy(q, aq + r * k + (st->b0 + b) * FVL_QK, FVL_QK);
			c->s.d[b * X4_STRIP_ROWS + r] =
			        r < st->rows ? ad[r * nb + st->b0 + b] : 0.0f;
		}
}

/* mt (1..12) strip rows against one group of 4 weight rows. */
X4_INLINE void x4_strip_tile(bool q4, size_t mt, size_t nb, const void *g, const struct x4_strip *s,
                             float *y, size_t ldy, size_t valid, bool add)
{
	float32x4_t acc[X4_STRIP_ROWS];
	for (size_t i = 0; i < mt; i++)
		acc[i] = vdupq_n_f32(0.0f);
	for (size_t b = 0; b < nb; b++) {
		const void *blk = x4_block(q4, g, b);
		int8x16_t w[8];
		x4_unpack(q4, blk, w);
		const float32x4_t wd = x4_scales(blk);
		const int8_t *q = s->q + b * X4_STRIP_ROWS * FVL_QK;
		const float32x4_t d2 = vld1q_f32(s->d + b * X4_STRIP_ROWS + 8);
		const float32x4_t d0 = vld1q_f32(s->d + b * X4_STRIP_ROWS);
		const float32x4_t d1 = vld1q_f32(s->d + b * X4_STRIP_ROWS + 4);
		for (size_t i = 0; i < mt; i++) {
			const float32x4_t d = i < 4 ? d0 : i < 8 ? d1 : d2;
			float32x4_t ds;
			switch (i & 3) { /* the lane must be a constant */
			case 0: ds = vmulq_laneq_f32(wd, d, 0); break;
			case 1: ds = vmulq_laneq_f32(wd, d, 1); break;
			case 2: ds = vmulq_laneq_f32(wd, d, 2); break;
			default: ds = vmulq_laneq_f32(wd, d, 3); break;
			}
			acc[i] = vfmaq_f32(acc[i], vcvtq_f32_s32(x4_dot(w, q + i * FVL_QK)), ds);
		}
	}
	x4_store_acc(mt, acc, x4_out_scale(q4), y, ldy, valid, add);
}

/* The strip tile for the step's row count (a constant per case, so each tile unrolls). */
X4_INLINE void
x4_strip_step_tile(bool q4, const struct x4_strip_step *st, const struct x4_strip_gemm *c)
{
	const size_t nb = c->k / FVL_QK;
	const void *g = x4_block(q4, c->w, st->g * nb + st->b0);
	float *y = c->y + st->i * c->ldy + 4 * st->g;
	const struct x4_strip *s = &c->s;
	switch (st->rows) {
	case 1: x4_strip_tile(q4, 1, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 2: x4_strip_tile(q4, 2, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 3: x4_strip_tile(q4, 3, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 4: x4_strip_tile(q4, 4, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 5: x4_strip_tile(q4, 5, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 6: x4_strip_tile(q4, 6, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 7: x4_strip_tile(q4, 7, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 8: x4_strip_tile(q4, 8, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 9: x4_strip_tile(q4, 9, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 10: x4_strip_tile(q4, 10, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	case 11: x4_strip_tile(q4, 11, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	default: x4_strip_tile(q4, 12, st->nbc, g, s, y, c->ldy, st->valid, st->add); break;
	}
}

/* GEMM in strips; tile is the file's x4_strip_step_tile for its weight type. */
X4_INLINE void x4_q8_gemm_strips(bool q4, size_t k, size_t n, const void *w, size_t m,
                                 const int8_t *aq, const float *ad, float *y, size_t ldy,
                                 void (*tile)(const struct x4_strip_step *st, void *ctx))
{
	if (m == 1) {
		x4_gemv(q4, k, n, w, aq, ad, y, ldy);
		return;
	}
	struct x4_strip_gemm c; /* not zeroed: the strip is 54 KB, filled before it is read */
	c.k = k, c.n = n, c.m = m, c.ldy = ldy, c.w = w, c.aq = aq, c.ad = ad, c.y = y;
	x4_for_each_strip_tile(k, n, m, X4_STRIP_GROUP_CHUNK, X4_STRIP_KC, X4_STRIP_ROWS,
	                       x4_strip_fill, tile, &c);
}

#endif /* FVL_X4_Q8_GEMM_NEON_H */
