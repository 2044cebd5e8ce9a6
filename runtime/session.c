/* session.c — the session API of fvl.h: one conversation about one image. The prompt follows
 * Florence-VL exactly: the chat template around "<image>\n{question}", split at <image>, each
 * chunk tokenized with BOS and spliced LLaVA's way (tokenizer_image_token: the first chunk's BOS
 * kept once, every chunk's first token dropped), the visual embeddings at the placeholder. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "model.h"

#define IMAGE_ID (-200)

struct fvl_session {
	const struct fvl_model *m;
	struct fvl_rt rt;
	struct fvl_llm_state st;
	float *visual;          /* (n_visual, H) of the current image, or NULL */
	size_t n_visual;
	uint64_t image_serial;  /* changes with every image, so the KV prefix knows */
	/* what the KV cache holds: the ids evaluated so far, visual rows as -1 - serial */
	int64_t *cache;
	size_t n_cache, cap_cache;
	int32_t *prompt;        /* last prompt, -200 at the image */
	size_t n_prompt;
	float *logits;          /* (V) */
	float *prompt_logits;   /* (V) at the last prompt position of the last ask */
	bool have_prompt_logits;
	float *probs;           /* (V) sampling scratch */
	int32_t *order;         /* (V) */
	struct fvl_stats stats;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

void fvl_session_params_default(struct fvl_session_params *p)
{
	memset(p, 0, sizeof(*p));
}

void fvl_gen_params_default(struct fvl_gen_params *g)
{
	memset(g, 0, sizeof(*g));
	g->n_predict = 256;
	g->temp = 0.0f;
	g->top_p = 1.0f;
	g->repeat_penalty = 1.0f;
	g->seed = 42;
}

enum fvl_status fvl_session_init(const struct fvl_model *model, const struct fvl_session_params *p,
                                 struct fvl_session **out)
{
	struct fvl_session_params def;
	enum fvl_status st;
	*out = NULL;
	if (!model)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_session_init: no model");
	if (!model->is_vl)
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "this model (%s) has no LLM: run Florence-2 "
		                "models through their tasks (fvl task, fvl_task_run)", model->arch);
	if (!p) {
		fvl_session_params_default(&def);
		p = &def;
	}
	if (p->n_threads > 1024)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%u threads is absurd", p->n_threads);
	if (p->n_ctx && p->n_ctx < 16)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "a context of %u tokens is too small",
		                p->n_ctx);
	struct fvl_session *s = calloc(1, sizeof(*s));
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	s->m = model;
	const size_t V = model->llm.V;
	s->logits = malloc(V * sizeof(float));
	s->prompt_logits = malloc(V * sizeof(float));
	s->probs = malloc(V * sizeof(float));
	s->order = malloc(V * sizeof(int32_t));
	if (!s->logits || !s->prompt_logits || !s->probs || !s->order) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	if ((st = fvl_rt_init(&s->rt, p->n_threads, p->isa)) ||
	    (st = fvl_llm_state_init(&s->st, &model->llm, &s->rt, p->n_ctx, !p->kv_f32, 256)))
		goto error;
	*out = s;
	return FVL_STATUS_OK;
error:
	fvl_session_free(s);
	return st;
}

void fvl_session_free(struct fvl_session *s)
{
	if (!s)
		return;
	fvl_llm_state_free(&s->st);
	fvl_rt_free(&s->rt);
	free(s->visual);
	free(s->cache);
	free(s->prompt);
	free(s->logits);
	free(s->prompt_logits);
	free(s->probs);
	free(s->order);
	free(s);
}

void fvl_session_reset(struct fvl_session *s)
{
	free(s->visual);
	s->visual = NULL;
	s->n_visual = 0;
	s->n_cache = 0;
	fvl_llm_state_rewind(&s->st, 0);
}

