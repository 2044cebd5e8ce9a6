/* vision.h — Florence-VL's vision side end to end: an image to the N x H embeddings the LLM takes
 * at the <image> placeholder (preprocess, DaViT, _encode_image, BART encoder for the three prompts,
 * Depth-Breadth Fusion, mlpNx_gelu projector). */
#ifndef FVL_VISION_H
#define FVL_VISION_H

#include "florence2-encoder.h"
#include "fusion.h"
#include "image.h"

#define FVL_VISION_MAX_PROMPTS FVL_MAX_PROMPTS /* fvl.h's: fvl_image_dump holds them */

struct fvl_vision {
	struct fvl_f2 f2;
	size_t n_prompts, prompt_len;                 /* BART encoder passes, tokens per prompt */
	int32_t prompts[FVL_VISION_MAX_PROMPTS * 64]; /* (n_prompts, prompt_len) token ids */
	struct fvl_projector projector;               /* out_dim: the LLM's n_embd */
	size_t drop; /* leading _encode_image tokens the LLM does not get: 1
	                                    with fvl.mm.drop_pooled_token, else 0 */
	struct fvl_preprocess preprocess;
};

/* Where the stage outputs go when a caller wants them (NULL members are skipped). */
struct fvl_vision_dump {
	float *pixel_values, *davit_out, *image_features, *encoder_out[FVL_VISION_MAX_PROMPTS],
	        *fused;
};

enum fvl_status fvl_vision_load(struct fvl_vision *v, const struct fvl_gguf *g);
void fvl_vision_free(struct fvl_vision *v);
/* Visual tokens the LLM gets (the _encode_image tokens after the drop). */
size_t fvl_vision_n_tokens(const struct fvl_vision *v);

/* Preprocess img into (3, S, S) pixels. */
enum fvl_status
fvl_vision_preprocess(const struct fvl_vision *v, const struct fvl_image *img, float *pixels);
/* pixels -> out (fvl_vision_n_tokens, the LLM's n_embd); dump (may be NULL) receives intermediate tensors (image
 * features and encoder outputs for all N tokens, fused for the LLM's). */
enum fvl_status fvl_vision_embed(const struct fvl_vision *v, struct fvl_compute *compute,
                                 const float *pixels, float *out,
                                 const struct fvl_vision_dump *dump);
#endif /* FVL_VISION_H */
