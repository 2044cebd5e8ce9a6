/* qgemm-neoni8mm.c — Q4_0 / Q8_0 (x4-packed) x q8 GEMM with the int8 matrix-multiply instruction
 * (Armv8.6 i8mm): smmla multiplies a 2x8 weight tile by a 2x8 activation tile into a 2x2 int32
 * tile, 32 multiply-accumulates per instruction. The x4 layout's 4-byte chunks are zipped into
 * the 8-byte rows smmla wants; activation rows go in pairs, an odd last row through the
 * dot-product kernel (every i8mm core has it). Built with +dotprod+i8mm. */
#include "qgemm-x4.h"

/* 8-byte k-chunks for rows (0,1) and (2,3) from w[] (see qgemm-x4.h): chunk j covers elements
 * 8j..8j+7, i.e. 4-byte chunks 2j and 2j+1. */
static inline void zip_rows(const int8x16_t w[8], int8x16_t r01[4], int8x16_t r23[4])
{
	for (int j = 0; j < 4; j++) {
		const int32x4_t a = vreinterpretq_s32_s8(w[2 * j]), b = vreinterpretq_s32_s8(w[2 * j + 1]);
		r01[j] = vreinterpretq_s8_s32(vzip1q_s32(a, b));
		r23[j] = vreinterpretq_s8_s32(vzip2q_s32(a, b));
	}
}

/* Two activation rows as smmla's second operand: chunk j = [x 8j..8j+7, y 8j..8j+7]. */
static inline void zip_acts(const int8_t *x, const int8_t *y, int8x16_t p[4])
{
	const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8(x)), x1 = vreinterpretq_s64_s8(vld1q_s8(x + 16));
	const int64x2_t y0 = vreinterpretq_s64_s8(vld1q_s8(y)), y1 = vreinterpretq_s64_s8(vld1q_s8(y + 16));
	p[0] = vreinterpretq_s8_s64(vzip1q_s64(x0, y0));
	p[1] = vreinterpretq_s8_s64(vzip2q_s64(x0, y0));
	p[2] = vreinterpretq_s8_s64(vzip1q_s64(x1, y1));
	p[3] = vreinterpretq_s8_s64(vzip2q_s64(x1, y1));
}

/* NP pairs of activation rows (2 * NP rows) against one group of 4 weight rows. */
#define PAIR_TILE(name, BLOCK_T, UNPACK, OUT_SCALE, NP)                                             \
	static inline void name(size_t nb, const BLOCK_T *g, const int8_t *aq, size_t k,            \
	                        const float *ad, float *y, size_t ldy, size_t valid)               \
	{                                                                                          \
		float32x4_t f01[NP], f23[NP];                                                      \
		for (int p = 0; p < NP; p++)                                                       \
			f01[p] = f23[p] = vdupq_n_f32(0.0f);                                       \
		for (size_t b = 0; b < nb; b++) {                                                  \
			int8x16_t w[8], r01[4], r23[4];                                            \
			UNPACK(&g[b], w);                                                          \
			zip_rows(w, r01, r23);                                                     \
			const float32x4_t wd = fvl_load_f16x4(g[b].d);                             \
			const float32x4_t wd01 = vzip1q_f32(wd, wd), wd23 = vzip2q_f32(wd, wd);    \
			for (int p = 0; p < NP; p++) {                                             \
				const int8_t *x = aq + (size_t)(2 * p) * k + b * FVL_QK;           \
				int8x16_t a[4];                                                    \
				zip_acts(x, x + k, a);                                             \
				int32x4_t s01 = vdupq_n_s32(0), s23 = vdupq_n_s32(0);              \
				for (int j = 0; j < 4; j++) {                                      \
					s01 = vmmlaq_s32(s01, r01[j], a[j]);                       \
					s23 = vmmlaq_s32(s23, r23[j], a[j]);                       \
				}                                                                  \
				const float d0 = ad[(size_t)(2 * p) * nb + b];                     \
				const float d1 = ad[(size_t)(2 * p + 1) * nb + b];                 \
				const float32x4_t da = vcombine_f32(vset_lane_f32(d1,              \
					vdup_n_f32(d0), 1), vset_lane_f32(d1, vdup_n_f32(d0), 1)); \
				f01[p] = vfmaq_f32(f01[p], vcvtq_f32_s32(s01), vmulq_f32(wd01, da)); \
				f23[p] = vfmaq_f32(f23[p], vcvtq_f32_s32(s23), vmulq_f32(wd23, da)); \
			}                                                                          \
		}                                                                                  \
		/* f01 = [x r0, y r0, x r1, y r1]: rows of x are the even lanes. */               \
		for (int p = 0; p < NP; p++) {                                                     \
			float *yx = y + (size_t)(2 * p) * ldy;                                     \
			store_rows(yx, vmulq_n_f32(vuzp1q_f32(f01[p], f23[p]), OUT_SCALE), valid); \
			store_rows(yx + ldy, vmulq_n_f32(vuzp2q_f32(f01[p], f23[p]), OUT_SCALE), valid); \
		}                                                                                  \
	}

#define KERNEL(name, BLOCK_T, UNPACK, OUT_SCALE, TAIL)                                               \
	PAIR_TILE(name##_pair1, BLOCK_T, UNPACK, OUT_SCALE, 1)                                     \
	PAIR_TILE(name##_pair2, BLOCK_T, UNPACK, OUT_SCALE, 2)                                     \
	void name(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,  \
	          float *y, size_t ldy)                                                             \
	{                                                                                          \
		const BLOCK_T *wb = w;                                                             \
		const size_t nb = k / FVL_QK, groups = (n + 3) / 4, me = m & ~(size_t)1;           \
		for (size_t g0 = 0; g0 < groups; g0 += 8) {                                        \
			const size_t g1 = g0 + 8 < groups ? g0 + 8 : groups;                       \
			for (size_t i = 0; i < me; i += 4) {                                       \
				for (size_t g = g0; g < g1; g++) {                                 \
					const size_t valid = n - 4 * g < 4 ? n - 4 * g : 4;        \
					if (me - i >= 4)                                           \
						name##_pair2(nb, wb + g * nb, aq + i * k, k,       \
						             ad + i * nb, y + i * ldy + 4 * g, ldy, valid); \
					else                                                       \
						name##_pair1(nb, wb + g * nb, aq + i * k, k,       \
						             ad + i * nb, y + i * ldy + 4 * g, ldy, valid); \
				}                                                                  \
			}                                                                          \
		}                                                                                  \
		if (m & 1)                                                                         \
			TAIL(k, n, w, 1, aq + me * k, ad + me * nb, y + me * ldy, ldy);            \
	}

KERNEL(fvl_q4_0x4_q8_gemm__neoni8mm, struct fvl_block_q4_0x4, unpack_q4, 0.0625f,
       fvl_q4_0x4_q8_gemm__neondot)
KERNEL(fvl_q8_0x4_q8_gemm__neoni8mm, struct fvl_block_q8_0x4, unpack_q8, 1.0f,
       fvl_q8_0x4_q8_gemm__neondot)
