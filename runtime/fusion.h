/* fusion.h — Florence-VL's Depth-Breadth Fusion and projector (fusion.c): the depth feature (the
 * _encode_image output) concatenated by channel with the BART encoder's last hidden state at the
 * image positions for each prompt (docs/florence-vl-inference.md 14.2), then the mlpNx_gelu
 * projector to the LLM's width (exact GELU between linears). */
#ifndef FVL_FUSION_H
#define FVL_FUSION_H

#include "gguf.h"
#include "linear.h"

#define FVL_PROJECTOR_MAX_DEPTH 16

struct fvl_projector {
	size_t depth;           /* linears */
	size_t in_dim, out_dim; /* (1 + prompts) d_model -> the LLM's n_embd */
	struct fvl_linear
	        mm[FVL_PROJECTOR_MAX_DEPTH]; /* (out_dim, in_dim), then (out_dim, out_dim) */
};

/* The mm.* linears of a file whose fusion is in_dim wide. */
enum fvl_status
fvl_projector_load(struct fvl_projector *p, const struct fvl_gguf *g, size_t in_dim);
void fvl_projector_free(struct fvl_projector *p);

/* Depth-Breadth Fusion of n tokens of width d from token `skip` on: fused row i (n, (1 + n_prompts)
 * d) = features row skip + i ++ enc[0] row skip + i ++ ... (features (skip + n, d); enc[p] holds
 * the visual tokens first, (skip + n + prompt length, d)). */
void fvl_dbfusion(size_t n, size_t skip, size_t d, size_t n_prompts, const float *features,
                  const float *const *enc, float *fused);
/* fused (n, in_dim) -> out (n, out_dim). */
enum fvl_status fvl_projector_forward(const struct fvl_projector *p, struct fvl_compute *compute,
                                      size_t n, const float *fused, float *out);

#endif /* FVL_FUSION_H */
