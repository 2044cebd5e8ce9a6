/* davit.h — DaViT, Florence-2's vision backbone (davit.c): per stage a convolutional patch
 * embedding, then `depth` pairs of a spatial block (window attention) and a channel block (channel
 * attention), each with depthwise-conv residuals and a GELU MLP. Pixels in, the last stage's
 * tokens out. Reference: docs/florence-vl-inference.md section 3. */
#ifndef FVL_DAVIT_H
#define FVL_DAVIT_H

#include "gguf.h"
#include "linear.h"

#define FVL_DAVIT_MAX_STAGES 8

/* A spatial or a channel block of a stage with c channels. */
struct fvl_davit_block {
	float *dw1, *dw2;                       /* (9, c) depthwise 3x3 taps, tap-major (owned) */
	const float *dw1_b, *dw2_b;             /* (c) */
	const float *attn_norm_w, *attn_norm_b; /* (c) */
	const float *ffn_norm_w, *ffn_norm_b;   /* (c) */
	struct fvl_linear qkv;                  /* (3c, c) */
	struct fvl_linear attn_out;             /* (c, c) */
	struct fvl_linear ffn_up;               /* (4c, c) */
	struct fvl_linear ffn_down;             /* (c, 4c) */
};

struct fvl_davit_stage {
	size_t c, cin;               /* channels out, in */
	size_t depth, heads, groups; /* block pairs; window-attention heads; channel groups */
	size_t k, stride, pad;       /* the patch convolution */
	bool prenorm;                /* LayerNorm before the convolution (on cin), else after (c) */
	struct fvl_linear conv;      /* (c, cin k k) */
	const float *norm_w, *norm_b;              /* (cin) if prenorm, else (c) */
	struct fvl_davit_block *spatial, *channel; /* (depth) each */
};

struct fvl_davit {
	size_t n_stages;
	size_t window;     /* window attention: window x window tokens */
	size_t image_size; /* input side S: pixels are (3, S, S) */
	float eps;         /* every LayerNorm's */
	struct fvl_davit_stage stages[FVL_DAVIT_MAX_STAGES];
};

enum fvl_status fvl_davit_load(struct fvl_davit *v, const struct fvl_gguf *g);
void fvl_davit_free(struct fvl_davit *v);

/* Side of the last stage's token grid, and its channels. */
size_t fvl_davit_grid(const struct fvl_davit *v);
size_t fvl_davit_channels(const struct fvl_davit *v);
/* Spatial and channel blocks in all (each one progress step of the forward pass). */
size_t fvl_davit_n_blocks(const struct fvl_davit *v);

/* pixels (3, S, S) -> out (grid^2, channels); stage_ms (may be NULL) receives each stage's
 * milliseconds. */
enum fvl_status fvl_davit_forward(const struct fvl_davit *v, struct fvl_compute *compute,
                                  const float *pixels, float *out, double *stage_ms);

#endif /* FVL_DAVIT_H */
