/* florence2-encoder.h — Florence-2's encoder side after DaViT (florence2-encoder.c): _encode_image
 * (2-D position embedding, the temporal embedding of frame 0, pools, projection, LayerNorm) turns
 * DaViT's tokens into visual tokens, and the post-LN BART encoder runs over them followed by a
 * prompt. struct fvl_f2 is the whole tower: DaViT and this. */
#ifndef FVL_FLORENCE2_ENCODER_H
#define FVL_FLORENCE2_ENCODER_H

#include "davit.h"
#include "gguf.h"
#include "linear.h"

struct fvl_f2_encoder_layer {
	struct fvl_linear q, k, v, o;           /* (n_embd, n_embd) each */
	struct fvl_linear ffn_up;               /* (n_ff, n_embd) */
	struct fvl_linear ffn_down;             /* (n_embd, n_ff) */
	const float *attn_norm_w, *attn_norm_b; /* (n_embd): after the attention residual */
	const float *ffn_norm_w, *ffn_norm_b;   /* (n_embd): after the MLP residual */
};

struct fvl_f2_encoder {
	/* _encode_image, over DaViT's grid x grid tokens of c channels */
	size_t grid, c;
	struct fvl_linear img_proj;             /* (proj_dim, c) */
	const float *proj_norm_w, *proj_norm_b; /* (proj_dim) */
	const float *pos_row, *pos_col;         /* (pos_max, c / 2) */
	size_t pos_max, proj_dim;
	size_t n_pools;
	bool pool_spatial[4]; /* image_feature_source, in order: spatial or temporal */
	/* BART encoder */
	size_t n_embd, n_layer, n_head, n_ff, n_vocab;
	size_t n_pos;                           /* max_position_embeddings */
	float eps;                              /* every LayerNorm's */
	const struct fvl_gguf_tensor *tok_embd; /* (n_vocab, n_embd), any type */
	const float *pos_embd;                  /* (n_pos + 2, n_embd): BART's offset of 2 */
	const float *embd_norm_w, *embd_norm_b; /* (n_embd): layernorm_embedding */
	struct fvl_f2_encoder_layer *layers;    /* (n_layer) */
};

/* Florence-2's vision tower: DaViT, then the encoder side. */
struct fvl_f2 {
	struct fvl_davit davit;
	struct fvl_f2_encoder encoder;
};

enum fvl_status fvl_f2_load(struct fvl_f2 *f, const struct fvl_gguf *g);
void fvl_f2_free(struct fvl_f2 *f);

/* Visual tokens _encode_image makes: grid^2 per temporal pool, 1 per spatial pool. */
size_t fvl_f2_n_visual(const struct fvl_f2_encoder *e);
/* _encode_image: DaViT's feats (grid^2, c) -> out (n_visual, proj_dim). */
enum fvl_status fvl_f2_encode_image(const struct fvl_f2_encoder *e, struct fvl_compute *compute,
                                    const float *feats, float *out);
/* The BART encoder over [visual (n_vis, n_embd) ; embeddings of ids (n_ids)]
 * -> out (n_vis + n_ids, n_embd). */
enum fvl_status fvl_f2_encoder_forward(const struct fvl_f2_encoder *e, struct fvl_compute *compute,
                                       const float *visual, size_t n_vis, const int32_t *ids,
                                       size_t n_ids, float *out);
/* The same for n_prompts prompts of n_ids ids each (ids: (n_prompts, n_ids)) over one visual
 * input, in one pass: every linear is one GEMM over all n_prompts x (n_vis + n_ids) rows (each
 * weight read once), attention per prompt. out: (n_prompts, n_vis + n_ids, n_embd); each prompt's
 * rows equal a single-prompt call's. */
enum fvl_status fvl_f2_encoder_forward_prompts(const struct fvl_f2_encoder *e,
                                               struct fvl_compute *compute, const float *visual,
                                               size_t n_vis, const int32_t *ids, size_t n_ids,
                                               size_t n_prompts, float *out);

#endif /* FVL_FLORENCE2_ENCODER_H */
