/* pack-x4.c — repacks Q4_0 / Q8_0 rows into the x4 layout at load time (see kernels.h), so one
 * sdot by lane computes four rows at once and four-row groups stream sequentially. Whole groups
 * of 4 rows go through NEON register transposes (SIMDe on other hosts); the padded last group
 * goes word by word. */
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "neon.h"

size_t fvl_pack_x4_size(enum fvl_wtype type, size_t n, size_t k)
{
	size_t groups = (n + 3) / 4, nb = k / FVL_QK;
	if (type == FVL_WTYPE_Q4_0)
		return groups * nb * sizeof(struct fvl_block_q4_0x4);
	if (type == FVL_WTYPE_Q8_0)
		return groups * nb * sizeof(struct fvl_block_q8_0x4);
	return 0;
}

/* The x4 layout is a transpose of 4-byte chunks: chunk c of row r goes to dst chunk 4c + r,
 * each chunk XORed with flip (Q4_0's nibbles are stored signed). One row of the last, padded
 * group; a row past n (sd == NULL) is padding: scale 0 and zero bytes (for Q4_0, nibbles 8 ^ 8:
 * both decode to 0). */
static void put_row(uint16_t *d, uint8_t *qs, int r, const uint16_t *sd, const uint8_t *sqs,
                    int chunks, uint32_t flip)
{
	d[r] = sd ? *sd : 0;
	for (int c = 0; c < chunks; c++) {
		uint32_t v = 0;
		if (sd) {
			memcpy(&v, sqs + 4 * c, 4);
			v ^= flip;
		}
		memcpy(qs + 16 * c + 4 * r, &v, 4);
	}
}

/* 16 bytes (4 chunks) at off of each of the 4 rows' quants s[r], each byte XORed with flip, to
 * the 64 bytes at qs with chunk c of row r at 16c + 4r: a 4 x 4 transpose of 32-bit words. */
static inline void put_chunks4(uint8_t *qs, const uint8_t *const s[4], size_t off, bool q4)
{
	uint32x4_t r[4];
	for (int i = 0; i < 4; i++) {
		uint8x16_t v = vld1q_u8(s[i] + off);
		if (q4)
			v = veorq_u8(v, vdupq_n_u8(0x88));
		r[i] = vreinterpretq_u32_u8(v);
	}
	const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r[0], r[1]));
	const uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(r[0], r[1]));
	const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r[2], r[3]));
	const uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(r[2], r[3]));
	vst1q_u8(qs, vreinterpretq_u8_u64(vzip1q_u64(t0, t2)));
	vst1q_u8(qs + 16, vreinterpretq_u8_u64(vzip1q_u64(t1, t3)));
	vst1q_u8(qs + 32, vreinterpretq_u8_u64(vzip2q_u64(t0, t2)));
	vst1q_u8(qs + 48, vreinterpretq_u8_u64(vzip2q_u64(t1, t3)));
}

void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                     struct fvl_block_q4_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < n / 4; g++)
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q4_0x4 *d = &dst[g * nb + b];
			const uint8_t *qs[4];
			for (size_t r = 0; r < 4; r++) {
				const struct fvl_block_q4_0 *s = &src[(4 * g + r) * nb + b];
				d->d[r] = s->d, qs[r] = s->qs;
			}
			put_chunks4(d->qs, qs, 0, true);
		}
	for (size_t g = n / 4; g < (n + 3) / 4; g++)
		for (size_t b = 0; b < nb; b++)
			for (int r = 0; r < 4; r++) {
				const size_t row = 4 * g + (size_t)r;
				const struct fvl_block_q4_0 *s =
				        row < n ? &src[row * nb + b] : NULL;
				put_row(dst[g * nb + b].d, dst[g * nb + b].qs, r, s ? &s->d : NULL,
				        s ? s->qs : NULL, 4, 0x88888888u);
			}
}

void fvl_pack_q8_0x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                     struct fvl_block_q8_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < n / 4; g++)
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q8_0x4 *d = &dst[g * nb + b];
			const uint8_t *qs[4];
			for (size_t r = 0; r < 4; r++) {
				const struct fvl_block_q8_0 *s = &src[(4 * g + r) * nb + b];
				d->d[r] = s->d, qs[r] = (const uint8_t *)s->qs;
			}
			put_chunks4((uint8_t *)d->qs, qs, 0, false);
			put_chunks4((uint8_t *)d->qs + 64, qs, 16, false);
		}
	for (size_t g = n / 4; g < (n + 3) / 4; g++)
		for (size_t b = 0; b < nb; b++)
			for (int r = 0; r < 4; r++) {
				const size_t row = 4 * g + (size_t)r;
				const struct fvl_block_q8_0 *s =
				        row < n ? &src[row * nb + b] : NULL;
				put_row(dst[g * nb + b].d, (uint8_t *)dst[g * nb + b].qs, r,
				        s ? &s->d : NULL, s ? (const uint8_t *)s->qs : NULL, 8, 0);
			}
}
