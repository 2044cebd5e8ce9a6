/* qgemm-variants.h — instantiates qgemm-common.h for Q4_0 and Q8_0 in a variant's file, which
 * defines DOT (the 4-row block dot product) and VARIANT (the name suffix) first. */
#define FVL_CAT_(a, b) a##b
#define FVL_CAT(a, b) FVL_CAT_(a, b)

#define BLOCK_T struct fvl_block_q4_0x4
#define UNPACK unpack_q4
#define OUT_SCALE 0.0625f /* Q4_0 values were unpacked times 16 */
#define KERNEL_NAME FVL_CAT(fvl_q4_0x4_q8_gemm__, VARIANT)
#define tile_1 q4_tile_1
#define tile_2 q4_tile_2
#define tile_3 q4_tile_3
#define tile_4 q4_tile_4
#define gemv_pair q4_gemv_pair
#include "qgemm-common.h"
#undef BLOCK_T
#undef UNPACK
#undef OUT_SCALE
#undef KERNEL_NAME
#undef tile_1
#undef tile_2
#undef tile_3
#undef tile_4
#undef gemv_pair
#undef TILE
#undef ACC_STEP
#undef GROUP_CHUNK

#define BLOCK_T struct fvl_block_q8_0x4
#define UNPACK unpack_q8
#define OUT_SCALE 1.0f
#define KERNEL_NAME FVL_CAT(fvl_q8_0x4_q8_gemm__, VARIANT)
#define tile_1 q8_tile_1
#define tile_2 q8_tile_2
#define tile_3 q8_tile_3
#define tile_4 q8_tile_4
#define gemv_pair q8_gemv_pair
#include "qgemm-common.h"
