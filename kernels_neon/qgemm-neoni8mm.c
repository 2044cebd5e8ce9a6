/* qgemm-neoni8mm.c — Q4_0 / Q8_0 (x4-packed) x q8 GEMM with the int8 matrix-multiply instruction
 * (Armv8.6 i8mm): smmla multiplies a 2x8 weight tile by a 2x8 activation tile into a 2x2 int32
 * tile, 32 multiply-accumulates per instruction. Activation rows go in strips of 12: each strip is
 * zipped once (per 4096 values of k) into smmla's operand order (row pairs interleaved in 8-byte chunks, with the pair's
 * scales laid out as the 2x2 tile's lanes) and then meets every weight group of a cache chunk, so
 * the inner loop is one load of activations per row pair and block. The x4 layout's 4-byte chunks
 * are zipped into 8-byte rows once per block and shared by the strip's six pairs. A GEMV (m = 1)
 * goes to the dot-product kernel (every i8mm core has it). Built with +dotprod+i8mm. */
#include "qgemm-x4.h"

#define STRIP 12          /* activation rows per strip: 6 pairs */
#define STRIP_KC 4096     /* k per strip: 12 rows x 4096 = 48 KB (+ 6 KB of scales) */
#define GROUP_CHUNK 32    /* groups of 4 weight rows per cache chunk (Q4_0, k = 3072: 288 KB) */

/* A strip in smmla order, block-major so a block's six pairs are one 384-byte run: block b, pair p
 * at (b * 6 + p): 4 chunks of [x 8 bytes, y 8 bytes], and the scales [dx, dy, dx, dy] (a missing
 * odd row is zeros with scale 0). */
struct strip {
	int8_t q[STRIP_KC * STRIP];
	float d[(STRIP_KC / FVL_QK) * STRIP / 2 * 4];
};

