/* pack-x4.c — repacks Q4_0 / Q8_0 rows into the x4 layout at load time (see kernels.h), so one
 * sdot by lane computes four rows at once and four-row groups stream sequentially. */
#include <stdint.h>
#include <string.h>

#include "kernels.h"

size_t fvl_pack_x4_size(enum fvl_wtype type, size_t n, size_t k)
{
	size_t groups = (n + 3) / 4, nb = k / FVL_QK;
	if (type == FVL_WTYPE_Q4_0)
		return groups * nb * sizeof(struct fvl_block_q4_0x4);
	if (type == FVL_WTYPE_Q8_0)
		return groups * nb * sizeof(struct fvl_block_q8_0x4);
	return 0;
}

/* The x4 layout is a 4 x (chunks) transpose of 4-byte chunks: chunk c of row r goes to
 * dst chunk 4c + r. Rows past n are padding and take `pad` (quants that decode to 0). Whole
 * 4-byte words are moved: packing runs over every weight at load, byte loops cost ~4x more. */
static inline void put_chunks(uint8_t *qs, int r, const uint8_t *src, int chunks, uint32_t flip)
{
	for (int c = 0; c < chunks; c++) {
		uint32_t v;
		memcpy(&v, src + 4 * c, 4);
		v ^= flip;
		memcpy(qs + 16 * c + 4 * r, &v, 4);
	}
}

static inline void pad_chunks(uint8_t *qs, int r, int chunks, uint32_t pad)
{
	for (int c = 0; c < chunks; c++)
		memcpy(qs + 16 * c + 4 * r, &pad, 4);
}

void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                     struct fvl_block_q4_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++) {
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q4_0x4 *o = &dst[g * nb + b];
			for (int r = 0; r < 4; r++) {
				const size_t row = 4 * g + (size_t)r;
				if (row >= n) { /* scale 0; nibbles 8 ^ 8 = 0 decode to 0 */
					o->d[r] = 0;
					pad_chunks(o->qs, r, 4, 0);
					continue;
				}
				const struct fvl_block_q4_0 *s = &src[row * nb + b];
				o->d[r] = s->d;
				put_chunks(o->qs, r, s->qs, 4, 0x88888888u);
			}
		}
	}
}

void fvl_pack_q8_0x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                     struct fvl_block_q8_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++) {
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q8_0x4 *o = &dst[g * nb + b];
			for (int r = 0; r < 4; r++) {
				const size_t row = 4 * g + (size_t)r;
				if (row >= n) {
					o->d[r] = 0;
					pad_chunks((uint8_t *)o->qs, r, 8, 0);
					continue;
				}
				const struct fvl_block_q8_0 *s = &src[row * nb + b];
				o->d[r] = s->d;
				put_chunks((uint8_t *)o->qs, r, (const uint8_t *)s->qs, 8, 0);
			}
		}
	}
}
