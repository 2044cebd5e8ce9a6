/* florence2-decoder.c — Florence-2's post-LN BART decoder: one step for every live beam, causal
 * self-attention over per-beam KV caches that grow on demand (and are reordered when beams
 * continue other beams), cross-attention over the encoder output (its K/V once per image), the
 * lm_head tied to the token embedding plus final_logits_bias. Reference:
 * docs/florence-vl-inference.md section 12. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "names.h"
#include "florence2-decoder.h"

#define NAME(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

enum fvl_status fvl_f2_decoder_load(struct fvl_f2_decoder *d, const struct fvl_gguf *g)
{
	uint32_t v;
	bool has = false;
	enum fvl_status st;
	char n1[96], n2[96];
	memset(d, 0, sizeof(*d));
	if (fvl_gguf_get_bool(g, FVL_KEY_F2_HAS_DECODER, &has) != FVL_STATUS_OK || !has)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this model file has no Florence-2 decoder "
		                "(converted with --no-florence-decoder); reconvert without it");
	if ((st = fvl_gguf_get_dim(g, FVL_KEY_T_D_MODEL, 1, SIZE_MAX, &d->n_embd)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_DEC_LAYERS, 0, 256, &d->n_layer)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_DEC_HEADS, 1, SIZE_MAX, &d->n_head)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_DEC_FFN, 1, SIZE_MAX, &d->n_ff)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_VOCAB_SIZE, 1, SIZE_MAX, &d->n_vocab)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_MAX_POS, 1, SIZE_MAX, &d->n_pos)))
		goto error;
	d->eps = 1e-5f; /* nn.LayerNorm's default: files converted before the key was written */
	if (fvl_gguf_get_f32(g, FVL_KEY_T_LAYER_NORM_EPS, &d->eps) == FVL_STATUS_OK &&
	    !(d->eps > 0.0f && d->eps < 1.0f)) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "f2.text.layer_norm_eps %g is outside (0, 1)",
		              (double)d->eps);
		goto error;
	}
	d->no_repeat_ngram = fvl_gguf_get_u32(g, FVL_KEY_T_NO_REPEAT_NGRAM, &v) == 0 ? v : 0;
	d->num_beams = fvl_gguf_get_u32(g, FVL_KEY_F2_GEN_NUM_BEAMS, &v) == 0 && v ? v : 1;
	fvl_gguf_get_bool(g, FVL_KEY_F2_GEN_EARLY_STOP, &d->early_stopping);
	int64_t i64;
	d->start_id = fvl_gguf_get_i64(g, FVL_KEY_T_DEC_START_ID, &i64) == 0 ? (int32_t)i64 : 2;
	d->eos_id = fvl_gguf_get_i64(g, FVL_KEY_T_EOS_ID, &i64) == 0 ? (int32_t)i64 : 2;
	d->forced_bos_id =
	        fvl_gguf_get_i64(g, FVL_KEY_T_FORCED_BOS_ID, &i64) == 0 ? (int32_t)i64 : -1;
	d->forced_eos = fvl_gguf_get_i64(g, FVL_KEY_T_FORCED_EOS_ID, &i64) == 0 && i64 >= 0;
	if (d->n_embd % d->n_head || d->n_embd / d->n_head > FVL_ATTN_MAX_HEAD_DIM ||
	    d->num_beams > 16 || d->no_repeat_ngram > 64) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "Florence-2 decoder: d_model %zu, %zu heads (head dim "
		              "<= %d), %zu layers, %u beams, n-gram %u: not what fvl runs",
		              d->n_embd, d->n_head, FVL_ATTN_MAX_HEAD_DIM, d->n_layer, d->num_beams,
		              d->no_repeat_ngram);
		goto error;
	}
	d->tok_embd = fvl_gguf_find_tensor(g, FVL_TN_ENC_TOKEN_EMBD);
	if (!d->tok_embd) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, FVL_TN_ENC_TOKEN_EMBD " is missing");
		goto error;
	}
	const char *head = fvl_gguf_find_tensor(g, FVL_TN_DEC_OUTPUT) ? FVL_TN_DEC_OUTPUT
	                                                              : FVL_TN_ENC_TOKEN_EMBD;
	if ((st = fvl_tensor_f32(g, FVL_TN_DEC_POS_EMBD, (d->n_pos + 2) * d->n_embd,
	                         &d->pos_embd)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_DEC_EMBD_NORM FVL_W, d->n_embd, &d->embd_norm_w)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_DEC_EMBD_NORM FVL_B, d->n_embd, &d->embd_norm_b)) ||
	    (fvl_gguf_find_tensor(g,
	                          FVL_TN_DEC_LOGITS_BIAS) && /* absent: none (the native layout) */
	     (st = fvl_tensor_f32(g, FVL_TN_DEC_LOGITS_BIAS, d->n_vocab, &d->logits_bias))) ||
	    (st = fvl_linear_init(&d->lm_head, g, head, NULL, d->n_embd, d->n_vocab)))
		goto error;
	d->layers = calloc(d->n_layer, sizeof(*d->layers));
	if (!d->layers) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	for (size_t i = 0; i < d->n_layer; i++) {
		struct fvl_f2_decoder_layer *y = &d->layers[i];
		const size_t m = d->n_embd, f = d->n_ff;
#define P(x) NAME(n1, FVL_TN_DEC_BLK x, i)
#define Q(x) NAME(n2, FVL_TN_DEC_BLK x, i)
		if ((st = fvl_linear_init(&y->q, g, P(FVL_TN_ATTN_Q FVL_W), Q(FVL_TN_ATTN_Q FVL_B),
		                          m, m)) ||
		    (st = fvl_linear_init(&y->k, g, P(FVL_TN_ATTN_K FVL_W), Q(FVL_TN_ATTN_K FVL_B),
		                          m, m)) ||
		    (st = fvl_linear_init(&y->v, g, P(FVL_TN_ATTN_V FVL_W), Q(FVL_TN_ATTN_V FVL_B),
		                          m, m)) ||
		    (st = fvl_linear_init(&y->o, g, P(FVL_TN_ATTN_OUT FVL_W),
		                          Q(FVL_TN_ATTN_OUT FVL_B), m, m)) ||
		    (st = fvl_linear_init(&y->cross_q, g, P(FVL_TN_CROSS_Q FVL_W),
		                          Q(FVL_TN_CROSS_Q FVL_B), m, m)) ||
		    (st = fvl_linear_init(&y->cross_k, g, P(FVL_TN_CROSS_K FVL_W),
		                          Q(FVL_TN_CROSS_K FVL_B), m, m)) ||
		    (st = fvl_linear_init(&y->cross_v, g, P(FVL_TN_CROSS_V FVL_W),
		                          Q(FVL_TN_CROSS_V FVL_B), m, m)) ||
		    (st = fvl_linear_init(&y->cross_out, g, P(FVL_TN_CROSS_OUT FVL_W),
		                          Q(FVL_TN_CROSS_OUT FVL_B), m, m)) ||
		    (st = fvl_linear_init(&y->ffn_up, g, P(FVL_TN_FFN_UP FVL_W),
		                          Q(FVL_TN_FFN_UP FVL_B), m, f)) ||
		    (st = fvl_linear_init(&y->ffn_down, g, P(FVL_TN_FFN_DOWN FVL_W),
		                          Q(FVL_TN_FFN_DOWN FVL_B), f, m)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_W), m, &y->attn_norm_w)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_B), m, &y->attn_norm_b)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_CROSS_NORM FVL_W), m, &y->cross_norm_w)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_CROSS_NORM FVL_B), m, &y->cross_norm_b)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_W), m, &y->ffn_norm_w)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_B), m, &y->ffn_norm_b)))
			goto error;
