/* pack-f16p16.c — repacks f16 weight rows into the f16p16 layout at load time: panels of 16
 * columns, k-major (see kernels.h), for the outer-product tiles of the f16p16 GEMMs. */
#include "kernels.h"

size_t fvl_pack_f16p16_size(size_t n, size_t k)
{
	return (n + FVL_F16P16_COLS - 1) / FVL_F16P16_COLS * FVL_F16P16_COLS * k;
}

#if defined(__aarch64__)
#include <arm_neon.h>

/* Columns e..e+7 of 8 rows as 8 vectors of the rows' values (an 8 x 8 transpose of halves). */
static void transpose8(const uint16_t *const *row, size_t e, uint16x8_t col[8])
{
	uint16x8_t r[8], t[8];
	uint32x4_t u[8];
	for (int i = 0; i < 8; i++)
		r[i] = vld1q_u16(row[i] + e);
	for (int i = 0; i < 8; i += 2) {
		t[i] = vtrn1q_u16(r[i], r[i + 1]);
		t[i + 1] = vtrn2q_u16(r[i], r[i + 1]);
	}
	for (int h = 0; h < 8; h += 4) { /* rows h..h+3: u[h + j] holds columns j and j + 4 */
		u[h] = vtrn1q_u32(vreinterpretq_u32_u16(t[h]), vreinterpretq_u32_u16(t[h + 2]));
		u[h + 1] = vtrn1q_u32(vreinterpretq_u32_u16(t[h + 1]),
		                      vreinterpretq_u32_u16(t[h + 3]));
		u[h + 2] = vtrn2q_u32(vreinterpretq_u32_u16(t[h]), vreinterpretq_u32_u16(t[h + 2]));
		u[h + 3] = vtrn2q_u32(vreinterpretq_u32_u16(t[h + 1]),
		                      vreinterpretq_u32_u16(t[h + 3]));
	}
	for (int j = 0; j < 4; j++) {
		const uint64x2_t a = vreinterpretq_u64_u32(u[j]),
		                 b = vreinterpretq_u64_u32(u[4 + j]);
		col[j] = vreinterpretq_u16_u64(vtrn1q_u64(a, b));
		col[j + 4] = vreinterpretq_u16_u64(vtrn2q_u64(a, b));
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
		if ((p + 1) * FVL_F16P16_COLS <= n) /* a full panel: 8 values of k at a time */
			for (; e + 8 <= k; e += 8) {
				uint16x8_t lo[8], hi[8];
				transpose8(row, e, lo);
				transpose8(row + 8, e, hi);
				for (int j = 0; j < 8; j++) {
					vst1q_u16(o + (e + (size_t)j) * FVL_F16P16_COLS, lo[j]);
					vst1q_u16(o + (e + (size_t)j) * FVL_F16P16_COLS + 8, hi[j]);
				}
			}
#endif
		for (; e < k; e++)
			for (size_t c = 0; c < FVL_F16P16_COLS; c++)
				o[e * FVL_F16P16_COLS + c] = row[c][e * step[c]];
	}
}
