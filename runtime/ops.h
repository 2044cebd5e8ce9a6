/* ops.h — the kernels that are not matrix products (norms, activations, residual adds, the
 * depthwise convolution, attention, activation quantization) run on the compute context's pool:
 * rows, element ranges, heads x query blocks or image rows split across the threads (ops.c).
 * Each gives the same result as the kernel called once, for any thread count: a task computes
 * whole rows (or whole elements) exactly as the single call would. */
#ifndef FVL_OPS_H
#define FVL_OPS_H

#include "compute.h"

/* y = LayerNorm(x) over m rows of n (y may be x). */
void fvl_op_layernorm(struct fvl_compute *compute, size_t m, size_t n, const float *x,
                      const float *g, const float *b, float eps, float *y);
/* y = RMSNorm(x) over m rows of n. */
void fvl_op_rmsnorm(struct fvl_compute *compute, size_t m, size_t n, const float *x, const float *g,
                    float eps, float *y);
/* y[i] = silu(x[i][0:n]) * x[i][n:2n] for m rows of x (row stride 2n) into y (row stride n). */
void fvl_op_silu_mul_halves(struct fvl_compute *compute, size_t m, size_t n, const float *x,
                            float *y);
/* y = gelu(x), y = a + b over n values (in place allowed). */
void fvl_op_gelu(struct fvl_compute *compute, size_t n, const float *x, float *y);
void fvl_op_add(struct fvl_compute *compute, size_t n, const float *a, const float *b, float *y);
/* y[i][j] += bias[j] for m rows of n (row stride ldy). */
void fvl_op_add_bias(struct fvl_compute *compute, size_t m, size_t n, float *y, size_t ldy,
                     const float *bias);
/* The whole h x w image through the dwconv3x3 kernel, rows split. */
void fvl_op_dwconv3x3(struct fvl_compute *compute, size_t h, size_t w, size_t c, const float *x,
                      const float *k, const float *b, float *y);
/* attention over the heads [a->head0, a->head1) in tasks of one head x a block of query rows. */
void fvl_op_attn(struct fvl_compute *compute, const struct fvl_attn_args *a);
/* The activation quantizers of the quantized and fp16 GEMMs, rows split. */
void fvl_op_f32_q8_quant(struct fvl_compute *compute, size_t m, size_t k, const float *x,
                         size_t ldx, int8_t *q, float *d);
void fvl_op_f32_f16_quant(struct fvl_compute *compute, size_t m, size_t k, const float *x,
                          size_t ldx, uint16_t *xh, float *xs);
/* fn(ctx, i0, i1) over [0, n) in ranges of `tile` (the last may be shorter), on the pool. */
typedef void (*fvl_range_fn)(void *ctx, size_t i0, size_t i1);
void fvl_op_for(struct fvl_compute *compute, size_t n, size_t tile, fvl_range_fn fn, void *ctx);

#endif /* FVL_OPS_H */
