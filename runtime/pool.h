/* pool.h — the one thread pool (pthreadpool, shared with XNNPACK), the row-split drivers that run
 * the GEMM kernels on it, and a bandwidth probe. */
#ifndef FVL_POOL_H
#define FVL_POOL_H

#include <pthreadpool.h>

#include "fvl.h"
#include "kernels.h"

/* n_threads 0: one per online CPU. A pool of 1 runs everything on the calling thread. */
enum fvl_status fvl_pool_init(size_t n_threads, pthreadpool_t *out);
void fvl_pool_free(pthreadpool_t pool);
size_t fvl_pool_threads(pthreadpool_t pool);

/* y (m x n, row stride ldy) = A W^T with W x4-packed (fvl_pack_*), A quantized (f32_q8_quant),
 * output rows split across the pool in tiles of a multiple of 16 rows (64-byte aligned, no false
 * sharing): 16 for a GEMV, about n / (2 threads) for a GEMM (its kernels re-lay activations per
 * call). */
void fvl_pool_x4_q8_gemm(pthreadpool_t pool, fvl_x4_q8_gemm_fn fn, enum fvl_wtype type, size_t k,
                         size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,
                         float *y, size_t ldy);
/* y = x W^T + bias with W f32 or f16 rows, split the same way. */
void fvl_pool_f32_gemm(pthreadpool_t pool, fvl_f32_gemm_fn fn, enum fvl_wtype type, size_t k,
                       size_t n, const void *w, const float *bias, size_t m, const float *x,
                       size_t ldx, float *y, size_t ldy);
/* The fp16-arithmetic GEMM over activations converted by f32_f16_quant, split the same way. */
void fvl_pool_f16_gemm(pthreadpool_t pool, fvl_f16_gemm_fn fn, size_t k, size_t n, const void *w,
                       const float *bias, size_t m, const uint16_t *xh, const float *xs, float *y,
                       size_t ldy);

/* Memory read bandwidth (GB/s) through the pool's threads: the best of a few passes over
 * bytes (much larger than the caches). For benchmarks. */
double fvl_pool_read_bandwidth(pthreadpool_t pool, size_t bytes);

#endif /* FVL_POOL_H */
