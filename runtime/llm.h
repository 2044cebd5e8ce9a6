/* llm.h — the LLM decoder of Florence-VL: Phi-3 (fused qkv and gate_up, LongRoPE) and Llama-3
 * (GQA, llama3 rope scaling). An immutable weight view over the model file plus a per-session
 * state (KV cache, buffers) that evaluates batches of tokens or embeddings. Dimensions are named
 * as llama.cpp names them. */
#ifndef FVL_LLM_H
#define FVL_LLM_H

#include "gguf.h"
#include "linear.h"

struct fvl_llm_layer {
	const float *attn_norm;     /* (n_embd) */
	const float *ffn_norm;      /* (n_embd) */
	struct fvl_linear qkv;      /* phi3: (n_head + 2 n_head_kv) n_embd_head x n_embd */
	struct fvl_linear q;        /* llama: (n_head n_embd_head, n_embd) */
	struct fvl_linear k, v;     /* llama: (n_head_kv n_embd_head, n_embd) each */
	struct fvl_linear o;        /* (n_embd, n_head n_embd_head) */
	struct fvl_linear gate_up;  /* phi3: (2 n_ff, n_embd), gate rows then up rows */
	struct fvl_linear gate, up; /* llama: (n_ff, n_embd) each */
	struct fvl_linear down;     /* (n_embd, n_ff) */
};

struct fvl_llm {
	bool phi3;
	size_t n_embd; /* hidden size */
	size_t n_layer;
	size_t n_head, n_head_kv;
	size_t n_embd_head; /* per head */
	size_t n_ff;        /* MLP width */
	size_t n_vocab;
	size_t n_ctx_train;                     /* llm.context_length */
	size_t n_ctx_orig;                      /* LongRoPE: past this, the long factors */
	size_t n_rot;                           /* rotary dims per head */
	float eps;                              /* RMSNorm */
	const struct fvl_gguf_tensor *tok_embd; /* (n_vocab, n_embd), any type */
	const float *out_norm;                  /* (n_embd) */
	struct fvl_linear output;               /* (n_vocab, n_embd) */
	struct fvl_llm_layer *layers;           /* (n_layer) */
	float *inv_freq_short, *inv_freq_long;  /* (n_rot / 2); long differs only for longrope */
	float attn_factor;                      /* cos/sin scale (longrope), else 1 */
};

/* Reads hyperparameters and maps (and packs) the weights of the file's LLM. */
enum fvl_status fvl_llm_load(struct fvl_llm *m, const struct fvl_gguf *g);
void fvl_llm_free(struct fvl_llm *m);

struct fvl_llm_state {
	const struct fvl_llm *m;
	size_t n_ctx, n_past, n_ubatch;
	bool kv_f16;
	void *kc, *vc;        /* (n_layer, n_ctx, n_head_kv n_embd_head) f16 or f32 */
	float *cos_t, *sin_t; /* (n_ctx, n_rot / 2) for the current factor set */
	bool long_tables;     /* which set cos_t/sin_t hold */
	float *x, *h;         /* (n_ubatch, n_embd): the residual stream, a normed copy */
	float *qkv;           /* (n_ubatch, (n_head + 2 n_head_kv) n_embd_head) */
	float *att;           /* (n_ubatch, n_head n_embd_head) */
	float *ff;            /* (n_ubatch, 2 n_ff): gate then up */
	float *act;           /* (n_ubatch, n_ff) */
	int32_t *pos;         /* (n_ubatch) */
};

/* n_ctx: positions the session can hold (0 or more than the model's: the model's);
 * n_ubatch: tokens per batch in prefill (0: 256). */
enum fvl_status fvl_llm_state_init(struct fvl_llm_state *s, const struct fvl_llm *m,
                                   struct fvl_compute *compute, size_t n_ctx, bool kv_f16,
                                   size_t n_ubatch);
void fvl_llm_state_free(struct fvl_llm_state *s);
/* Forgets everything after position n (n <= n_past): reuse a shared prefix. */
void fvl_llm_state_rewind(struct fvl_llm_state *s, size_t n);

/* Appends n tokens, given as ids (embd NULL) or as n rows of n_embd floats (ids NULL), and writes
 * the logits of the last n_logits of them (n_logits x n_vocab) into logits (may be NULL if
 * n_logits is 0). */
enum fvl_status fvl_llm_eval(struct fvl_llm_state *s, struct fvl_compute *compute, size_t n,
                             const int32_t *ids, const float *embd, size_t n_logits, float *logits);

#endif /* FVL_LLM_H */
