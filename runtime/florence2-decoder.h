/* florence2-decoder.h — Florence-2's BART decoder (florence2-decoder.c): post-LN, causal
 * self-attention with a KV cache per beam, cross-attention over the encoder output, the lm_head
 * tied to the token embedding, final_logits_bias. One step is an fvl_step_fn for search.c. */
#ifndef FVL_FLORENCE2_DECODER_H
#define FVL_FLORENCE2_DECODER_H

#include "gguf.h"
#include "linear.h"

struct fvl_f2_decoder_layer {
	struct fvl_linear q, k, v, o; /* self-attention, (n_embd, n_embd) each */
	struct fvl_linear cross_q, cross_k, cross_v, cross_out; /* over the encoder output */
	struct fvl_linear ffn_up;                               /* (n_ff, n_embd) */
	struct fvl_linear ffn_down;                             /* (n_embd, n_ff) */
	const float *attn_norm_w, *attn_norm_b;                 /* (n_embd), after each residual: */
	const float *cross_norm_w, *cross_norm_b;
	const float *ffn_norm_w, *ffn_norm_b;
};

struct fvl_f2_decoder {
	size_t n_embd, n_layer, n_head, n_ff, n_vocab;
	size_t n_pos;                           /* max_position_embeddings */
	float eps;                              /* every LayerNorm's */
	const struct fvl_gguf_tensor *tok_embd; /* (n_vocab, n_embd): the encoder's, shared */
	const float *pos_embd;                  /* (n_pos + 2, n_embd) */
	const float *embd_norm_w, *embd_norm_b; /* (n_embd) */
	const float *logits_bias;               /* (n_vocab) final_logits_bias, or NULL: none */
	struct fvl_linear lm_head;              /* (n_vocab, n_embd) */
	struct fvl_f2_decoder_layer *layers;    /* (n_layer) */
	/* generation defaults of the model file */
	int32_t start_id, eos_id, forced_bos_id;
	uint32_t no_repeat_ngram, num_beams;
	bool early_stopping, forced_eos;
};

enum fvl_status fvl_f2_decoder_load(struct fvl_f2_decoder *d, const struct fvl_gguf *g);
void fvl_f2_decoder_free(struct fvl_f2_decoder *d);

/* Decoder state for up to max_beams beams and max_len positions over one encoder output
 * enc (n_enc, n_embd). */
struct fvl_f2_decoder_state;
enum fvl_status fvl_f2_decoder_state_init(const struct fvl_f2_decoder *d,
                                          struct fvl_compute *compute, const float *enc,
                                          size_t n_enc, size_t max_beams, size_t max_len,
                                          struct fvl_f2_decoder_state **out);
void fvl_f2_decoder_state_free(struct fvl_f2_decoder_state *s);
/* An fvl_step_fn (search.h) over a decoder state (state = the fvl_f2_decoder_state). */
enum fvl_status fvl_f2_decoder_step(void *state, size_t n_beams, const int32_t *parents,
                                    const int32_t *tokens, size_t pos, float *logits);

#endif /* FVL_FLORENCE2_DECODER_H */
