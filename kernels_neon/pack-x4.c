/* pack-x4.c — repacks Q4_0 / Q8_0 rows into the x4 layout at load time (see kernels.h), so one
 * sdot by lane computes four rows at once and four-row groups stream sequentially. */
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

void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
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
						memset(&o->qs[16 * c + 4 * r], 0,
						       4); /* (8 ^ 8) nibbles */
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

void fvl_pack_q8_0x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                     struct fvl_block_q8_0x4 *dst)
{
	const size_t nb = k / FVL_QK;
	for (size_t g = 0; g < (n + 3) / 4; g++) {
		for (size_t b = 0; b < nb; b++) {
			struct fvl_block_q8_0x4 *o = &dst[g * nb + b];
			for (int r = 0; r < 4; r++) {
				size_t row = 4 * g + (size_t)r;
				const struct fvl_block_q8_0 *s =
				        row < n ? &src[row * nb + b] : NULL;
				o->d[r] = s ? s->d : 0;
				for (int c = 0; c < 8; c++)
					for (int i = 0; i < 4; i++)
						o->qs[16 * c + 4 * r + i] =
						        s ? s->qs[4 * c + i] : 0;
			}
		}
	}
}