#undef P
#undef Q
	}
	return FVL_STATUS_OK;
error:
	fvl_f2_decoder_free(d);
	return st;
}

void fvl_f2_decoder_free(struct fvl_f2_decoder *d)
{
	for (size_t i = 0; d->layers && i < d->n_layer; i++) {
		struct fvl_f2_decoder_layer *y = &d->layers[i];
		struct fvl_linear *all[] = {&y->q,       &y->k,       &y->v,       &y->o,
		                            &y->cross_q, &y->cross_k, &y->cross_v, &y->cross_out,
		                            &y->ffn_up,  &y->ffn_down};
		for (size_t j = 0; j < 10; j++)
			fvl_linear_free(all[j]);
	}
	fvl_linear_free(&d->lm_head);
	free(d->layers);
	memset(d, 0, sizeof(*d));
}

/* ---- decoder state ---------------------------------------------------------------------------- */

struct fvl_f2_decoder_state {
	const struct fvl_f2_decoder *d;
	struct fvl_compute *compute;
	size_t max_beams, max_len, n_enc;
	size_t cap;                 /* positions the caches hold now (they grow up to max_len) */
	float *kc, *vc, *kc2, *vc2; /* self K/V: (max_beams, n_layer, cap, n_embd); the 2s are the
	                                other buffer of a reorder */
	float *ck, *cv;             /* cross K/V: (n_layer, n_enc, n_embd) */
	float *x, *h;               /* (max_beams, n_embd): the residual stream, a sublayer's out */
	float *q, *k, *v, *a;       /* (max_beams, n_embd): projections, the attention output */
	float *u;                   /* (max_beams, n_ff) */
};

