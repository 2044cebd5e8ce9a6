/* x4-q8-gemm-neoni8mm.h — the quantized GEMM with the int8 matrix-multiply instruction (Armv8.6
 * i8mm) for q4_0x4-q8-gemm-neoni8mm.c and q8_0x4-q8-gemm-neoni8mm.c, as always-inline functions of
 * the weight type: smmla multiplies a 2x8 weight tile by a 2x8 activation tile into a 2x2 int32
 * tile, 32 multiply-accumulates per instruction. Activation rows go in strips of 12: each strip is
 * zipped once (per 4096 values of k) into smmla's operand order (row pairs interleaved in 8-byte
 * chunks, with the pair's scales laid out as the 2x2 tile's lanes) and then meets every weight
 * group of a cache chunk, so the inner loop is one load of activations per row pair and block. The
 * x4 layout's 4-byte chunks are zipped into 8-byte rows once per block and shared by the strip's
 * six pairs. A GEMV (m = 1) goes to the dot-product kernel (every i8mm core has it). Needs
 * +dotprod+i8mm. */
#ifndef FVL_X4_Q8_GEMM_NEONI8MM_H
#define FVL_X4_Q8_GEMM_NEONI8MM_H

#include "x4-neon.h"

#define STRIP       12   /* activation rows per strip: 6 pairs */
#define STRIP_KC    4096 /* k per strip: 12 rows x 4096 = 48 KB (+ 6 KB of scales) */
#define GROUP_CHUNK 32   /* groups of 4 weight rows per cache chunk (Q4_0, k = 3072: 288 KB) */

#define I8MM_INLINE static inline __attribute__((always_inline))

/* A strip in smmla order, block-major so a block's six pairs are one 384-byte run: block b, pair p
 * at (b * 6 + p): 4 chunks of [x 8 bytes, y 8 bytes], and the scales [dx, dy, dx, dy] (a missing
 * odd row is zeros with scale 0). */
struct strip {
	int8_t q[STRIP_KC * STRIP];
	float d[(STRIP_KC / FVL_QK) * STRIP / 2 * 4];
};

/* What the fill and tile steps read. */
struct i8mm_gemm {
	size_t k, ldy;
	const void *w;
	const int8_t *aq;
	const float *ad;
	float *y;
	struct strip s;
};

/* Blocks b0 .. b0 + nbc of `rows` activation rows (row stride k) into s. */
static void zip_strip(size_t k, size_t b0, size_t nbc, size_t rows, const int8_t *aq,
                      const float *ad, struct strip *s)
{
	const size_t nb = k / FVL_QK;
	for (size_t p = 0; 2 * p < rows; p++) {
		const int8_t *x = aq + 2 * p * k + b0 * FVL_QK,
		             *y = 2 * p + 1 < rows ? x + k : NULL;
		const float *dx = ad + 2 * p * nb + b0, *dy = y ? dx + nb : NULL;
		for (size_t b = 0; b < nbc; b++) {
			const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8(x + b * FVL_QK));
			const int64x2_t x1 = vreinterpretq_s64_s8(vld1q_s8(x + b * FVL_QK + 16));
			const int64x2_t y0 =
			        y ? vreinterpretq_s64_s8(vld1q_s8(y + b * FVL_QK)) : vdupq_n_s64(0);
			const int64x2_t y1 = y ? vreinterpretq_s64_s8(vld1q_s8(y + b * FVL_QK + 16))
			                       : vdupq_n_s64(0);
			int8x16x4_t z;
			z.val[0] = vreinterpretq_s8_s64(vzip1q_s64(x0, y0));
			z.val[1] = vreinterpretq_s8_s64(vzip2q_s64(x0, y0));
			z.val[2] = vreinterpretq_s8_s64(vzip1q_s64(x1, y1));
			z.val[3] = vreinterpretq_s8_s64(vzip2q_s64(x1, y1));
			vst1q_s8_x4(s->q + (b * STRIP / 2 + p) * 64, z);
			const float d1 = dy ? dy[b] : 0.0f;
			const float d[4] = {dx[b], d1, dx[b], d1};
			vst1q_f32(s->d + (b * STRIP / 2 + p) * 4, vld1q_f32(d));
		}
	}
}

