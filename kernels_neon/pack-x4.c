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

/* The x4 layout is a transpose of 4-byte chunks: chunk c of row r goes to dst chunk 4c + r,
 * each chunk XORed with flip (Q4_0's nibbles are stored signed). A row past n (sd == NULL) is
 * padding: scale 0 and zero bytes (for Q4_0, nibbles 8 ^ 8: both decode to 0). Whole words are
 * moved, not bytes: packing runs over every weight at each load. */
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

void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                     struct fvl_block_q4_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++)
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
	for (size_t g = 0; g < (n + 3) / 4; g++)
		for (size_t b = 0; b < nb; b++)
			for (int r = 0; r < 4; r++) {
				const size_t row = 4 * g + (size_t)r;
				const struct fvl_block_q8_0 *s =
				        row < n ? &src[row * nb + b] : NULL;
				put_row(dst[g * nb + b].d, (uint8_t *)dst[g * nb + b].qs, r,
				        s ? &s->d : NULL, s ? (const uint8_t *)s->qs : NULL, 8, 0);
			}
}