enum fvl_status fvl_session_set_image_rgb(struct fvl_session *s, const uint8_t *rgb, uint32_t w,
                                          uint32_t h)
{
	const struct fvl_vl_vision *v = &s->m->vision;
	const size_t px = 3 * v->f2.image_size * v->f2.image_size, n = fvl_vl_n_visual(v);
	struct fvl_image img = {w, h, (uint8_t *)rgb};
	if (!rgb || w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "an empty image");
	float *pixels = malloc(px * sizeof(float)), *vis = malloc(n * v->out_dim * sizeof(float));
	enum fvl_status st = FVL_STATUS_OK;
	if (!pixels || !vis)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	double t0 = now_ms();
	if (st == FVL_STATUS_OK)
		st = fvl_vl_preprocess(v, &img, pixels);
	double t1 = now_ms();
	if (st == FVL_STATUS_OK)
		st = fvl_vl_embed(v, &s->rt, pixels, vis, NULL);
	free(pixels);
	if (st != FVL_STATUS_OK) {
		free(vis);
		return st;
	}
	free(s->visual);
	s->visual = vis;
	s->n_visual = n;
	s->image_serial++;
	s->stats.ms_preprocess = t1 - t0;
	s->stats.ms_vision = now_ms() - t1;
	s->stats.n_visual = (uint32_t)n;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_session_set_image_file(struct fvl_session *s, const char *path)
{
	struct fvl_image img;
	enum fvl_status st = fvl_image_load(path, 0, &img);
	if (st != FVL_STATUS_OK)
		return st;
	st = fvl_session_set_image_rgb(s, img.rgb, img.w, img.h);
	fvl_image_free(&img);
	return st;
}

/* Replaces the first "{name}" in fmt with value. */
static char *fill(const char *fmt, const char *name, const char *value)
{
	const char *at = strstr(fmt, name);
	size_t n = strlen(fmt) + strlen(value) + 1;
	char *out = malloc(n);
	if (!out)
		return NULL;
	if (!at) {
		memcpy(out, fmt, strlen(fmt) + 1);
		return out;
	}
	snprintf(out, n, "%.*s%s%s", (int)(at - fmt), fmt, value, at + strlen(name));
	return out;
}

/* The prompt ids with IMAGE_ID at the placeholder (tokenizer_image_token). */
static enum fvl_status build_prompt(struct fvl_session *s, const char *question, bool image)
{
	const struct fvl_model *m = s->m;
	char *q = image ? fill(m->query_text, "{question}", question) : strdup(question);
	char *text = q ? fill(m->template_text, "{query}", q) : NULL;
	free(q);
	if (!text)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	free(s->prompt);
	s->prompt = NULL;
	s->n_prompt = 0;
	size_t cap = 0;
	bool offset = false;
	const char *chunk = text;
	enum fvl_status st = FVL_STATUS_OK;
	for (int part = 0; st == FVL_STATUS_OK; part++) {
		const char *img = strstr(chunk, "<image>");
		const size_t len = img ? (size_t)(img - chunk) : strlen(chunk);
		int32_t *ids;
		size_t n;
		if ((st = fvl_tok_encode(m->tok, chunk, len, true, &ids, &n)) != FVL_STATUS_OK)
			break;
		if (s->n_prompt + n + 2 > cap) {
			cap = 2 * (s->n_prompt + n + 2);
			int32_t *p = realloc(s->prompt, cap * sizeof(*p));
			if (!p) {
				free(ids);
				st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
				break;
			}
			s->prompt = p;
		}
		if (part == 0) /* LLaVA: chunk 0 starting with BOS keeps it once, every chunk drops one */
			offset = n > 0 && ids[0] == fvl_tok_bos(m->tok);
		if (part == 0 && offset)
			s->prompt[s->n_prompt++] = ids[0];
		for (size_t i = offset ? 1 : 0; i < n; i++)
			s->prompt[s->n_prompt++] = ids[i];
		free(ids);
		if (!img)
			break;
		s->prompt[s->n_prompt++] = IMAGE_ID;
		chunk = img + strlen("<image>");
	}
	free(text);
	return st;
}

/* Evaluates the prompt, reusing the KV cache's common prefix. */
static enum fvl_status prefill(struct fvl_session *s)
{
	const size_t H = s->m->llm.H;
	/* the sequence as cache entries: ids, visual rows as -1 - serial * 65536 - row */
	size_t total = 0;
	for (size_t i = 0; i < s->n_prompt; i++)
		total += s->prompt[i] == IMAGE_ID ? s->n_visual : 1;
	if (total >= s->st.ctx)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "the prompt with the image is %zu tokens, "
		                "the context holds %zu (use a shorter question or a larger -c)", total,
		                s->st.ctx);
	if (total > s->cap_cache) {
		int64_t *c = realloc(s->cache, total * sizeof(*c));
		if (!c)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		s->cache = c;
		s->cap_cache = total;
	}
	size_t k = 0, same = 0;
	bool diverged = false;
	for (size_t i = 0; i < s->n_prompt; i++) {
		size_t rows = s->prompt[i] == IMAGE_ID ? s->n_visual : 1;
		for (size_t r = 0; r < rows; r++, k++) {
			int64_t e = s->prompt[i] == IMAGE_ID ?
			            -1 - (int64_t)(s->image_serial * 65536 + r) : s->prompt[i];
			if (!diverged && k < s->n_cache && s->cache[k] == e && k < s->st.n_past)
				same++;
			else
				diverged = true;
			s->cache[k] = e;
		}
	}
	if (same == total) /* the whole prompt is cached: recompute its last token for the logits */
		same--;
	fvl_llm_state_rewind(&s->st, same);
	s->stats.n_reused = (uint32_t)same;
	s->stats.n_prompt = (uint32_t)total;
	/* feed the rest: runs of text ids and the visual block */
	size_t pos = 0;
	enum fvl_status st = FVL_STATUS_OK;
	for (size_t i = 0; i < s->n_prompt && st == FVL_STATUS_OK;) {
		if (s->prompt[i] == IMAGE_ID) {
			size_t skip = same > pos ? same - pos : 0;
			if (skip < s->n_visual) {
				const size_t nrows = s->n_visual - skip;
				const bool last = i + 1 == s->n_prompt;
				st = fvl_llm_eval(&s->st, &s->rt, nrows, NULL, s->visual + skip * H, last ? 1 : 0,
				                  s->logits);
			}
			pos += s->n_visual;
			i++;
			continue;
		}
		size_t j = i;
		while (j < s->n_prompt && s->prompt[j] != IMAGE_ID)
			j++;
		const size_t run = j - i;
		size_t skip = same > pos ? same - pos : 0;
		if (skip > run)
			skip = run;
		if (skip < run) {
			const bool last = j == s->n_prompt;
			st = fvl_llm_eval(&s->st, &s->rt, run - skip, s->prompt + i + skip, NULL, last ? 1 : 0,
			                  s->logits);
		}
		pos += run;
		i = j;
	}
	s->n_cache = total;
	return st;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static const float *cmp_base;
static int cmp_desc(const void *a, const void *b)
{
	float x = cmp_base[*(const int32_t *)a], y = cmp_base[*(const int32_t *)b];
	return x < y ? 1 : x > y ? -1 : 0;
}

static int32_t sample(struct fvl_session *s, const struct fvl_gen_params *g, uint64_t *rng,
                      const int32_t *recent, size_t n_recent)
{
	const size_t V = s->m->llm.V;
	float *l = s->logits;
	if (g->repeat_penalty != 1.0f && g->repeat_penalty > 0.0f)
		for (size_t i = 0; i < n_recent; i++) {
			float *x = &l[recent[i]];
			*x = *x > 0 ? *x / g->repeat_penalty : *x * g->repeat_penalty;
		}
	if (g->temp <= 0.0f) {
		size_t best = 0;
		for (size_t i = 1; i < V; i++)
			if (l[i] > l[best])
				best = i;
		return (int32_t)best;
	}
	size_t n = V;
	for (size_t i = 0; i < V; i++)
		s->order[i] = (int32_t)i;
	cmp_base = l;
	qsort(s->order, V, sizeof(int32_t), cmp_desc);
	if (g->top_k > 0 && (size_t)g->top_k < n)
		n = (size_t)g->top_k;
	const float mx = l[s->order[0]];
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		s->probs[i] = expf((l[s->order[i]] - mx) / g->temp);
		sum += s->probs[i];
	}
	size_t keep = n;
	if (g->top_p < 1.0f) {
		double c = 0;
		for (size_t i = 0; i < n; i++) {
			c += s->probs[i] / sum;
			if (c >= g->top_p) {
				keep = i + 1;
				break;
			}
		}
	}
	if (g->min_p > 0.0f)
		for (size_t i = 1; i < keep; i++)
			if (s->probs[i] < g->min_p * s->probs[0]) {
				keep = i;
				break;
			}
	double total = 0;
	for (size_t i = 0; i < keep; i++)
		total += s->probs[i];
	double r = (double)(rng_next(rng) >> 11) * 0x1p-53 * total;
	for (size_t i = 0; i < keep; i++) {
		r -= s->probs[i];
		if (r <= 0)
			return s->order[i];
	}
	return s->order[keep - 1];
}

