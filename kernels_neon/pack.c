/* pack.c — repacks weights at load time: Q4_0 / Q8_0 rows into the x4 layout (see kernels.h), so
 * one sdot by lane computes four rows at once and four-row groups stream sequentially; f16 rows
 * into panels of 16 columns for the fp16-arithmetic GEMM's outer-product tile. */
#include <string.h>

#include "gguf.h"
#include "kernels.h"

size_t fvl_pack_x4_size(int type, size_t n, size_t k)
{
	size_t groups = (n + 3) / 4, nb = k / FVL_QK;
	if (type == FVL_TYPE_Q4_0)
		return groups * nb * sizeof(struct fvl_block_q4_0x4);
	if (type == FVL_TYPE_Q8_0)
		return groups * nb * sizeof(struct fvl_block_q8_0x4);
	return 0;
}

void fvl_pack_q4_0_x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                      struct fvl_block_q4_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++) {
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q4_0x4 *o = &dst[g * nb + b];
			for (int r = 0; r < 4; r++) {
				size_t row = 4 * g + (size_t)r;
				if (row >= n) { /* padding row: scale 0, quants that decode to 0 */
					o->d[r] = 0;
					for (int c = 0; c < 4; c++)
						memset(&o->qs[16 * c + 4 * r], 0, 4); /* (8 ^ 8) nibbles */
					continue;
				}
				const struct fvl_block_q4_0 *s = &src[row * nb + b];
				o->d[r] = s->d;
				for (int c = 0; c < 4; c++)
					for (int i = 0; i < 4; i++)
						o->qs[16 * c + 4 * r + i] = s->qs[4 * c + i] ^ 0x88;
			}
		}
	}
}

void fvl_pack_q8_0_x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                      struct fvl_block_q8_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++) {
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q8_0x4 *o = &dst[g * nb + b];
			for (int r = 0; r < 4; r++) {
				size_t row = 4 * g + (size_t)r;
				const struct fvl_block_q8_0 *s = row < n ? &src[row * nb + b] : NULL;
				o->d[r] = s ? s->d : 0;
				for (int c = 0; c < 8; c++)
					for (int i = 0; i < 4; i++)
						o->qs[16 * c + 4 * r + i] = s ? s->qs[4 * c + i] : 0;
			}
		}
	}
}

size_t fvl_pack_f16_panels_size(size_t n, size_t k)
{
	return (n + FVL_HPANEL - 1) / FVL_HPANEL * FVL_HPANEL * k;
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
		u[h + 1] = vtrn1q_u32(vreinterpretq_u32_u16(t[h + 1]), vreinterpretq_u32_u16(t[h + 3]));
		u[h + 2] = vtrn2q_u32(vreinterpretq_u32_u16(t[h]), vreinterpretq_u32_u16(t[h + 2]));
		u[h + 3] = vtrn2q_u32(vreinterpretq_u32_u16(t[h + 1]), vreinterpretq_u32_u16(t[h + 3]));
	}
	for (int j = 0; j < 4; j++) {
		const uint64x2_t a = vreinterpretq_u64_u32(u[j]), b = vreinterpretq_u64_u32(u[4 + j]);
		col[j] = vreinterpretq_u16_u64(vtrn1q_u64(a, b));
		col[j + 4] = vreinterpretq_u16_u64(vtrn2q_u64(a, b));
	}
}
#endif

void fvl_pack_f16_panels(const uint16_t *w, size_t n, size_t k, uint16_t *dst)
{
	static const uint16_t zero[1] = {0};
	for (size_t p = 0; p < (n + FVL_HPANEL - 1) / FVL_HPANEL; p++) {
		const uint16_t *row[FVL_HPANEL]; /* past n: a zero read at index 0 */
		size_t step[FVL_HPANEL];
		for (size_t c = 0; c < FVL_HPANEL; c++) {
			const size_t j = p * FVL_HPANEL + c;
			row[c] = j < n ? w + j * k : zero;
			step[c] = j < n;
		}
		uint16_t *o = dst + p * FVL_HPANEL * k;
		size_t e = 0;
#if defined(__aarch64__)
		if ((p + 1) * FVL_HPANEL <= n) /* a full panel: 8 values of k at a time */
			for (; e + 8 <= k; e += 8) {
				uint16x8_t lo[8], hi[8];
				transpose8(row, e, lo);
				transpose8(row + 8, e, hi);
				for (int j = 0; j < 8; j++) {
					vst1q_u16(o + (e + (size_t)j) * FVL_HPANEL, lo[j]);
					vst1q_u16(o + (e + (size_t)j) * FVL_HPANEL + 8, hi[j]);
				}
			}
#endif
		for (; e < k; e++)
			for (size_t c = 0; c < FVL_HPANEL; c++)
				o[e * FVL_HPANEL + c] = row[c][e * step[c]];
	}
}
