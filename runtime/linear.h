/* linear.h — a linear layer's weights as the compute kernels want them (quantized types packed
 * into the x4 layout at load time, f16 into f16p16 panels on aarch64, f32/f16 otherwise used in
 * place from the mapping, bf16 widened to f32). */
#ifndef FVL_LINEAR_H
#define FVL_LINEAR_H

#include "compute.h"
#include "gguf.h"

struct fvl_linear {
	int type;          /* enum fvl_type of w */
	size_t n, k;       /* outputs, inputs */
	const void *w;     /* (n, k) rows in type: in the mapping, or owned (bf16 -> f32) */
	void *packed;      /* owned: x4-packed Q4_0/Q8_0 (n rounded up to 4), or f16 in the f16p16
	                       layout (n rounded up to 16), for the kernels */
	void *owned;       /* w when the runtime converted it */
	const float *bias; /* (n) or NULL, in the mapping (f32) */
	void **xnn;        /* (n_xnn) XNNPACK fully-connected operators for f32 weights, one per
	                       slice of xnn_cols outputs (the last shorter), run on fvl's pool, or
	                       NULL */
	size_t n_xnn, xnn_cols;
	void *xnn_lock; /* their mutex: an operator is set up per call */
};

/* Whether f32 linears run through XNNPACK (initialized once; FVL_NO_XNNPACK=1 turns it off). */
bool fvl_xnnpack_available(void);
/* Gives an f32 layer an XNNPACK operator when available (fvl_linear_init does this). */
void fvl_linear_attach_xnnpack(struct fvl_linear *l);

/* The tensor `name` (shape ne = [k, n]) and optional f32 `bias_name` ([n]); k/n of 0 take the
 * file's. Shapes that disagree with what the caller expects are an error naming the tensor. */
enum fvl_status fvl_linear_init(struct fvl_linear *l, const struct fvl_gguf *g, const char *name,
                                const char *bias_name, size_t k, size_t n);
void fvl_linear_free(struct fvl_linear *l);
/* Bytes the runtime allocated for this layer (packing, conversion). */
size_t fvl_linear_owned_bytes(const struct fvl_linear *l);

/* y (m x n, row stride ldy) = x (m x k, row stride ldx) W^T + bias. */
void fvl_linear_forward(struct fvl_compute *compute, const struct fvl_linear *l, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy);

/* An f32 tensor of exactly n elements (norm weights, biases, tables). */
enum fvl_status
fvl_tensor_f32(const struct fvl_gguf *g, const char *name, size_t n, const float **out);
/* Row r of a 2-D tensor of any type as n floats (embedding lookups). */
void fvl_tensor_row(const struct fvl_gguf_tensor *t, size_t r, float *out);

#endif /* FVL_LINEAR_H */
