/* pack-x4.c — repacks Q4_0 / Q8_0 rows into the x4 layout at load time (see kernels.h), so one
 * sdot by lane computes four rows at once and four-row groups stream sequentially. Whole groups
 * of 4 rows go through NEON's 4-way interleaving store (SIMDe on other hosts); the padded last
 * group goes word by word. */
#include <stddef.h>
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
static void put_row(uint8_t *d, uint8_t *qs, size_t r, const uint8_t *sd, const uint8_t *sqs,
                    size_t chunks, uint32_t flip)
{
	uint16_t scale = 0;
	if (sd)
		memcpy(&scale, sd, 2);
	memcpy(d + 2 * r, &scale, 2);
	for (size_t c = 0; c < chunks; c++) {
		uint32_t v = 0;
		if (sd) {
			memcpy(&v, sqs + 4 * c, 4);
			v ^= flip;
		}
		memcpy(qs + 16 * c + 4 * r, &v, 4);
	}
}

/* 16 bytes (4 chunks) at off of each of the 4 rows' quants s[r], Q4_0's bytes XORed with 0x88,
 * to the 64 bytes at qs with chunk c of row r at 16c + 4r: st4 of 32-bit lanes interleaves the 4
 * rows' words exactly so. */
static inline void put_chunks4(uint8_t *qs, const uint8_t *const s[4], size_t off, bool q4)
{
	uint32x4x4_t r;
	for (int i = 0; i < 4; i++) {
		uint8x16_t v = vld1q_u8(s[i] + off);
		if (q4)
			v = veorq_u8(v, vdupq_n_u8(0x88));
		r.val[i] = vreinterpretq_u32_u8(v);
	}
	vst4q_u32((uint32_t *)(void *)qs, r);
}

/* Both block types: a fp16 scale then the quants (source), 4 scales then 4 rows' quants (x4). */
static_assert(offsetof(struct fvl_block_q4_0, qs) == 2 && offsetof(struct fvl_block_q8_0, qs) == 2,
              "scale, then quants");
static_assert(offsetof(struct fvl_block_q4_0x4, qs) == 8 &&
                      offsetof(struct fvl_block_q8_0x4, qs) == 8,
              "4 scales, then quants");

/* Q4_0 (q4) or Q8_0 rows to x4 groups: whole groups of 4 rows through interleaving stores, the
 * padded last group row by row. Inlined with q4 a constant, so each type gets its own loop. */
static inline __attribute__((always_inline)) void
pack_x4(bool q4, const uint8_t *src, size_t n, size_t k, uint8_t *dst)
{
	const size_t nb = k / FVL_QK, chunks = q4 ? 4 : 8;
	const size_t sb = q4 ? sizeof(struct fvl_block_q4_0) : sizeof(struct fvl_block_q8_0);
	const size_t db = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	for (size_t g = 0; g < n / 4; g++) {
		const uint8_t *row0 = src + 4 * g * nb * sb;
		for (size_t b = 0; b < nb; b++) {
			uint8_t *d = dst + (g * nb + b) * db;
			const uint8_t *qs[4];
			for (size_t r = 0; r < 4; r++) {
				const uint8_t *s = row0 + (r * nb + b) * sb;
				memcpy(d + 2 * r, s, 2);
				qs[r] = s + 2;
			}
			for (size_t c = 0; c < chunks; c += 4)
				put_chunks4(d + 8 + 16 * c, qs, 4 * c, q4);
		}
	}
	for (size_t g = n / 4; g < (n + 3) / 4; g++)
		for (size_t b = 0; b < nb; b++) {
			uint8_t *d = dst + (g * nb + b) * db;
			for (size_t r = 0; r < 4; r++) {
				const size_t row = 4 * g + r;
				const uint8_t *s = row < n ? src + (row * nb + b) * sb : NULL;
				put_row(d, d + 8, r, s, s ? s + 2 : NULL, chunks,
				        q4 ? 0x88888888u : 0);
			}
		}
}

void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                     struct fvl_block_q4_0x4 *dst)
{
	pack_x4(true, (const uint8_t *)src, n, k, (uint8_t *)dst);
}

void fvl_pack_q8_0x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                     struct fvl_block_q8_0x4 *dst)
{
	pack_x4(false, (const uint8_t *)src, n, k, (uint8_t *)dst);
}