enum fvl_status fvl_f2_decoder_state_init(const struct fvl_f2_decoder *d,
                                          struct fvl_compute *compute, const float *enc,
                                          size_t n_enc, size_t max_beams, size_t max_len,
                                          struct fvl_f2_decoder_state **out)
{
	*out = NULL;
	if (max_len > d->n_pos)
		max_len = d->n_pos;
	struct fvl_f2_decoder_state *s = calloc(1, sizeof(*s));
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const size_t D = d->n_embd, L = d->n_layer, cap = max_len < 32 ? max_len : 32;
	const size_t kv = max_beams * L * cap * D;
	s->d = d, s->compute = compute, s->max_beams = max_beams, s->max_len = max_len,
	s->n_enc = n_enc;
	s->cap = cap;
	s->kc = malloc(kv * 4), s->vc = malloc(kv * 4), s->kc2 = malloc(kv * 4),
	s->vc2 = malloc(kv * 4);
	s->ck = malloc(L * n_enc * D * 4), s->cv = malloc(L * n_enc * D * 4);
	s->x = malloc(max_beams * D * 4), s->h = malloc(max_beams * D * 4);
	s->q = malloc(max_beams * D * 4), s->k = malloc(max_beams * D * 4);
	s->v = malloc(max_beams * D * 4), s->a = malloc(max_beams * D * 4);
	s->u = malloc(max_beams * d->n_ff * 4);
	enum fvl_status st = fvl_compute_reserve(compute, n_enc > max_beams ? n_enc : max_beams,
	                                         d->n_ff > D ? d->n_ff : D);
	if (!s->kc || !s->vc || !s->kc2 || !s->vc2 || !s->ck || !s->cv || !s->x || !s->h || !s->q ||
	    !s->k || !s->v || !s->a || !s->u)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the decoder state");
	for (size_t l = 0; l < L && st == FVL_STATUS_OK; l++) { /* cross K/V once per image */
		fvl_linear_forward(compute, &d->layers[l].cross_k, n_enc, enc, D,
		                   s->ck + l * n_enc * D, D);
		fvl_linear_forward(compute, &d->layers[l].cross_v, n_enc, enc, D,
		                   s->cv + l * n_enc * D, D);
	}
	if (st != FVL_STATUS_OK) {
		fvl_f2_decoder_state_free(s);
		return st;
	}
	*out = s;
	return FVL_STATUS_OK;
}

void fvl_f2_decoder_state_free(struct fvl_f2_decoder_state *s)
{
	if (!s)
		return;
	free(s->kc), free(s->vc), free(s->kc2), free(s->vc2), free(s->ck), free(s->cv);
	free(s->x), free(s->h), free(s->q), free(s->k), free(s->v), free(s->a), free(s->u);
	free(s);
}