/* Blocks b0 .. b0 + nbc of `rows` activation rows (row stride k) into s. */
static void zip_strip(size_t k, size_t b0, size_t nbc, size_t rows, const int8_t *aq,
                      const float *ad, struct strip *s)
{
	const size_t nb = k / FVL_QK;
	for (size_t p = 0; 2 * p < rows; p++) {
		const int8_t *x = aq + 2 * p * k + b0 * FVL_QK, *y = 2 * p + 1 < rows ? x + k : NULL;
		const float *dx = ad + 2 * p * nb + b0, *dy = y ? dx + nb : NULL;
		for (size_t b = 0; b < nbc; b++) {
			const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8(x + b * FVL_QK));
			const int64x2_t x1 = vreinterpretq_s64_s8(vld1q_s8(x + b * FVL_QK + 16));
			const int64x2_t y0 = y ? vreinterpretq_s64_s8(vld1q_s8(y + b * FVL_QK)) : vdupq_n_s64(0);
			const int64x2_t y1 = y ? vreinterpretq_s64_s8(vld1q_s8(y + b * FVL_QK + 16)) : vdupq_n_s64(0);
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
	for (int h = 0; h < 2; h++) { /* chunks (0, 1) -> k 0..7 and 16..23; (2, 3) -> 8..15, 24..31 */
		const uint32x4_t a = vreinterpretq_u32_u8(v.val[2 * h]), c = vreinterpretq_u32_u8(v.val[2 * h + 1]);
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
		const int32x4_t a = vreinterpretq_s32_s8(w[2 * j]), c = vreinterpretq_s32_s8(w[2 * j + 1]);
		r01[j] = vreinterpretq_s8_s32(vzip1q_s32(a, c));
		r23[j] = vreinterpretq_s8_s32(vzip2q_s32(a, c));
	}
}

/* Pair p of the block at q / d into the accumulators fp01 / fp23 (named variables, so they stay in
 * registers). */
#define PAIR_STEP(NP, p, fp01, fp23)                                                               \
	if (NP > p) {                                                                              \
		const int8x16x4_t a = vld1q_s8_x4(q + 64 * p);                                    \
		const float32x4_t da = vld1q_f32(d + 4 * p);                                       \
		int32x4_t s01 = vmmlaq_s32(vdupq_n_s32(0), r01[0], a.val[0]);                      \
		int32x4_t s23 = vmmlaq_s32(vdupq_n_s32(0), r23[0], a.val[0]);                      \
		for (int j = 1; j < 4; j++) {                                                      \
			s01 = vmmlaq_s32(s01, r01[j], a.val[j]);                                   \
			s23 = vmmlaq_s32(s23, r23[j], a.val[j]);                                   \
		}                                                                                  \
		fp01 = vfmaq_f32(fp01, vcvtq_f32_s32(s01), vmulq_f32(wd01, da));                   \
		fp23 = vfmaq_f32(fp23, vcvtq_f32_s32(s23), vmulq_f32(wd23, da));                   \
	}
/* fp01 = [x r0, y r0, x r1, y r1]: the pair's first row is the even lanes. */
#define PAIR_STORE(NP, p, fp01, fp23, OUT_SCALE)                                                   \
	if (NP > p) {                                                                              \
		float *yx = y + (size_t)(2 * p) * ldy;                                             \
		store_rows_add(yx, vmulq_n_f32(vuzp1q_f32(fp01, fp23), OUT_SCALE), valid, add);    \
		if (2 * p + 1 < rows)                                                              \
			store_rows_add(yx + ldy, vmulq_n_f32(vuzp2q_f32(fp01, fp23), OUT_SCALE),   \
			               valid, add);                                                \
	}

/* NP row pairs of a strip against one group of 4 weight rows. */
#define PAIR_TILE(name, BLOCK_T, UNPACK, OUT_SCALE, NP)                                             \
	static inline void name(size_t nb, const BLOCK_T *g, const struct strip *s, size_t rows,   \
	                        float *y, size_t ldy, size_t valid, bool add)                      \
	{                                                                                          \
		float32x4_t a01 = vdupq_n_f32(0.0f), a23 = a01, b01 = a01, b23 = a01;              \
		float32x4_t c01 = a01, c23 = a01, d01 = a01, d23 = a01;                            \
		float32x4_t e01 = a01, e23 = a01, f01 = a01, f23 = a01;                            \
		for (size_t b = 0; b < nb; b++) {                                                  \
			int8x16_t r01[4], r23[4];                                                  \
			UNPACK(&g[b], r01, r23);                                                   \
			const float32x4_t wd = fvl_load_f16x4(g[b].d);                             \
			const float32x4_t wd01 = vzip1q_f32(wd, wd), wd23 = vzip2q_f32(wd, wd);    \
			const int8_t *q = s->q + b * (STRIP / 2 * 64);                             \
			const float *d = s->d + b * (STRIP / 2 * 4);                               \
			PAIR_STEP(NP, 0, a01, a23) PAIR_STEP(NP, 1, b01, b23)                      \
			PAIR_STEP(NP, 2, c01, c23) PAIR_STEP(NP, 3, d01, d23)                      \
			PAIR_STEP(NP, 4, e01, e23) PAIR_STEP(NP, 5, f01, f23)                      \
		}                                                                                  \
		PAIR_STORE(NP, 0, a01, a23, OUT_SCALE) PAIR_STORE(NP, 1, b01, b23, OUT_SCALE)      \
		PAIR_STORE(NP, 2, c01, c23, OUT_SCALE) PAIR_STORE(NP, 3, d01, d23, OUT_SCALE)      \
		PAIR_STORE(NP, 4, e01, e23, OUT_SCALE) PAIR_STORE(NP, 5, f01, f23, OUT_SCALE)      \
	}

#define KERNEL(name, BLOCK_T, UNPACK, OUT_SCALE, DOT_KERNEL)                                        \
	PAIR_TILE(name##_p1, BLOCK_T, UNPACK, OUT_SCALE, 1)                                        \
	PAIR_TILE(name##_p2, BLOCK_T, UNPACK, OUT_SCALE, 2)                                        \
	PAIR_TILE(name##_p3, BLOCK_T, UNPACK, OUT_SCALE, 3)                                        \
	PAIR_TILE(name##_p4, BLOCK_T, UNPACK, OUT_SCALE, 4)                                        \
	PAIR_TILE(name##_p5, BLOCK_T, UNPACK, OUT_SCALE, 5)                                        \
	PAIR_TILE(name##_p6, BLOCK_T, UNPACK, OUT_SCALE, 6)                                        \
	static void name##_tile(size_t nb, const BLOCK_T *g, const struct strip *s, size_t rows,   \
	                        float *y, size_t ldy, size_t valid, bool add)                      \
	{                                                                                          \
		switch ((rows + 1) / 2) {                                                          \
		case 1: name##_p1(nb, g, s, rows, y, ldy, valid, add); break;                      \
		case 2: name##_p2(nb, g, s, rows, y, ldy, valid, add); break;                      \
		case 3: name##_p3(nb, g, s, rows, y, ldy, valid, add); break;                      \
		case 4: name##_p4(nb, g, s, rows, y, ldy, valid, add); break;                      \
		case 5: name##_p5(nb, g, s, rows, y, ldy, valid, add); break;                      \
		default: name##_p6(nb, g, s, rows, y, ldy, valid, add); break;                     \
		}                                                                                  \
	}                                                                                          \
	void name(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,  \
	          float *y, size_t ldy)                                                             \
	{                                                                                          \
		if (m == 1) {                                                                      \
			DOT_KERNEL(k, n, w, m, aq, ad, y, ldy);                                    \
			return;                                                                    \
		}                                                                                  \
		struct strip s;                                                                    \
		const BLOCK_T *wb = w;                                                             \
		const size_t nb = k / FVL_QK;                                                      \
		FOR_STRIP_TILES(k, n, m, GROUP_CHUNK, STRIP_KC, STRIP,                             \
		                zip_strip(k, b0, nbc, rows, aq + i * k, ad + i * nb, &s),         \
		                name##_tile(nbc, wb + g * nb + b0, &s, rows, y + i * ldy + 4 * g, \
		                            ldy, valid, add))                                      \
	}

KERNEL(fvl_q4_0x4_q8_gemm__neoni8mm, struct fvl_block_q4_0x4, zip_q4, 0.0625f,
       fvl_q4_0x4_q8_gemm__neondot)
KERNEL(fvl_q8_0x4_q8_gemm__neoni8mm, struct fvl_block_q8_0x4, zip_q8, 1.0f,
       fvl_q8_0x4_q8_gemm__neondot)
