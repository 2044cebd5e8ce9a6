/* f2dec.h — Florence-2's BART decoder (post-LN, causal self-attention with a KV cache per beam,
 * cross-attention over the encoder output, lm_head tied to `shared`, final_logits_bias) and the
 * search over it: greedy and beam search as HF generate does them, with no_repeat_ngram_size. */
#ifndef FVL_F2DEC_H
#define FVL_F2DEC_H

#include "gguf.h"
#include "linear.h"

struct fvl_f2_decoder_layer {
	struct fvl_linear q, k, v, o, cq, ck, cv, co, up, down;
	const float *an_w, *an_b, *cn_w, *cn_b, *fn_w, *fn_b;
};

struct fvl_f2_decoder {
	size_t d, n_layers, heads, ffn, vocab, max_pos;
	const struct fvl_gguf_tensor *tok_embd;
	const float *pos_embd, *en_w, *en_b;
	const float *logits_bias;  /* (vocab) final_logits_bias, or NULL: none */
	struct fvl_linear lm_head;
	struct fvl_f2_decoder_layer *l;
	int32_t start_id, eos_id, forced_bos_id;
	uint32_t no_repeat_ngram, num_beams;
	bool early_stopping, forced_eos;
};

enum fvl_status fvl_f2_decoder_load(struct fvl_f2_decoder *d, const struct fvl_gguf *g);
void fvl_f2_decoder_free(struct fvl_f2_decoder *d);

/* The logits of the next token for n_beams sequences: beam b continues beam parents[b] of the
 * previous step with token tokens[b] at position pos (0 is the start token). */
typedef enum fvl_status (*fvl_step_fn)(void *ctx, size_t n_beams, const int32_t *parents,
                                       const int32_t *tokens, size_t pos, float *logits);

struct fvl_search {
	size_t vocab;
	int32_t start_id, eos_id;
	uint32_t n_beams;          /* 1: greedy */
	uint32_t max_new;          /* tokens to generate at most */
	uint32_t no_repeat_ngram;  /* 0: off */
	float length_penalty;      /* 1.0 */
	bool early_stopping;
	int32_t forced_bos_id;     /* forced as the first generated token; -1: off */
	bool forced_eos;           /* EOS forced as token max_new (HF's forced_eos_token_id) */
};

/* Runs the search; out receives the generated tokens (without the start token, with the final
 * EOS if one was generated), n_out their count (<= max_new). */
enum fvl_status fvl_search_run(const struct fvl_search *s, fvl_step_fn step, void *ctx,
                               int32_t *out, size_t *n_out);

/* Decoder state for up to max_beams beams and max_len positions over one encoder output. */
struct fvl_f2_decoder_state;
enum fvl_status fvl_f2_decoder_state_init(const struct fvl_f2_decoder *d, struct fvl_compute *compute,
                                      const float *enc, size_t n_enc, size_t max_beams,
                                      size_t max_len, struct fvl_f2_decoder_state **out);
void fvl_f2_decoder_state_free(struct fvl_f2_decoder_state *s);
/* An fvl_step_fn over a decoder state (ctx = the state). */
enum fvl_status fvl_f2_decoder_step(void *state, size_t n_beams, const int32_t *parents,
                                const int32_t *tokens, size_t pos, float *logits);

#endif /* FVL_F2DEC_H */
