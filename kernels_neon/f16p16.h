/* f16p16.h — the loop over tiles of f16p16-packed weights (fvl_pack_f16p16) that the panel GEMMs
 * share: 4 panels stay in cache while every tile of up to 4 activation rows passes over them. */
#ifndef FVL_F16P16_H
#define FVL_F16P16_H

#include "kernels.h"

/* One tile: columns j .. j + nr (nr <= 16, one panel) of activation rows i .. i + mr (mr <= 4). */
struct f16p16_tile {
	size_t j, nr, i, mr;
};

/* Calls tile(t, ctx) for every tile of an n-column, m-row product, in cache order. */
static inline __attribute__((always_inline)) void
f16p16_for_each_tile(size_t n, size_t m, void (*tile)(const struct f16p16_tile *t, void *ctx),
                     void *ctx)
{
	const size_t panels = (n + FVL_F16P16_COLS - 1) / FVL_F16P16_COLS;
	for (size_t p0 = 0; p0 < panels; p0 += 4)
		for (size_t i = 0; i < m; i += 4)
			for (size_t p = p0; p < p0 + 4 && p < panels; p++) {
				const size_t j = p * FVL_F16P16_COLS;
				const struct f16p16_tile t = {
				        .j = j,
				        .nr = n - j < FVL_F16P16_COLS ? n - j : FVL_F16P16_COLS,
				        .i = i,
				        .mr = m - i < 4 ? m - i : 4,
				};
				tile(&t, ctx);
			}
}

#endif /* FVL_F16P16_H */