enum fvl_status fvl_session_ask(struct fvl_session *s, const char *question,
                                const struct fvl_gen_params *g, fvl_token_fn cb, void *user)
{
	struct fvl_gen_params def;
	enum fvl_status st;
	if (!question)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no question");
	if (!g) {
		fvl_gen_params_default(&def);
		g = &def;
	}
	if (g->n_predict <= 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "n_predict must be at least 1 (got %d)",
		                g->n_predict);
	if (g->top_p <= 0.0f || g->top_p > 1.0f || g->min_p < 0.0f || g->min_p >= 1.0f ||
	    g->top_k < 0 || !(g->temp == g->temp) || !(g->repeat_penalty > 0.0f))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "sampling parameters out of range");
	double t0 = now_ms();
	if ((st = build_prompt(s, question, s->visual != NULL)) != FVL_STATUS_OK ||
	    (st = prefill(s)) != FVL_STATUS_OK)
		return st;
	double t1 = now_ms();
	s->stats.ms_prefill = t1 - t0;
	memcpy(s->prompt_logits, s->logits, s->m->llm.V * sizeof(float));
	s->have_prompt_logits = true;
	uint64_t rng = g->seed ? g->seed : 0x9e3779b97f4a7c15ull;
	int32_t recent[64];
	size_t n_recent = 0;
	struct fvl_tok_stream ts;
	fvl_tok_stream_init(&ts, s->m->tok, true);
	char text[256];
	st = FVL_STATUS_OK;
	s->stats.n_generated = 0;
	for (int32_t i = 0; i < g->n_predict; i++) {
		const int32_t id = sample(s, g, &rng, recent, n_recent);
		bool stop = false;
		for (size_t k = 0; k < s->m->n_stop && !g->ignore_eos; k++)
			stop = stop || id == s->m->stop_ids[k];
		if (stop)
			break;
		recent[n_recent++ % 64] = id;
		if (n_recent > 64)
			n_recent = 64;
		s->stats.n_generated++;
		size_t n = fvl_tok_stream_push(&ts, id, text, sizeof(text) - 1);
		text[n] = 0;
		if (cb && !cb(user, id, text, n)) {
			st = fvl_fail(FVL_STATUS_CANCELLED, "cancelled");
			break;
		}
		if (i + 1 == g->n_predict)
			break;
		if (s->st.n_past + 1 > s->st.ctx) {
			st = fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "the context of %zu tokens is full",
			              s->st.ctx);
			break;
		}
		int32_t in = id;
		if ((st = fvl_llm_eval(&s->st, &s->rt, 1, &in, NULL, 1, s->logits)) != FVL_STATUS_OK)
			break;
	}
	size_t n = fvl_tok_stream_flush(&ts, text, sizeof(text) - 1);
	if (n && cb && st == FVL_STATUS_OK) {
		text[n] = 0;
		cb(user, -1, text, n);
	}
	s->stats.ms_decode = now_ms() - t1;
	return st;
}

void fvl_session_stats(const struct fvl_session *s, struct fvl_stats *out)
{
	*out = s->stats;
}

const float *fvl_session_prompt_logits(const struct fvl_session *s, size_t *n)
{
	*n = s->have_prompt_logits ? s->m->llm.V : 0;
	return s->have_prompt_logits ? s->prompt_logits : NULL;
}

const int32_t *fvl_session_prompt_ids(const struct fvl_session *s, size_t *n)
{
	*n = s->n_prompt;
	return s->prompt;
}