/* Doubles the caches' positions (up to max_len): answers are mostly short, max_len is not. */
static enum fvl_status grow(struct fvl_f2_decoder_state *s)
{
	const size_t D = s->d->n_embd, L = s->d->n_layer, old = s->cap;
	const size_t cap = 2 * old < s->max_len ? 2 * old : s->max_len,
	             n = s->max_beams * L * cap * D;
	float *buf[4] = {malloc(n * 4), malloc(n * 4), malloc(n * 4), malloc(n * 4)};
	float **cur[4] = {&s->kc, &s->vc, &s->kc2, &s->vc2};
	if (!buf[0] || !buf[1] || !buf[2] || !buf[3]) {
		for (int i = 0; i < 4; i++)
			free(buf[i]);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the decoder cache");
	}
	for (int i = 0; i < 4; i++) {
		for (size_t bl = 0; bl < s->max_beams * L; bl++)
			memcpy(buf[i] + bl * cap * D, *cur[i] + bl * old * D, old * D * 4);
		free(*cur[i]);
		*cur[i] = buf[i];
	}
	s->cap = cap;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_f2_decoder_step(void *state, size_t nb, const int32_t *parents,
                                    const int32_t *tokens, size_t pos, float *logits)
{
	struct fvl_f2_decoder_state *s = state;
	const struct fvl_f2_decoder *d = s->d;
	struct fvl_compute *compute = s->compute;
	if (nb > s->max_beams || pos >= s->max_len)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "decoder: %zu beams at position %zu exceed "
		                "the state (%zu, %zu)",
		                nb, pos, s->max_beams, s->max_len);
	enum fvl_status st;
	if (pos >= s->cap && (st = grow(s)) != FVL_STATUS_OK)
		return st;
	const size_t D = d->n_embd, L = d->n_layer, hd = D / d->n_head, ML = s->cap,
	             per_beam = L * ML * D;
	/* beams continue their parents: their caches up to pos come from the parents' (nothing to
	 * move when every beam continues itself, as greedy search always does) */
	bool moved = false;
	for (size_t b = 0; b < nb && pos > 0; b++)
		moved |= parents[b] != (int32_t)b;
	if (moved) {
		for (size_t b = 0; b < nb; b++)
			for (size_t l = 0; l < L; l++) {
				const size_t from = parents[b] * per_beam + l * ML * D,
				             to = b * per_beam + l * ML * D;
				memcpy(s->kc2 + to, s->kc + from, pos * D * 4);
				memcpy(s->vc2 + to, s->vc + from, pos * D * 4);
			}
		float *t = s->kc;
		s->kc = s->kc2;
		s->kc2 = t;
		t = s->vc;
		s->vc = s->vc2;
		s->vc2 = t;
	}
	for (size_t b = 0; b < nb; b++) {
		if (tokens[b] < 0 || (size_t)tokens[b] >= d->n_vocab)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "decoder token %d", tokens[b]);
		fvl_tensor_row(d->tok_embd, (size_t)tokens[b], s->x + b * D);
		fvl_op_add(compute, D, s->x + b * D, d->pos_embd + (pos + 2) * D, s->x + b * D);
	}
	fvl_op_layernorm(compute, nb, D, s->x, d->embd_norm_w, d->embd_norm_b, d->eps, s->x);
	for (size_t l = 0; l < L; l++) {
		const struct fvl_f2_decoder_layer *y = &d->layers[l];
		fvl_linear_forward(compute, &y->q, nb, s->x, D, s->q, D);
		fvl_linear_forward(compute, &y->k, nb, s->x, D, s->k, D);
		fvl_linear_forward(compute, &y->v, nb, s->x, D, s->v, D);
		for (size_t b = 0; b < nb; b++) {
			float *kc = s->kc + b * per_beam + l * ML * D,
			      *vc = s->vc + b * per_beam + l * ML * D;
			memcpy(kc + pos * D, s->k + b * D, D * 4);
			memcpy(vc + pos * D, s->v + b * D, D * 4);
			const struct fvl_attn_args a = {
			        .n_q = 1,
			        .n_kv = pos + 1,
			        .n_heads = d->n_head,
			        .n_kv_heads = d->n_head,
			        .head_dim = hd,
			        .q = s->q + b * D,
			        .ldq = D,
			        .k = kc,
			        .v = vc,
			        .ldk = D,
			        .ldv = D,
			        .kv_f16 = false,
			        .causal = false,
			        .scale = 1.0f / sqrtf((float)hd),
			        .o = s->a + b * D,
			        .ldo = D,
			        .head0 = 0,
			        .head1 = d->n_head,
			};
			fvl_op_attn(compute, &a);
		}
		fvl_linear_forward(compute, &y->o, nb, s->a, D, s->h, D);
		fvl_op_add(compute, nb * D, s->x, s->h, s->x);
		fvl_op_layernorm(compute, nb, D, s->x, y->attn_norm_w, y->attn_norm_b, d->eps,
		                 s->x);
		fvl_linear_forward(compute, &y->cross_q, nb, s->x, D, s->q, D);
		const struct fvl_attn_args c = {
		        .n_q = nb,
		        .n_kv = s->n_enc,
		        .n_heads = d->n_head,
		        .n_kv_heads = d->n_head,
		        .head_dim = hd,
		        .q = s->q,
		        .ldq = D,
		        .k = s->ck + l * s->n_enc * D,
		        .v = s->cv + l * s->n_enc * D,
		        .ldk = D,
		        .ldv = D,
		        .kv_f16 = false,
		        .causal = false,
		        .scale = 1.0f / sqrtf((float)hd),
		        .o = s->a,
		        .ldo = D,
		        .head0 = 0,
		        .head1 = d->n_head,
		};
		fvl_op_attn(compute, &c); /* every beam attends to the same encoder output */
		fvl_linear_forward(compute, &y->cross_out, nb, s->a, D, s->h, D);
		fvl_op_add(compute, nb * D, s->x, s->h, s->x);
		fvl_op_layernorm(compute, nb, D, s->x, y->cross_norm_w, y->cross_norm_b, d->eps,
		                 s->x);
		fvl_linear_forward(compute, &y->ffn_up, nb, s->x, D, s->u, d->n_ff);
		fvl_op_gelu(compute, nb * d->n_ff, s->u, s->u);
		fvl_linear_forward(compute, &y->ffn_down, nb, s->u, d->n_ff, s->h, D);
		fvl_op_add(compute, nb * D, s->x, s->h, s->x);
		fvl_op_layernorm(compute, nb, D, s->x, y->ffn_norm_w, y->ffn_norm_b, d->eps, s->x);
	}
	fvl_linear_forward(compute, &d->lm_head, nb, s->x, D, logits, d->n_vocab);
	for (size_t b = 0; b < nb && d->logits_bias; b++)
		fvl_op_add(compute, d->n_vocab, logits + b * d->n_vocab, d->logits_bias,
		           logits + b * d->n_vocab);
	return FVL_STATUS_OK;
}