/* A block's weights as smmla operands: r01[j] = 8-byte k-chunk j (elements 8j..8j+7) of rows 0
 * and 1, r23[j] of rows 2 and 3. The x4 layout holds 4-byte chunks, so chunks 2j and 2j+1 are
 * zipped; for Q4_0 the zip happens on the packed bytes, before the nibbles are split (4 zips, not
 * 8), because a byte's low and high nibbles sit in the same position of chunks c and c + 4. */
static inline void zip_q4(const struct fvl_block_q4_0x4 *b, int8x16_t r01[4], int8x16_t r23[4])
{
	const uint8x16x4_t v = vld1q_u8_x4(b->qs);
	const uint8x16_t m = vdupq_n_u8(0xf0);
	for (int h = 0; h < 2;
	     h++) { /* chunks (0, 1) -> k 0..7 and 16..23; (2, 3) -> 8..15, 24..31 */
		const uint32x4_t a = vreinterpretq_u32_u8(v.val[2 * h]),
		                 c = vreinterpretq_u32_u8(v.val[2 * h + 1]);
		const uint8x16_t z01 = vreinterpretq_u8_u32(vzip1q_u32(a, c));
		const uint8x16_t z23 = vreinterpretq_u8_u32(vzip2q_u32(a, c));
		r01[h] = vshlq_n_s8(vreinterpretq_s8_u8(z01), 4);
		r23[h] = vshlq_n_s8(vreinterpretq_s8_u8(z23), 4);
		r01[h + 2] = vreinterpretq_s8_u8(vandq_u8(z01, m));
		r23[h + 2] = vreinterpretq_s8_u8(vandq_u8(z23, m));
	}
}

static inline void zip_q8(const struct fvl_block_q8_0x4 *b, int8x16_t r01[4], int8x16_t r23[4])
{
	int8x16_t w[8];
	unpack_q8(b, w);
	for (int j = 0; j < 4; j++) {
		const int32x4_t a = vreinterpretq_s32_s8(w[2 * j]),
		                c = vreinterpretq_s32_s8(w[2 * j + 1]);
		r01[j] = vreinterpretq_s8_s32(vzip1q_s32(a, c));
		r23[j] = vreinterpretq_s8_s32(vzip2q_s32(a, c));
	}
}

/* One row pair of a block: the pair's activations at q (4 x 16 bytes) and scales at d against the
 * block's zipped weights, into the pair's accumulators. */
I8MM_INLINE void pair_step(const int8x16_t r01[4], const int8x16_t r23[4], float32x4_t wd01,
                           float32x4_t wd23, const int8_t *q, const float *d, float32x4_t *fp01,
                           float32x4_t *fp23)
{
	const int8x16x4_t a = vld1q_s8_x4(q);
	const float32x4_t da = vld1q_f32(d);
	int32x4_t s01 = vmmlaq_s32(vdupq_n_s32(0), r01[0], a.val[0]);
	int32x4_t s23 = vmmlaq_s32(vdupq_n_s32(0), r23[0], a.val[0]);
	for (int j = 1; j < 4; j++) {
		s01 = vmmlaq_s32(s01, r01[j], a.val[j]);
		s23 = vmmlaq_s32(s23, r23[j], a.val[j]);
	}
	*fp01 = vfmaq_f32(*fp01, vcvtq_f32_s32(s01), vmulq_f32(wd01, da));
	*fp23 = vfmaq_f32(*fp23, vcvtq_f32_s32(s23), vmulq_f32(wd23, da));
}

/* The pair's two rows: fp01 = [x r0, y r0, x r1, y r1], so the first row is the even lanes. */
I8MM_INLINE void pair_store(float32x4_t fp01, float32x4_t fp23, float scale, bool second, float *y,
                            size_t ldy, size_t valid, bool add)
{
	store_rows_add(y, vmulq_n_f32(vuzp1q_f32(fp01, fp23), scale), valid, add);
	if (second)
		store_rows_add(y + ldy, vmulq_n_f32(vuzp2q_f32(fp01, fp23), scale), valid, add);
}

/* np (1..6) row pairs of a strip against one group of 4 weight rows; q4: Q4_0 blocks. The
 * accumulators are named variables: as an array, GCC spilled two of them in the block loop. */
