/* llm.h — the LLM decoder of Florence-VL: Phi-3 (fused qkv and gate_up, LongRoPE) and Llama-3
 * (GQA, llama3 rope scaling). An immutable weight view over the model file plus a per-session
 * state (KV cache, buffers) that evaluates batches of tokens or embeddings. */
#ifndef FVL_LLM_H
#define FVL_LLM_H

#include "gguf.h"
#include "linear.h"

struct fvl_llm_layer {
	const float *attn_norm, *ffn_norm;      /* (H) */
	struct fvl_linear qkv;                   /* phi3: (q + 2 kv, H) */
	struct fvl_linear q, k, v;               /* llama: (nh hd, H), (nkv hd, H) x 2 */
	struct fvl_linear o;                     /* (H, nh hd) */
	struct fvl_linear gate_up;               /* phi3: (2F, H), gate rows then up rows */
	struct fvl_linear gate, up;              /* llama: (F, H) each */
	struct fvl_linear down;                  /* (H, F) */
};

struct fvl_llm {
	bool phi3;
	size_t H, L, nh, nkv, hd, F, V, ctx_max, rot, orig_ctx;
	float eps;
	const struct fvl_gguf_tensor *tok_embd; /* (V, H), any type */
	const float *out_norm;                  /* (H) */
	struct fvl_linear output;               /* (V, H) */
	struct fvl_llm_layer *layers;           /* (L) */
	float *inv_freq_short, *inv_freq_long;  /* (rot / 2); long only for longrope */
	float attn_factor;                      /* cos/sin scale (longrope), else 1 */
};

/* Reads hyperparameters and maps (and packs) the weights of the file's LLM. */
enum fvl_status fvl_llm_load(struct fvl_llm *m, const struct fvl_gguf *g);
void fvl_llm_free(struct fvl_llm *m);

struct fvl_llm_state {
	const struct fvl_llm *m;
	size_t ctx, n_past, ubatch;
	bool kv_f16;
	void *kc, *vc;                /* (L, ctx, nkv hd) f16 or f32 */
	float *cos_t, *sin_t;         /* (ctx, rot / 2) for the current factor set */
	bool long_tables;             /* which set cos_t/sin_t hold */
	float *x, *h, *qkv, *att, *ff, *act; /* ubatch rows each */
	int32_t *pos;                 /* (ubatch) */
};

/* ctx: positions the session can hold (<= the model's context length); ubatch: tokens per
 * batch in prefill. */
enum fvl_status fvl_llm_state_init(struct fvl_llm_state *s, const struct fvl_llm *m,
                                   struct fvl_rt *rt, size_t ctx, bool kv_f16, size_t ubatch);
void fvl_llm_state_free(struct fvl_llm_state *s);
/* Forgets everything after position n (n <= n_past): reuse a shared prefix. */
void fvl_llm_state_rewind(struct fvl_llm_state *s, size_t n);

/* Appends n tokens, given as ids (embd NULL) or as n rows of H floats (ids NULL), and writes the
 * logits of the last n_logits of them (n_logits x V) into logits (may be NULL if n_logits 0). */
enum fvl_status fvl_llm_eval(struct fvl_llm_state *s, struct fvl_rt *rt, size_t n,
                             const int32_t *ids, const float *embd, size_t n_logits, float *logits);

#endif /* FVL_LLM_H */
