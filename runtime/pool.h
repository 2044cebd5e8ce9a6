/* pool.h — fvl's thread pool (pool.c: contiguous shares of a job's tiles with stealing from
 * their ends, short waits that then sleep, a thread count that adapts to other programs' load),
 * the pthreadpool XNNPACK's operators need, the row-split drivers that run the GEMM kernels on
 * the pool, and a bandwidth probe. */
#ifndef FVL_POOL_H
#define FVL_POOL_H

#include <pthreadpool.h>

#include "fvl.h"
#include "kernels.h"

struct fvl_pool;

/* A pool of n_threads (the caller and n_threads - 1 workers; 0: one per CPU this process may
 * use). A pool of 1 runs everything on the calling thread. Used by one thread at a time (a
 * compute context's). */
enum fvl_status fvl_pool_init(size_t n_threads, struct fvl_pool **out);
void fvl_pool_free(struct fvl_pool *pool); /* NULL: nothing */
size_t fvl_pool_threads(const struct fvl_pool *pool);
/* The threads jobs run on now: fvl_pool_threads, or fewer while that does as much (pool.c). */
size_t fvl_pool_active(const struct fvl_pool *pool);
/* What the next job runs on (fvl_pool_active, or a count a measurement is trying), and the
 * measurement fvl_pool_run feeds after each job: `used` threads spent cpu_ns in its tiles over
 * wall_ns, at now (CLOCK_MONOTONIC). Tests feed it made-up jobs. */
size_t fvl_pool_next_threads(const struct fvl_pool *pool);
void fvl_pool_account(struct fvl_pool *pool, size_t used, uint64_t cpu_ns, uint64_t wall_ns,
                      uint64_t now);
/* fn(ctx, i0, len) for the tiles [i0, i0 + len) of [0, n) (len = tile but for the last), each
 * once, on the caller and the workers, returning when all are done. Each thread runs a
 * contiguous share and then takes what is left of the others', so which thread runs a tile
 * varies; what a tile computes must not. */
typedef void (*fvl_pool_fn)(void *ctx, size_t i0, size_t len);
void fvl_pool_run(struct fvl_pool *pool, size_t n, size_t tile, fvl_pool_fn fn, void *ctx);
/* Workers waiting for the next job sleep now instead of spinning their 1 ms (before a caller's
 * callback, or the end of a stage: other programs get the CPUs); the next job wakes them. */
void fvl_pool_rest(struct fvl_pool *pool);
/* A pthreadpool of the same size for XNNPACK's own threading (made on first use; NULL for a pool
 * of 1 or when it cannot be made: XNNPACK then runs on the caller). Only the benchmarks' XNNPACK
 * reference uses it (linear.c runs XNNPACK single-threaded on this pool). And a call that sends
 * its workers to sleep at once (pthreadpool's workers would spin ~1M rounds). */
pthreadpool_t fvl_pool_xnn(struct fvl_pool *pool);
void fvl_pool_xnn_rest(struct fvl_pool *pool);

/* y (m x n, row stride ldy) = A W^T with W x4-packed (fvl_pack_*), A quantized (f32_q8_quant),
 * output rows split across the pool in tiles of a multiple of 16 rows (64-byte aligned, no false
 * sharing): 16 for a GEMV, about n / (2 threads) for a GEMM (its kernels re-lay activations per
 * call). */
void fvl_pool_x4_q8_gemm(struct fvl_pool *pool, fvl_x4_q8_gemm_fn fn, enum fvl_wtype type, size_t k,
                         size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,
                         float *y, size_t ldy);
/* y = x W^T + bias with W f32 or f16 rows, split the same way. */
void fvl_pool_f32_gemm(struct fvl_pool *pool, fvl_f32_gemm_fn fn, enum fvl_wtype type, size_t k,
                       size_t n, const void *w, const float *bias, size_t m, const float *x,
                       size_t ldx, float *y, size_t ldy);
/* The fp16-arithmetic GEMM over activations converted by f32_f16_quant, split the same way. */
void fvl_pool_f16_gemm(struct fvl_pool *pool, fvl_f16_gemm_fn fn, size_t k, size_t n, const void *w,
                       const float *bias, size_t m, const uint16_t *xh, const float *xs, float *y,
                       size_t ldy);

/* Memory read bandwidth (GB/s) through the pool's threads: the best of a few passes over
 * bytes (much larger than the caches). For benchmarks. */
double fvl_pool_read_bandwidth(struct fvl_pool *pool, size_t bytes);

#endif /* FVL_POOL_H */