I8MM_INLINE void pair_tile(bool q4, size_t np, size_t nb, const void *g, const struct strip *s,
                           size_t rows, float *y, size_t ldy, size_t valid, bool add)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	float32x4_t a01 = vdupq_n_f32(0.0f), a23 = a01, b01 = a01, b23 = a01, c01 = a01, c23 = a01;
	float32x4_t d01 = a01, d23 = a01, e01 = a01, e23 = a01, f01 = a01, f23 = a01;
	for (size_t b = 0; b < nb; b++) {
		const void *blk = (const uint8_t *)g + b * bytes;
		int8x16_t r01[4], r23[4];
		if (q4)
			zip_q4(blk, r01, r23);
		else
			zip_q8(blk, r01, r23);
		const float32x4_t wd = fvl_load_f16x4(((const struct fvl_block_q8_0x4 *)blk)->d);
		const float32x4_t wd01 = vzip1q_f32(wd, wd), wd23 = vzip2q_f32(wd, wd);
		const int8_t *q = s->q + b * (STRIP / 2 * 64);
		const float *d = s->d + b * (STRIP / 2 * 4);
		pair_step(r01, r23, wd01, wd23, q, d, &a01, &a23);
		if (np > 1)
			pair_step(r01, r23, wd01, wd23, q + 64, d + 4, &b01, &b23);
		if (np > 2)
			pair_step(r01, r23, wd01, wd23, q + 128, d + 8, &c01, &c23);
		if (np > 3)
			pair_step(r01, r23, wd01, wd23, q + 192, d + 12, &d01, &d23);
		if (np > 4)
			pair_step(r01, r23, wd01, wd23, q + 256, d + 16, &e01, &e23);
		if (np > 5)
			pair_step(r01, r23, wd01, wd23, q + 320, d + 20, &f01, &f23);
	}
	const float scale = q4 ? 0.0625f : 1.0f; /* Q4_0 values were unpacked times 16 */
	pair_store(a01, a23, scale, rows > 1, y, ldy, valid, add);
	if (np > 1)
		pair_store(b01, b23, scale, rows > 3, y + 2 * ldy, ldy, valid, add);
	if (np > 2)
		pair_store(c01, c23, scale, rows > 5, y + 4 * ldy, ldy, valid, add);
	if (np > 3)
		pair_store(d01, d23, scale, rows > 7, y + 6 * ldy, ldy, valid, add);
	if (np > 4)
		pair_store(e01, e23, scale, rows > 9, y + 8 * ldy, ldy, valid, add);
	if (np > 5)
		pair_store(f01, f23, scale, rows > 11, y + 10 * ldy, ldy, valid, add);
}

static void i8mm_fill(const struct x4_strip_step *st, void *ctx)
{
	struct i8mm_gemm *c = ctx;
	const size_t nb = c->k / FVL_QK;
	zip_strip(c->k, st->b0, st->nbc, st->rows, c->aq + st->i * c->k, c->ad + st->i * nb, &c->s);
}

/* The pair tile for the step's row count (a constant per case, so each tile unrolls). */
I8MM_INLINE void i8mm_step_tile(bool q4, const struct x4_strip_step *st, const struct i8mm_gemm *c)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	const size_t nb = c->k / FVL_QK;
	const void *g = (const uint8_t *)c->w + (st->g * nb + st->b0) * bytes;
	float *y = c->y + st->i * c->ldy + 4 * st->g;
	const size_t r = st->rows;
	switch ((r + 1) / 2) {
	case 1: pair_tile(q4, 1, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	case 2: pair_tile(q4, 2, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	case 3: pair_tile(q4, 3, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	case 4: pair_tile(q4, 4, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	case 5: pair_tile(q4, 5, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	default: pair_tile(q4, 6, st->nbc, g, &c->s, r, y, c->ldy, st->valid, st->add); break;
	}
}

/* The GEMM (m > 1; the file sends m = 1 to the dot-product kernel); tile is the file's
 * i8mm_step_tile for its weight type. */
I8MM_INLINE void x4_q8_gemm_i8mm(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy,
                                 void (*tile)(const struct x4_strip_step *st, void *ctx))
{
	struct i8mm_gemm c; /* not zeroed: the strip is 54 KB, filled before it is read */
	c.k = k, c.ldy = ldy, c.w = w, c.aq = aq, c.ad = ad, c.y = y;
	x4_for_each_strip_tile(k, n, m, GROUP_CHUNK, STRIP_KC, STRIP, i8mm_fill, tile, &c);
}

#endif /* FVL_X4_Q8_GEMM_NEONI8MM_H */
