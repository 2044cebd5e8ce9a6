/* pack-f16p16.c — repacks f16 weight rows into the f16p16 layout at load time: panels of 16
 * columns, k-major (see kernels.h), for the outer-product tiles of the f16p16 GEMMs. */
#include "kernels.h"

size_t fvl_pack_f16p16_size(size_t n, size_t k)
{
	return (n + FVL_F16P16_COLS - 1) / FVL_F16P16_COLS * FVL_F16P16_COLS * k;
}

#if defined(__aarch64__)
#include <arm_neon.h>

/* Rows r0..r3 at 8 values of k as 4 vectors of 64-bit words: word w of vector j holds the 4 rows'
 * values at k = 2j + w (two zips: halves of row pairs, then words of the pairs). */
static inline __attribute__((always_inline)) void
zip4(uint16x8_t r0, uint16x8_t r1, uint16x8_t r2, uint16x8_t r3, uint64x2_t out[4])
{
	const uint32x4_t a = vreinterpretq_u32_u16(vzip1q_u16(r0, r1)),
	                 b = vreinterpretq_u32_u16(vzip2q_u16(r0, r1)),
	                 c = vreinterpretq_u32_u16(vzip1q_u16(r2, r3)),
	                 d = vreinterpretq_u32_u16(vzip2q_u16(r2, r3));
	out[0] = vreinterpretq_u64_u32(vzip1q_u32(a, c));
	out[1] = vreinterpretq_u64_u32(vzip2q_u32(a, c));
	out[2] = vreinterpretq_u64_u32(vzip1q_u32(b, d));
	out[3] = vreinterpretq_u64_u32(vzip2q_u32(b, d));
}

/* A full panel's 16 rows, values of k 0 .. k8 (a multiple of 8), 8 at a time: each value of k's
 * 16 halves are the 4 groups' words, which st4 interleaves (2 values of k per store). */
static void panel16(const uint16_t *const p[FVL_F16P16_COLS], size_t k8, uint16_t *o)
{
	for (size_t e = 0; e < k8; e += 8, o += 8 * FVL_F16P16_COLS) {
		uint64x2_t g0[4], g1[4], g2[4], g3[4];
		zip4(vld1q_u16(p[0] + e), vld1q_u16(p[1] + e), vld1q_u16(p[2] + e),
		     vld1q_u16(p[3] + e), g0);
		zip4(vld1q_u16(p[4] + e), vld1q_u16(p[5] + e), vld1q_u16(p[6] + e),
		     vld1q_u16(p[7] + e), g1);
		zip4(vld1q_u16(p[8] + e), vld1q_u16(p[9] + e), vld1q_u16(p[10] + e),
		     vld1q_u16(p[11] + e), g2);
		zip4(vld1q_u16(p[12] + e), vld1q_u16(p[13] + e), vld1q_u16(p[14] + e),
		     vld1q_u16(p[15] + e), g3);
		for (int j = 0; j < 4; j++) {
			const uint64x2x4_t v = {{g0[j], g1[j], g2[j], g3[j]}};
			vst4q_u64((uint64_t *)(void *)(o + 2 * (size_t)j * FVL_F16P16_COLS), v);
		}
	}
}
#endif

void fvl_pack_f16p16(const uint16_t *w, size_t n, size_t k, uint16_t *dst)
{
	static const uint16_t zero[1] = {0};
	for (size_t p = 0; p < (n + FVL_F16P16_COLS - 1) / FVL_F16P16_COLS; p++) {
		const uint16_t *row[FVL_F16P16_COLS]; /* past n: a zero read at index 0 */
		size_t step[FVL_F16P16_COLS];
		for (size_t c = 0; c < FVL_F16P16_COLS; c++) {
			const size_t j = p * FVL_F16P16_COLS + c;
			row[c] = j < n ? w + j * k : zero;
			step[c] = j < n;
		}
		uint16_t *o = dst + p * FVL_F16P16_COLS * k;
		size_t e = 0;
#if defined(__aarch64__)
		if ((p + 1) * FVL_F16P16_COLS <= n) { /* a full panel: 8 values of k at a time */
			e = k & ~(size_t)7;
			panel16(row, e, o);
		}
#endif
		for (; e < k; e++)
			for (size_t c = 0; c < FVL_F16P16_COLS; c++)
				o[e * FVL_F16P16_COLS + c] = row[c][e * step[c]];
	}
}
