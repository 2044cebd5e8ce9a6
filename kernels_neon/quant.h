/* quant.h — the quantized block layouts fvl shares with ggml (Q8_0, Q4_0), pinned by size. */
#ifndef FVL_QUANT_H
#define FVL_QUANT_H

#include <assert.h>
#include <stdint.h>

#define FVL_QK 32 /* elements per block */

/* 32 int8 values, value = d * qs[j]. */
struct fvl_block_q8_0 {
	uint16_t d; /* fp16 scale */
	int8_t qs[FVL_QK];
};
static_assert(sizeof(struct fvl_block_q8_0) == 34, "block_q8_0 is 34 bytes, as in ggml");

/* 32 4-bit values, value = d * (q - 8); element j in the low nibble of qs[j], j + 16 in the high. */
struct fvl_block_q4_0 {
	uint16_t d; /* fp16 scale */
	uint8_t qs[FVL_QK / 2];
};
static_assert(sizeof(struct fvl_block_q4_0) == 18, "block_q4_0 is 18 bytes, as in ggml");

#endif /* FVL_QUANT_H */
