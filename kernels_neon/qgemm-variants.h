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
#define strip_gemm q4_strip_gemm
#define stile_1 q4_stile_1
#define stile_2 q4_stile_2
#define stile_3 q4_stile_3
#define stile_4 q4_stile_4
#define stile_5 q4_stile_5
#define stile_6 q4_stile_6
#define stile_7 q4_stile_7
#define stile_8 q4_stile_8
#define stile_9 q4_stile_9
#define stile_10 q4_stile_10
#define stile_11 q4_stile_11
#define stile_12 q4_stile_12
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
#undef strip_gemm
#undef stile_1
#undef stile_2
#undef stile_3
#undef stile_4
#undef stile_5
#undef stile_6
#undef stile_7
#undef stile_8
#undef stile_9
#undef stile_10
#undef stile_11
#undef stile_12
#undef STILE
#undef SACC_STEP
#undef STRIP_KC
#undef STRIP_GROUP_CHUNK
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
#define strip_gemm q8_strip_gemm
#define stile_1 q8_stile_1
#define stile_2 q8_stile_2
#define stile_3 q8_stile_3
#define stile_4 q8_stile_4
#define stile_5 q8_stile_5
#define stile_6 q8_stile_6
#define stile_7 q8_stile_7
#define stile_8 q8_stile_8
#define stile_9 q8_stile_9
#define stile_10 q8_stile_10
#define stile_11 q8_stile_11
#define stile_12 q8_stile_12
#include "qgemm-common.h"
