/* panels.h — the loop over tiles of f16 weights packed in 16-column panels (fvl_pack_f16_panels),
 * shared by the panel GEMM kernels: 4 panels stay in cache while every tile of up to 4 activation
 * rows passes over them. TILE is run with j (first column), nr (valid columns, <= 16), i (first
 * row) and mr (rows, <= 4) in scope. */
#ifndef FVL_PANELS_H
#define FVL_PANELS_H

#include "kernels.h"

#define FOR_PANEL_TILES(n, m, TILE)                                                               \
	for (size_t p0_ = 0; p0_ < ((n) + FVL_HPANEL - 1) / FVL_HPANEL; p0_ += 4) {               \
		const size_t p1_ = ((n) + FVL_HPANEL - 1) / FVL_HPANEL;                           \
		for (size_t i = 0; i < (m); i += 4)                                               \
			for (size_t p_ = p0_; p_ < p0_ + 4 && p_ < p1_; p_++) {                   \
				const size_t j = p_ * FVL_HPANEL;                                 \
				const size_t nr = (n) - j < FVL_HPANEL ? (n) - j : FVL_HPANEL;    \
				const size_t mr = (m) - i < 4 ? (m) - i : 4;                      \
				TILE;                                                             \
			}                                                                         \
	}

#endif /* FVL_PANELS_H */
