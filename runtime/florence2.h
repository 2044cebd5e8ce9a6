/* florence2.h — Florence-2's vision encoder (DaViT), its image encoding (_encode_image) and its
 * BART text encoder, over the weights of a model file. */
#ifndef FVL_FLORENCE2_H
#define FVL_FLORENCE2_H

#include "gguf.h"
#include "linear.h"

#define FVL_F2_MAX_STAGES 8

struct fvl_f2_block {
	float *dw1, *dw2;                       /* (9, C) tap-major, owned */
	const float *dw1_b, *dw2_b;             /* (C) */
	const float *an_w, *an_b, *fn_w, *fn_b; /* attention / ffn LayerNorms (C) */
	struct fvl_linear qkv, out, up, down;
};

struct fvl_f2_stage {
	size_t c, cin, depth, heads, groups, k, stride, pad;
	bool prenorm;
	struct fvl_linear conv;                 /* (C, cin k k) */
	const float *norm_w, *norm_b;           /* (cin) if prenorm else (C) */
	struct fvl_f2_block *sp, *ch;           /* (depth) each */
};

struct fvl_f2_layer {
	struct fvl_linear q, k, v, o, up, down;
	const float *an_w, *an_b, *fn_w, *fn_b;
};

struct fvl_f2 {
	size_t n_stages, window, image_size;
	struct fvl_f2_stage st[FVL_F2_MAX_STAGES];
	/* _encode_image */
	struct fvl_linear img_proj;             /* (proj, C_last) */
	const float *pn_w, *pn_b;               /* (proj) */
	const float *pos_row, *pos_col;         /* (pos_max, C_last / 2) */
	size_t pos_max, proj_dim, n_pools;
	bool pool_spatial[4];                   /* image_feature_source, in order */
	/* BART encoder */
	size_t d, enc_layers, enc_heads, enc_ffn, vocab, max_pos;
	const struct fvl_gguf_tensor *tok_embd; /* (vocab, d) */
	const float *pos_embd;                  /* (max_pos + 2, d) */
	const float *en_w, *en_b;               /* layernorm_embedding */
	struct fvl_f2_layer *enc;               /* (enc_layers) */
};

enum fvl_status fvl_f2_load(struct fvl_f2 *f, const struct fvl_gguf *g);
void fvl_f2_free(struct fvl_f2 *f);

/* Tokens of the last stage for a (3, S, S) image: out (grid^2, C_last). */
size_t fvl_f2_grid(const struct fvl_f2 *f);
/* stage_ms (may be NULL) receives each stage's milliseconds. */
enum fvl_status fvl_f2_davit(const struct fvl_f2 *f, struct fvl_compute *compute, const float *pixels,
                             float *out, double *stage_ms);
/* _encode_image: (grid^2, C_last) -> (n_visual, proj_dim); n_visual = grid^2 + spatial pools. */
size_t fvl_f2_n_visual(const struct fvl_f2 *f);
enum fvl_status fvl_f2_encode_image(const struct fvl_f2 *f, struct fvl_compute *compute, const float *feats,
                                    float *out);
/* BART encoder over [visual (n_vis, d) ; embeddings of ids (n_ids)] -> out (n_vis + n_ids, d). */
enum fvl_status fvl_f2_encoder(const struct fvl_f2 *f, struct fvl_compute *compute, const float *visual,
                               size_t n_vis, const int32_t *ids, size_t n_ids, float *out);

#endif /* FVL_FLORENCE2_H */
