/* f2dec.c — the BART decoder and the greedy / beam search over it. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "f2dec.h"

#define NAME(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

enum fvl_status fvl_f2_decoder_load(struct fvl_f2_decoder *d, const struct fvl_gguf *g)
{
	uint32_t v;
	bool has = false;
	enum fvl_status st;
	char n1[96], n2[96];
	memset(d, 0, sizeof(*d));
	if (fvl_gguf_get_bool(g, "f2.has_decoder", &has) != FVL_STATUS_OK || !has)
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "this model file has no Florence-2 decoder "
		                "(converted with --no-florence-decoder); reconvert without it");
#define U32(key, dst) do { if ((st = fvl_gguf_get_u32(g, key, &v))) goto error; dst = v; } while (0)
	U32("f2.text.d_model", d->d);
	U32("f2.text.decoder_layers", d->n_layers);
	U32("f2.text.decoder_heads", d->heads);
	U32("f2.text.decoder_ffn_dim", d->ffn);
	U32("f2.text.vocab_size", d->vocab);
	U32("f2.text.max_position_embeddings", d->max_pos);
	d->no_repeat_ngram = fvl_gguf_get_u32(g, "f2.text.no_repeat_ngram_size", &v) == 0 ? v : 0;
	d->num_beams = fvl_gguf_get_u32(g, "f2.generation.num_beams", &v) == 0 && v ? v : 1;
	fvl_gguf_get_bool(g, "f2.generation.early_stopping", &d->early_stopping);
#undef U32
	int64_t i64;
	d->start_id = fvl_gguf_get_i64(g, "f2.text.decoder_start_token_id", &i64) == 0 ? (int32_t)i64 : 2;
	d->eos_id = fvl_gguf_get_i64(g, "f2.text.eos_token_id", &i64) == 0 ? (int32_t)i64 : 2;
	d->forced_bos_id = fvl_gguf_get_i64(g, "f2.text.forced_bos_token_id", &i64) == 0 ?
	                   (int32_t)i64 : -1;
	d->forced_eos = fvl_gguf_get_i64(g, "f2.text.forced_eos_token_id", &i64) == 0 && i64 >= 0;
	if (d->d == 0 || d->heads == 0 || d->d % d->heads || d->d / d->heads > FVL_ATTN_MAX_HEAD_DIM ||
	    d->n_layers > 256 || d->num_beams > 16 || d->no_repeat_ngram > 64 || d->max_pos == 0) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "Florence-2 decoder: d_model %zu, %zu heads (head dim "
		              "<= %d), %zu layers, %u beams, n-gram %u: not what fvl runs", d->d, d->heads,
		              FVL_ATTN_MAX_HEAD_DIM, d->n_layers, d->num_beams, d->no_repeat_ngram);
		goto error;
	}
	d->tok_embd = fvl_gguf_find_tensor(g, "fe.token_embd.weight");
	if (!d->tok_embd) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "fe.token_embd.weight is missing");
		goto error;
	}
	const char *head = fvl_gguf_find_tensor(g, "fd.output.weight") ? "fd.output.weight" :
	                   "fe.token_embd.weight";
	if ((st = fvl_tensor_f32(g, "fd.pos_embd.weight", (d->max_pos + 2) * d->d, &d->pos_embd)) ||
	    (st = fvl_tensor_f32(g, "fd.embd_norm.weight", d->d, &d->en_w)) ||
	    (st = fvl_tensor_f32(g, "fd.embd_norm.bias", d->d, &d->en_b)) ||
	    (fvl_gguf_find_tensor(g, "fd.logits_bias") && /* absent: none (the native layout) */
	     (st = fvl_tensor_f32(g, "fd.logits_bias", d->vocab, &d->logits_bias))) ||
	    (st = fvl_linear_init(&d->lm_head, g, head, NULL, d->d, d->vocab)))
		goto error;
	d->l = calloc(d->n_layers, sizeof(*d->l));
	if (!d->l) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	for (size_t i = 0; i < d->n_layers; i++) {
		struct fvl_f2_decoder_layer *y = &d->l[i];
		const size_t m = d->d, f = d->ffn;
#define P(x) NAME(n1, "fd.blk.%zu." x, i)
#define Q(x) NAME(n2, "fd.blk.%zu." x, i)
		if ((st = fvl_linear_init(&y->q, g, P("attn_q.weight"), Q("attn_q.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->k, g, P("attn_k.weight"), Q("attn_k.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->v, g, P("attn_v.weight"), Q("attn_v.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->o, g, P("attn_out.weight"), Q("attn_out.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->cq, g, P("cross_q.weight"), Q("cross_q.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->ck, g, P("cross_k.weight"), Q("cross_k.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->cv, g, P("cross_v.weight"), Q("cross_v.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->co, g, P("cross_out.weight"), Q("cross_out.bias"), m, m)) ||
		    (st = fvl_linear_init(&y->up, g, P("ffn_up.weight"), Q("ffn_up.bias"), m, f)) ||
		    (st = fvl_linear_init(&y->down, g, P("ffn_down.weight"), Q("ffn_down.bias"), f, m)) ||
		    (st = fvl_tensor_f32(g, P("attn_norm.weight"), m, &y->an_w)) ||
		    (st = fvl_tensor_f32(g, P("attn_norm.bias"), m, &y->an_b)) ||
		    (st = fvl_tensor_f32(g, P("cross_norm.weight"), m, &y->cn_w)) ||
		    (st = fvl_tensor_f32(g, P("cross_norm.bias"), m, &y->cn_b)) ||
		    (st = fvl_tensor_f32(g, P("ffn_norm.weight"), m, &y->fn_w)) ||
		    (st = fvl_tensor_f32(g, P("ffn_norm.bias"), m, &y->fn_b)))
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
	for (size_t i = 0; d->l && i < d->n_layers; i++) {
		struct fvl_f2_decoder_layer *y = &d->l[i];
		struct fvl_linear *all[] = {&y->q, &y->k, &y->v, &y->o, &y->cq, &y->ck, &y->cv, &y->co,
		                            &y->up, &y->down};
		for (size_t j = 0; j < 10; j++)
			fvl_linear_free(all[j]);
	}
	fvl_linear_free(&d->lm_head);
	free(d->l);
	memset(d, 0, sizeof(*d));
}

/* ---- decoder state ---------------------------------------------------------------------------- */

struct fvl_f2_decoder_state {
	const struct fvl_f2_decoder *d;
	struct fvl_compute *compute;
	size_t max_beams, max_len, n_enc;
	size_t cap;                  /* positions the caches hold now (they grow up to max_len) */
	float *kc, *vc, *kc2, *vc2;  /* self KV: (beam, layer, pos, d), double-buffered for reorders */
	float *ck, *cv;              /* cross K/V: (layer, n_enc, d) */
	float *x, *h, *q, *k, *v, *a, *u; /* (max_beams, ...) */
};

enum fvl_status fvl_f2_decoder_state_init(const struct fvl_f2_decoder *d, struct fvl_compute *compute,
                                      const float *enc, size_t n_enc, size_t max_beams,
                                      size_t max_len, struct fvl_f2_decoder_state **out)
{
	*out = NULL;
	if (max_len > d->max_pos)
		max_len = d->max_pos;
	struct fvl_f2_decoder_state *s = calloc(1, sizeof(*s));
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const size_t D = d->d, L = d->n_layers, cap = max_len < 32 ? max_len : 32;
	const size_t kv = max_beams * L * cap * D;
	s->d = d, s->compute = compute, s->max_beams = max_beams, s->max_len = max_len, s->n_enc = n_enc;
	s->cap = cap;
	s->kc = malloc(kv * 4), s->vc = malloc(kv * 4), s->kc2 = malloc(kv * 4), s->vc2 = malloc(kv * 4);
	s->ck = malloc(L * n_enc * D * 4), s->cv = malloc(L * n_enc * D * 4);
	s->x = malloc(max_beams * D * 4), s->h = malloc(max_beams * D * 4);
	s->q = malloc(max_beams * D * 4), s->k = malloc(max_beams * D * 4);
	s->v = malloc(max_beams * D * 4), s->a = malloc(max_beams * D * 4);
	s->u = malloc(max_beams * d->ffn * 4);
	enum fvl_status st = fvl_compute_reserve(compute, n_enc > max_beams ? n_enc : max_beams,
	                                    d->ffn > D ? d->ffn : D);
	if (!s->kc || !s->vc || !s->kc2 || !s->vc2 || !s->ck || !s->cv || !s->x || !s->h || !s->q ||
	    !s->k || !s->v || !s->a || !s->u)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the decoder state");
	for (size_t l = 0; l < L && st == FVL_STATUS_OK; l++) { /* cross K/V once per image */
		fvl_linear_forward(compute, &d->l[l].ck, n_enc, enc, D, s->ck + l * n_enc * D, D);
		fvl_linear_forward(compute, &d->l[l].cv, n_enc, enc, D, s->cv + l * n_enc * D, D);
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
	const size_t D = s->d->d, L = s->d->n_layers, old = s->cap;
	const size_t cap = 2 * old < s->max_len ? 2 * old : s->max_len, n = s->max_beams * L * cap * D;
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
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "decoder: %zu beams at position %zu exceed "
		                "the state (%zu, %zu)", nb, pos, s->max_beams, s->max_len);
	enum fvl_status st;
	if (pos >= s->cap && (st = grow(s)) != FVL_STATUS_OK)
		return st;
	const size_t D = d->d, L = d->n_layers, hd = D / d->heads, ML = s->cap, per_beam = L * ML * D;
	/* beams continue their parents: their caches up to pos come from the parents' (nothing to
	 * move when every beam continues itself, as greedy search always does) */
	bool moved = false;
	for (size_t b = 0; b < nb && pos > 0; b++)
		moved |= parents[b] != (int32_t)b;
	if (moved) {
		for (size_t b = 0; b < nb; b++)
			for (size_t l = 0; l < L; l++) {
				const size_t from = parents[b] * per_beam + l * ML * D, to = b * per_beam + l * ML * D;
				memcpy(s->kc2 + to, s->kc + from, pos * D * 4);
				memcpy(s->vc2 + to, s->vc + from, pos * D * 4);
			}
		float *t = s->kc; s->kc = s->kc2; s->kc2 = t;
		t = s->vc; s->vc = s->vc2; s->vc2 = t;
	}
	for (size_t b = 0; b < nb; b++) {
		if (tokens[b] < 0 || (size_t)tokens[b] >= d->vocab)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "decoder token %d", tokens[b]);
		fvl_tensor_row(d->tok_embd, (size_t)tokens[b], s->x + b * D);
		compute->kernels.add(D, s->x + b * D, d->pos_embd + (pos + 2) * D, s->x + b * D);
	}
	compute->kernels.layernorm(nb, D, s->x, d->en_w, d->en_b, 1e-5f, s->x);
	for (size_t l = 0; l < L; l++) {
		const struct fvl_f2_decoder_layer *y = &d->l[l];
		fvl_linear_forward(compute, &y->q, nb, s->x, D, s->q, D);
		fvl_linear_forward(compute, &y->k, nb, s->x, D, s->k, D);
		fvl_linear_forward(compute, &y->v, nb, s->x, D, s->v, D);
		for (size_t b = 0; b < nb; b++) {
			float *kc = s->kc + b * per_beam + l * ML * D, *vc = s->vc + b * per_beam + l * ML * D;
			memcpy(kc + pos * D, s->k + b * D, D * 4);
			memcpy(vc + pos * D, s->v + b * D, D * 4);
			struct fvl_attn_args a = {1, pos + 1, d->heads, d->heads, hd, s->q + b * D, D, kc, vc,
			                          D, D, false, false, 0, 1.0f / sqrtf((float)hd), s->a + b * D,
			                          D, 0, d->heads};
			compute->kernels.attn(&a);
		}
		fvl_linear_forward(compute, &y->o, nb, s->a, D, s->h, D);
		compute->kernels.add(nb * D, s->x, s->h, s->x);
		compute->kernels.layernorm(nb, D, s->x, y->an_w, y->an_b, 1e-5f, s->x);
		fvl_linear_forward(compute, &y->cq, nb, s->x, D, s->q, D);
		struct fvl_attn_args c = {nb, s->n_enc, d->heads, d->heads, hd, s->q, D,
		                          s->ck + l * s->n_enc * D, s->cv + l * s->n_enc * D, D, D, false,
		                          false, 0, 1.0f / sqrtf((float)hd), s->a, D, 0, d->heads};
		compute->kernels.attn(&c); /* every beam attends to the same encoder output */
		fvl_linear_forward(compute, &y->co, nb, s->a, D, s->h, D);
		compute->kernels.add(nb * D, s->x, s->h, s->x);
		compute->kernels.layernorm(nb, D, s->x, y->cn_w, y->cn_b, 1e-5f, s->x);
		fvl_linear_forward(compute, &y->up, nb, s->x, D, s->u, d->ffn);
		compute->kernels.gelu(nb * d->ffn, s->u, s->u);
		fvl_linear_forward(compute, &y->down, nb, s->u, d->ffn, s->h, D);
		compute->kernels.add(nb * D, s->x, s->h, s->x);
		compute->kernels.layernorm(nb, D, s->x, y->fn_w, y->fn_b, 1e-5f, s->x);
	}
	fvl_linear_forward(compute, &d->lm_head, nb, s->x, D, logits, d->vocab);
	for (size_t b = 0; b < nb && d->logits_bias; b++)
		compute->kernels.add(d->vocab, logits + b * d->vocab, d->logits_bias, logits + b * d->vocab);
	return FVL_STATUS_OK;
}

/* ---- search ------------------------------------------------------------------------------------ */

/* Bans tokens that would repeat an n-gram of seq (len tokens, start token included). */
static void ban_ngrams(const int32_t *seq, size_t len, uint32_t n, float *logits)
{
	if (n == 0 || len + 1 < n)
		return;
	for (size_t i = 0; i + n <= len; i++) {
		bool same = true;
		for (size_t j = 0; j + 1 < n && same; j++)
			same = seq[i + j] == seq[len - (n - 1) + j];
		if (same)
			logits[seq[i + n - 1]] = -INFINITY;
	}
}

/* Only token t stays possible (HF's ForcedBOS/EOS processors: 0 for it, -inf for the rest). */
static void force(float *logits, size_t n, int32_t t)
{
	for (size_t i = 0; i < n; i++)
		logits[i] = -INFINITY;
	logits[t] = 0.0f;
}

static void log_softmax(float *x, size_t n)
{
	float mx = -INFINITY;
	for (size_t i = 0; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += exp((double)x[i] - mx);
	const float lse = mx + (float)log(sum);
	for (size_t i = 0; i < n; i++)
		x[i] -= lse;
}

struct hyp {
	float score;
	size_t len;
	int32_t *tok;
};

/* Where a finished hypothesis of score sc goes among the B best: a free slot, the worst one if
 * sc beats it, or NULL. */
static struct hyp *hyp_slot(struct hyp *hy, size_t *n_hyp, size_t B, float sc)
{
	size_t slot = *n_hyp;
	if (slot < B) {
		(*n_hyp)++;
	} else {
		slot = 0;
		for (size_t h = 1; h < B; h++)
			if (hy[h].score < hy[slot].score)
				slot = h;
		if (sc <= hy[slot].score)
			return NULL;
	}
	hy[slot].score = sc;
	return &hy[slot];
}

enum fvl_status fvl_search_run(const struct fvl_search *s, fvl_step_fn step, void *ctx,
                               int32_t *out, size_t *n_out)
{
	const size_t V = s->vocab, B = s->n_beams ? s->n_beams : 1, T = s->max_new + 1;
	const float lp = s->length_penalty;
	enum fvl_status st = FVL_STATUS_OK;
	int32_t *seq = malloc(B * T * 4), *nseq = malloc(B * T * 4), *parents = calloc(B, 4);
	int32_t *toks = malloc(B * 4);
	float *logits = malloc(B * V * 4), *score = malloc(B * 4), *nscore = malloc(B * 4);
	struct hyp *hy = calloc(B, sizeof(*hy));
	int32_t *hbuf = malloc(B * T * 4);
	size_t n_hyp = 0, nb = 1;
	*n_out = 0;
	if (!seq || !nseq || !parents || !toks || !logits || !score || !nscore || !hy || !hbuf) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the search");
		goto done;
	}
	for (size_t b = 0; b < B; b++)
		hy[b].tok = hbuf + b * T;
	seq[0] = s->start_id;
	score[0] = 0.0f;
	toks[0] = s->start_id;
	bool done = false;
	for (size_t len = 1; len <= s->max_new && !done; len++) {
		/* logits for every live beam after len tokens (the start token included) */
		if ((st = step(ctx, nb, parents, toks, len - 1, logits)) != FVL_STATUS_OK)
			goto done;
		/* HF's order: log-softmax (beam search), then the processors, then the beam score */
		for (size_t b = 0; b < nb; b++) {
			float *lg = logits + b * V;
			if (B > 1)
				log_softmax(lg, V);
			ban_ngrams(seq + b * T, len, s->no_repeat_ngram, lg);
			if (len == 1 && s->forced_bos_id >= 0 && (size_t)s->forced_bos_id < V)
				force(lg, V, s->forced_bos_id);
			if (len == s->max_new && s->forced_eos && s->eos_id >= 0 && (size_t)s->eos_id < V)
				force(lg, V, s->eos_id);
			if (B > 1)
				for (size_t i = 0; i < V; i++)
					lg[i] += score[b];
		}
		if (B == 1) { /* greedy */
			size_t best = 0;
			for (size_t i = 1; i < V; i++)
				if (logits[i] > logits[best])
					best = i;
			out[len - 1] = (int32_t)best;
			*n_out = len;
			seq[len] = (int32_t)best;
			toks[0] = (int32_t)best;
			parents[0] = 0;
			if ((int32_t)best == s->eos_id)
				break;
			continue;
		}
		/* the 2B best (beam, token) continuations, best first */
		size_t cand_b[64], cand_t[64], nc = 0;
		float cand_s[64];
		const size_t want = 2 * B < 64 ? 2 * B : 64;
		for (size_t b = 0; b < nb; b++)
			for (size_t i = 0; i < V; i++) {
				const float v = logits[b * V + i];
				if (!(v > -INFINITY) || (nc == want && v <= cand_s[nc - 1]))
					continue;
				size_t at = nc < want ? nc++ : nc - 1;
				while (at > 0 && cand_s[at - 1] < v) {
					cand_s[at] = cand_s[at - 1], cand_b[at] = cand_b[at - 1], cand_t[at] = cand_t[at - 1];
					at--;
				}
				cand_s[at] = v, cand_b[at] = b, cand_t[at] = i;
			}
		size_t next = 0;
		for (size_t c = 0; c < nc && next < B; c++) {
			const int32_t *src = seq + cand_b[c] * T;
			if ((int32_t)cand_t[c] == s->eos_id) {
				if (c >= B) /* an EOS below the beam width does not count (as in HF) */
					continue;
				struct hyp *h = hyp_slot(hy, &n_hyp, B, cand_s[c] / powf((float)len, lp));
				if (h) {
					h->len = len;
					memcpy(h->tok, src + 1, (len - 1) * 4);
					h->tok[len - 1] = s->eos_id;
				}
				continue;
			}
			memcpy(nseq + next * T, src, len * 4);
			nseq[next * T + len] = (int32_t)cand_t[c];
			nscore[next] = cand_s[c];
			parents[next] = (int32_t)cand_b[c];
			toks[next] = (int32_t)cand_t[c];
			next++;
		}
		int32_t *t = seq; seq = nseq; nseq = t;
		float *u = score; score = nscore; nscore = u;
		nb = next;
		if (nb == 0)
			break;
		if (n_hyp == B) {
			float worst = hy[0].score;
			for (size_t h = 1; h < B; h++)
				worst = hy[h].score < worst ? hy[h].score : worst;
			done = s->early_stopping || score[0] / powf((float)len, lp) <= worst;
		}
	}
	if (B > 1) {
		/* unfinished beams count as hypotheses at the end */
		for (size_t b = 0; b < nb && !done; b++) {
			/* HF divides by the length with the start token */
			struct hyp *h = hyp_slot(hy, &n_hyp, B, score[b] / powf((float)(s->max_new + 1), lp));
			if (h) {
				h->len = s->max_new;
				memcpy(h->tok, seq + b * T + 1, s->max_new * 4);
			}
		}
		size_t best = 0;
		for (size_t h = 1; h < n_hyp; h++)
			if (hy[h].score > hy[best].score)
				best = h;
		if (n_hyp) {
			memcpy(out, hy[best].tok, hy[best].len * 4);
			*n_out = hy[best].len;
		}
	}
done:
	free(seq), free(nseq), free(parents), free(toks), free(logits), free(score), free(nscore);
	free(hy), free(hbuf);
	return st;
}
