/* session.c — the session API of fvl.h: one conversation about one image. The prompt follows
 * Florence-VL exactly: the chat template around "<image>\n{question}", split at <image>, each
 * chunk tokenized with BOS and spliced LLaVA's way (tokenizer_image_token: the first chunk's BOS
 * kept once, every chunk's first token dropped), the visual embeddings at the placeholder. The
 * question itself is plain text unless parse_special asks for the reference's behaviour. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "florence2-tasks.h"
#include "model.h"
#include "names.h"
#include "sampler.h"

struct fvl_session {
	const struct fvl_model *m;
	struct fvl_compute compute;
	struct fvl_llm_state llm; /* the KV cache and its buffers */
	struct fvl_sampler sampler;
	float *visual; /* (n_visual, n_embd) of the current image, or NULL */
	size_t n_visual;
	uint64_t image_serial; /* changes with every image, so the KV prefix knows */
	/* what the KV cache holds: the ids evaluated so far, visual rows as -1 - serial */
	int64_t *cache; /* (n_cache) */
	size_t n_cache, cap_cache;
	int32_t *prompt; /* (n_prompt) last prompt, the image id at the image */
	size_t n_prompt;
	float *logits;        /* (n_vocab) */
	float *prompt_logits; /* (n_vocab) at the last prompt position of the last ask */
	bool have_prompt_logits;
	struct fvl_stats stats;
	bool has_llm;    /* false: a Florence-2 file, tasks only */
	bool task_image; /* keep a copy of each image: the file has Florence-2's decoder */
	/* Florence-2 tasks (fvl_session_run_task): a copy of the current image, and the tasks'
	 * vision output for it once computed (valid while task_serial == image_serial) */
	struct fvl_image task_img;
	float *task_visual; /* (fvl_task_n_features) */
	uint64_t task_serial;
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
	p->size = sizeof(*p);
}

void fvl_gen_params_default(struct fvl_gen_params *g)
{
	memset(g, 0, sizeof(*g));
	g->size = sizeof(*g);
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
	if (!model->is_vl && fvl_model_tasks((struct fvl_model *)model) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this model (%s) has neither an LLM nor Florence-2's tasks",
		                model->arch);
	if (!p) {
		fvl_session_params_default(&def);
		p = &def;
	}
	if ((st = FVL_PARAMS_CHECK(p)))
		return st;
	if (p->n_threads > 1024)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%u threads is absurd", p->n_threads);
	if (p->n_ctx && p->n_ctx < 16)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "a context of %u tokens is too small",
		                p->n_ctx);
	struct fvl_session *s = calloc(1, sizeof(*s));
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	s->m = model;
	s->has_llm = model->is_vl;
	if (!s->has_llm) { /* tasks only: the compute context is all it needs */
		if ((st = fvl_compute_init(&s->compute, p->n_threads, p->isa)))
			goto error;
		s->compute.abort_cb = p->abort_cb;
		s->compute.progress_cb = p->progress_cb;
		s->compute.cb_user = p->cb_user;
		*out = s;
		return FVL_STATUS_OK;
	}
	bool decoder = false;
	s->task_image =
	        fvl_gguf_get_bool(model->gguf, FVL_KEY_F2_HAS_DECODER, &decoder) == FVL_STATUS_OK &&
	        decoder;
	const size_t V = model->llm.n_vocab;
	s->logits = malloc(V * sizeof(float));
	s->prompt_logits = malloc(V * sizeof(float));
	if (!s->logits || !s->prompt_logits) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	if ((st = fvl_sampler_init(&s->sampler, V)) ||
	    (st = fvl_compute_init(&s->compute, p->n_threads, p->isa)) ||
	    (st = fvl_llm_state_init(&s->llm, &model->llm, &s->compute, p->n_ctx, !p->kv_f32, 256)))
		goto error;
	s->compute.abort_cb = p->abort_cb;
	s->compute.progress_cb = p->progress_cb;
	s->compute.cb_user = p->cb_user;
	if (p->n_ctx > s->llm.n_ctx)
		FVL_LOG_I("a context of %u tokens asked for; the model's is %zu: using that",
		          p->n_ctx, s->llm.n_ctx);
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
	fvl_llm_state_free(&s->llm);
	fvl_compute_free(&s->compute);
	free(s->visual);
	free(s->cache);
	free(s->prompt);
	free(s->logits);
	free(s->prompt_logits);
	fvl_sampler_free(&s->sampler);
	fvl_image_free(&s->task_img);
	free(s->task_visual);
	free(s);
}

void fvl_session_reset(struct fvl_session *s)
{
	free(s->visual);
	s->visual = NULL;
	s->n_visual = 0;
	s->n_cache = 0;
	fvl_image_free(&s->task_img);
	s->image_serial++;
	if (s->has_llm)
		fvl_llm_state_rewind(&s->llm, 0);
}

/* No image from now on (the KV cache's image rows no longer match anything). */
static void fvl_session_drop_image(struct fvl_session *s)
{
	free(s->visual);
	s->visual = NULL;
	s->n_visual = 0;
	fvl_image_free(&s->task_img);
	s->image_serial++;
}

/* A Florence-2 session's image: kept, with the tasks' vision side run on it once. */
static enum fvl_status
set_task_image(struct fvl_session *s, const uint8_t *rgb, uint32_t w, uint32_t h)
{
	fvl_session_drop_image(s);
	if (!rgb || w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "an empty image");
	const size_t n = fvl_task_n_features(s->m);
	struct fvl_image img = {.w = w, .h = h, .rgb = malloc((size_t)w * h * 3)};
	float *vis = s->task_visual ? s->task_visual : malloc(n * sizeof(float));
	s->task_visual = vis;
	if (!img.rgb || !vis) {
		free(img.rgb);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	memcpy(img.rgb, rgb, (size_t)w * h * 3);
	const double t0 = now_ms();
	enum fvl_status st = fvl_task_image_features(s->m, &s->compute, &img, vis);
	fvl_compute_rest(&s->compute);
	if (st != FVL_STATUS_OK) {
		free(img.rgb);
		return st;
	}
	s->task_img = img;
	s->task_serial = s->image_serial;
	s->stats.ms_vision = now_ms() - t0;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_session_run_task(struct fvl_session *s, const struct fvl_task_params *p,
                                     struct fvl_task_result *out)
{
	if (!s || !p || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_session_run_task: NULL argument");
	if (FVL_PARAMS_CHECK(p))
		return FVL_STATUS_INVALID_ARGUMENT;
	enum fvl_status st = fvl_model_tasks((struct fvl_model *)s->m);
	if (st != FVL_STATUS_OK)
		return st;
	if (!s->task_img.rgb)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "the session has no image for a task");
	if (s->task_serial != s->image_serial || !s->task_visual) { /* first task on this image */
		float *vis = s->task_visual ? s->task_visual
		                            : malloc(fvl_task_n_features(s->m) * sizeof(float));
		if (!vis)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		s->task_visual = vis;
		if ((st = fvl_task_image_features(s->m, &s->compute, &s->task_img, vis)))
			return st;
		s->task_serial = s->image_serial;
	}
	return fvl_task_run_on(s->m, &s->compute, &s->task_img, s->task_visual, p, out);
}

/* dump's buffers for this model's vision side (all NULL on failure). */
static enum fvl_status dump_alloc(const struct fvl_vision *v, struct fvl_image_dump *d)
{
	const struct fvl_f2 *f = &v->f2;
	const size_t S = f->davit.image_size, grid = fvl_davit_grid(&f->davit);
	const size_t c = fvl_davit_channels(&f->davit), n = fvl_f2_n_visual(&f->encoder);
	const size_t dm = f->encoder.n_embd, L = n + v->prompt_len, P = v->n_prompts;
	memset(d, 0, sizeof(*d));
	*d = (struct fvl_image_dump){
	        .size = S,
	        .grid = grid,
	        .c_last = c,
	        .n_visual = n,
	        .n_llm = fvl_vision_n_tokens(v),
	        .d_model = dm,
	        .n_prompts = P,
	        .prompt_len = v->prompt_len,
	        .n_embd = v->projector.out_dim,
	};
	d->pixel_values = malloc(3 * S * S * sizeof(float));
	d->davit_out = malloc(grid * grid * c * sizeof(float));
	d->image_features = malloc(n * dm * sizeof(float));
	d->fused = malloc(n * (1 + P) * dm * sizeof(float));
	d->projector_out = malloc(n * d->n_embd * sizeof(float));
	bool ok = d->pixel_values && d->davit_out && d->image_features && d->fused &&
	          d->projector_out;
	for (size_t p = 0; p < P && ok; p++)
		ok = (d->encoder_out[p] = malloc(L * dm * sizeof(float))) != NULL;
	if (!ok) {
		fvl_image_dump_free(d);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the dump");
	}
	return FVL_STATUS_OK;
}

void fvl_image_dump_free(struct fvl_image_dump *d)
{
	if (!d)
		return;
	free(d->pixel_values), free(d->davit_out), free(d->image_features), free(d->fused);
	free(d->projector_out);
	for (size_t p = 0; p < FVL_MAX_PROMPTS; p++)
		free(d->encoder_out[p]);
	memset(d, 0, sizeof(*d));
}

/* The vision side on one image into the session (and, with dump, its stages). */
static enum fvl_status set_image(struct fvl_session *s, const uint8_t *rgb, uint32_t w, uint32_t h,
                                 struct fvl_image_dump *dump)
{
	if (!s->has_llm) {
		if (dump) {
			fvl_session_drop_image(s);
			return fvl_fail(FVL_STATUS_UNSUPPORTED,
			                "a Florence-2 session has no Florence-VL stages to dump");
		}
		return set_task_image(s, rgb, w, h);
	}
	const struct fvl_vision *v = &s->m->vision;
	const size_t px = 3 * v->f2.davit.image_size * v->f2.davit.image_size,
	             n = fvl_vision_n_tokens(v);
	struct fvl_image img = {.w = w, .h = h, .rgb = (uint8_t *)rgb};
	if (!rgb || w == 0 || h == 0) {
		fvl_session_drop_image(s);
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "an empty image");
	}
	enum fvl_status st = dump ? dump_alloc(v, dump) : FVL_STATUS_OK;
	float *pixels =
	        dump && dump->pixel_values ? dump->pixel_values : malloc(px * sizeof(float));
	float *vis = malloc(n * v->projector.out_dim * sizeof(float));
	if (st == FVL_STATUS_OK && (!pixels || !vis))
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct fvl_vision_dump stages = {0};
	if (dump) {
		stages.davit_out = dump->davit_out;
		stages.image_features = dump->image_features;
		stages.fused = dump->fused;
		for (size_t p = 0; p < FVL_MAX_PROMPTS; p++)
			stages.encoder_out[p] = dump->encoder_out[p];
	}
	double t0 = now_ms();
	if (st == FVL_STATUS_OK)
		st = fvl_vision_preprocess(v, &img, pixels);
	double t1 = now_ms();
	if (st == FVL_STATUS_OK)
		st = fvl_vision_embed(v, &s->compute, pixels, vis, dump ? &stages : NULL);
	if (!(dump && dump->pixel_values))
		free(pixels);
	free(s->visual);
	s->visual = NULL;
	s->n_visual = 0;
	s->image_serial++; /* whatever the KV cache holds of the old image is stale now */
	fvl_image_free(&s->task_img);
	fvl_compute_rest(&s->compute);
	if (st == FVL_STATUS_OK &&
	    s->task_image) { /* for tasks on the same image (run on demand) */
		s->task_img.rgb = malloc((size_t)w * h * 3);
		if (!s->task_img.rgb)
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		else
			memcpy(s->task_img.rgb, rgb, (size_t)w * h * 3), s->task_img.w = w,
			                                                 s->task_img.h = h;
	}
	if (st != FVL_STATUS_OK) {
		free(vis);
		if (dump)
			fvl_image_dump_free(dump);
		return st;
	}
	if (dump)
		memcpy(dump->projector_out, vis, n * v->projector.out_dim * sizeof(float));
	s->visual = vis;
	s->n_visual = n;
	s->stats.ms_preprocess = t1 - t0;
	s->stats.ms_vision = now_ms() - t1;
	s->stats.n_visual = (uint32_t)n;
	return FVL_STATUS_OK;
}

enum fvl_status
fvl_session_set_image_rgb(struct fvl_session *s, const uint8_t *rgb, uint32_t w, uint32_t h)
{
	return set_image(s, rgb, w, h, NULL);
}

enum fvl_status fvl_session_set_image_dump(struct fvl_session *s, const uint8_t *rgb, uint32_t w,
                                           uint32_t h, struct fvl_image_dump *dump)
{
	if (!dump)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_session_set_image_dump: no dump");
	return set_image(s, rgb, w, h, dump);
}

/* Sets img, which the caller decoded or converted with status st (on failure: no image), and
 * frees it. */
static enum fvl_status
set_image_owned(struct fvl_session *s, enum fvl_status st, struct fvl_image *img)
{
	if (st == FVL_STATUS_OK)
		st = fvl_session_set_image_rgb(s, img->rgb, img->w, img->h);
	else
		fvl_session_drop_image(s);
	fvl_image_free(img);
	return st;
}

enum fvl_status fvl_session_set_image_file(struct fvl_session *s, const char *path)
{
	struct fvl_image img = {0};
	return set_image_owned(s, fvl_image_load(path, &img), &img);
}

enum fvl_status fvl_session_set_image_view(struct fvl_session *s, const struct fvl_image_view *v)
{
	if (v && v->format == FVL_PIXEL_RGB8 && (v->stride == 0 || v->stride == (size_t)v->w * 3) &&
	    (v->size == 0 || v->size >= (size_t)v->w * v->h * 3))
		return fvl_session_set_image_rgb(s, v->data, v->w, v->h); /* in place */
	struct fvl_image img = {0};
	return set_image_owned(s, fvl_image_from_view(v, &img), &img);
}

/* fmt with its first "{name}" replaced by value (value's bytes at *at in the output when asked). */
static void
fill(struct fvl_buf *b, const char *fmt, const char *name, const char *value, size_t vn, size_t *at)
{
	const char *x = strstr(fmt, name);
	if (!x) {
		fvl_buf_put(b, fmt, strlen(fmt));
		return;
	}
	fvl_buf_put(b, fmt, (size_t)(x - fmt));
	if (at)
		*at = b->n;
	fvl_buf_put(b, value, vn);
	fvl_buf_put(b, x + strlen(name), strlen(x + strlen(name)));
}

/* The prompt ids, the image id at the placeholder (tokenizer_image_token): the template with the
 * query, the query with the question. The question's bytes are plain text: the placeholder and
 * special tokens spelled in it count only with parse_special. */
static enum fvl_status
build_prompt(struct fvl_session *s, const char *question, bool image, bool parse_special)
{
	const struct fvl_model *m = s->m;
	size_t qn, q0 = 0, q_in = 0;
	bool oom = false;
	char *clean = fvl_utf8_clean(question, strlen(question), &qn, &oom);
	const char *qs = clean ? clean : question;
	struct fvl_buf query = {0}, text = {0};
	if (image)
		fill(&query, m->query_text, "{question}", qs, qn, &q_in);
	else
		fvl_buf_put(&query, qs, qn), q_in = 0;
	fill(&text, m->template_text, "{query}", query.p ? query.p : "", query.n, &q0);
	free(clean);
	free(query.p);
	if (oom || query.oom || text.oom) {
		free(text.p);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	const size_t qb = q0 + q_in, qe = qb + qn; /* the question in text */
	free(s->prompt);
	s->prompt = NULL;
	s->n_prompt = 0;
	size_t cap = 0, at = 0;
	bool offset = false;
	const size_t il = strlen(m->image_text);
	enum fvl_status st = FVL_STATUS_OK;
	for (int part = 0; st == FVL_STATUS_OK; part++) {
		/* the next placeholder, outside the question unless parse_special */
		const char *img = NULL;
		for (const char *x = text.p + at; image && (x = strstr(x, m->image_text)); x++)
			if (parse_special || (size_t)(x - text.p) + il <= qb ||
			    (size_t)(x - text.p) >= qe) {
				img = x;
				break;
			}
		const size_t end = img ? (size_t)(img - text.p) : text.n;
		/* the question's part of this chunk, relative to it */
		const size_t pb = qb > at ? qb - at : 0, pe = qe > at ? qe - at : 0;
		int32_t *ids;
		size_t n;
		if ((st = fvl_tok_encode_ex(
		             m->tok, text.p + at, end - at, true, parse_special ? 0 : pb,
		             parse_special ? 0 : (pe < end - at ? pe : end - at), &ids, &n)))
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
		if (part ==
		    0) /* LLaVA: chunk 0 starting with BOS keeps it once, every chunk drops one */
			offset = n > 0 && ids[0] == fvl_tok_bos(m->tok);
		if (part == 0 && offset)
			s->prompt[s->n_prompt++] = ids[0];
		for (size_t i = offset ? 1 : 0; i < n; i++)
			s->prompt[s->n_prompt++] = ids[i];
		free(ids);
		if (!img)
			break;
		s->prompt[s->n_prompt++] = m->image_id;
		at = end + il;
	}
	free(text.p);
	return st;
}

/* Context positions of the current prompt (the image's rows counted). */
static size_t prompt_positions(const struct fvl_session *s, size_t n_visual)
{
	size_t total = 0;
	for (size_t i = 0; i < s->n_prompt; i++)
		total += s->prompt[i] == s->m->image_id ? n_visual : 1;
	return total;
}

enum fvl_status fvl_session_measure(struct fvl_session *s, const char *question, bool with_image,
                                    const struct fvl_gen_params *g, uint32_t *n_prompt,
                                    uint32_t *n_ctx)
{
	if (!s || !question)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_session_measure: NULL argument");
	if (!s->has_llm)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this model (%s) has no LLM: run its tasks (fvl task, "
		                "fvl_session_run_task)",
		                s->m->arch);
	if (g && FVL_PARAMS_CHECK(g))
		return FVL_STATUS_INVALID_ARGUMENT;
	const bool image = with_image || s->visual;
	enum fvl_status st = build_prompt(s, question, image, g && g->parse_special);
	if (st != FVL_STATUS_OK)
		return st;
	const size_t n = prompt_positions(s, image ? fvl_vision_n_tokens(&s->m->vision) : 0);
	if (n_prompt)
		*n_prompt = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	if (n_ctx)
		*n_ctx = (uint32_t)s->llm.n_ctx;
	return FVL_STATUS_OK;
}

/* Evaluates the prompt, reusing the KV cache's common prefix. */
static enum fvl_status prefill(struct fvl_session *s)
{
	const size_t H = s->m->llm.n_embd;
	/* the sequence as cache entries: ids, visual rows as -1 - serial * 65536 - row */
	const size_t total = prompt_positions(s, s->n_visual);
	if (total >= s->llm.n_ctx)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "the prompt%s is %zu tokens, the context "
		                "holds %zu (use a shorter question or a larger -c)",
		                s->visual ? " with the image" : "", total, s->llm.n_ctx);
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
		const bool img = s->prompt[i] == s->m->image_id;
		size_t rows = img ? s->n_visual : 1;
		for (size_t r = 0; r < rows; r++, k++) {
			int64_t e =
			        img ? -1 - (int64_t)(s->image_serial * 65536 + r) : s->prompt[i];
			if (!diverged && k < s->n_cache && s->cache[k] == e && k < s->llm.n_past)
				same++;
			else
				diverged = true;
			s->cache[k] = e;
		}
	}
	if (same == total) /* the whole prompt is cached: recompute its last token for the logits */
		same--;
	fvl_llm_state_rewind(&s->llm, same);
	s->stats.n_reused = (uint32_t)same;
	s->stats.n_prompt = (uint32_t)total;
	/* feed the rest: runs of text ids and the visual block */
	size_t pos = 0;
	enum fvl_status st = FVL_STATUS_OK;
	for (size_t i = 0; i < s->n_prompt && st == FVL_STATUS_OK;) {
		if (s->prompt[i] == s->m->image_id) {
			size_t skip = same > pos ? same - pos : 0;
			if (skip < s->n_visual) {
				const size_t nrows = s->n_visual - skip;
				const bool last = i + 1 == s->n_prompt;
				st = fvl_llm_eval(&s->llm, &s->compute, nrows, NULL,
				                  s->visual + skip * H, last ? 1 : 0, s->logits);
			}
			pos += s->n_visual;
			i++;
			continue;
		}
		size_t j = i;
		while (j < s->n_prompt && s->prompt[j] != s->m->image_id)
			j++;
		const size_t run = j - i;
		size_t skip = same > pos ? same - pos : 0;
		if (skip > run)
			skip = run;
		if (skip < run) {
			const bool last = j == s->n_prompt;
			st = fvl_llm_eval(&s->llm, &s->compute, run - skip, s->prompt + i + skip,
			                  NULL, last ? 1 : 0, s->logits);
		}
		pos += run;
		i = j;
	}
	/* what the KV cache holds: the whole prompt, or up to where a cancelled prefill stopped */
	s->n_cache = st == FVL_STATUS_OK || s->llm.n_past > total ? total : s->llm.n_past;
	return st;
}

enum fvl_status fvl_session_ask(struct fvl_session *s, const char *question,
                                const struct fvl_gen_params *g, fvl_token_fn cb, void *user)
{
	struct fvl_gen_params def;
	enum fvl_status st;
	if (!s || !question)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no question");
	if (!s->has_llm)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this model (%s) has no LLM: run its tasks (fvl task, "
		                "fvl_session_run_task)",
		                s->m->arch);
	if (!g) {
		fvl_gen_params_default(&def);
		g = &def;
	}
	if ((st = FVL_PARAMS_CHECK(g)))
		return st;
	if (g->n_predict <= 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "n_predict must be at least 1 (got %d)", g->n_predict);
	if (g->top_p <= 0.0f || g->top_p > 1.0f || g->min_p < 0.0f || g->min_p >= 1.0f ||
	    g->top_k < 0 || !(g->temp == g->temp) || !(g->repeat_penalty > 0.0f))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "sampling parameters out of range");
	s->stats.finish = FVL_FINISH_NONE;
	s->stats.n_generated = 0;
	s->stats.n_ctx = (uint32_t)s->llm.n_ctx;
	double t0 = now_ms();
	if ((st = build_prompt(s, question, s->visual != NULL, g->parse_special)) !=
	            FVL_STATUS_OK ||
	    (st = prefill(s)) != FVL_STATUS_OK) {
		fvl_compute_rest(&s->compute);
		return st;
	}
	double t1 = now_ms();
	s->stats.ms_prefill = t1 - t0;
	memcpy(s->prompt_logits, s->logits, s->m->llm.n_vocab * sizeof(float));
	s->have_prompt_logits = true;
	fvl_sampler_reset(&s->sampler, g->seed);
	struct fvl_tok_stream ts;
	fvl_tok_stream_init(&ts, s->m->tok, true);
	char text[256];
	enum fvl_finish finish = FVL_FINISH_LENGTH;
	for (int32_t i = 0; i < g->n_predict; i++) {
		const int32_t id = fvl_sampler_sample(&s->sampler, g, s->logits);
		bool stop = false;
		for (size_t k = 0; k < s->m->n_stop && !g->ignore_eos; k++)
			stop = stop || id == s->m->stop_ids[k];
		if (stop) {
			finish = FVL_FINISH_STOP;
			break;
		}
		fvl_sampler_accept(&s->sampler, id);
		s->stats.n_generated++;
		size_t n = fvl_tok_stream_push(&ts, id, text, sizeof(text) - 1);
		text[n] = 0;
		fvl_compute_rest(
		        &s->compute); /* the callback may take its time: no workers spinning meanwhile */
		if (cb && !cb(user, id, text, n)) {
			finish = FVL_FINISH_CANCELLED;
			break;
		}
		if (i + 1 == g->n_predict)
			break;
		if (s->llm.n_past + 1 >
		    s->llm.n_ctx) { /* no room to evaluate it: the answer ends here */
			finish = FVL_FINISH_CONTEXT;
			break;
		}
		int32_t in = id;
		if ((st = fvl_llm_eval(&s->llm, &s->compute, 1, &in, NULL, 1, s->logits)) !=
		    FVL_STATUS_OK)
			break;
	}
	fvl_compute_rest(&s->compute);
	size_t n = fvl_tok_stream_flush(&ts, text, sizeof(text) - 1);
	if (n && cb && st == FVL_STATUS_OK && finish != FVL_FINISH_CANCELLED) {
		text[n] = 0;
		cb(user, -1, text, n);
	}
	s->stats.ms_decode = now_ms() - t1;
	if (st != FVL_STATUS_OK)
		return st;
	s->stats.finish = finish;
	return finish == FVL_FINISH_CANCELLED ? fvl_fail(FVL_STATUS_CANCELLED, "cancelled")
	                                      : FVL_STATUS_OK;
}

const char *fvl_finish_str(enum fvl_finish f)
{
	switch (f) {
	case FVL_FINISH_STOP: return "stop";
	case FVL_FINISH_LENGTH: return "length";
	case FVL_FINISH_CONTEXT: return "context";
	case FVL_FINISH_CANCELLED: return "cancelled";
	default: return "";
	}
}

void fvl_session_stats(const struct fvl_session *s, struct fvl_stats *out)
{
	*out = s->stats;
}

const float *fvl_session_prompt_logits(const struct fvl_session *s, size_t *n)
{
	*n = s->have_prompt_logits ? s->m->llm.n_vocab : 0;
	return s->have_prompt_logits ? s->prompt_logits : NULL;
}

const int32_t *fvl_session_prompt_ids(const struct fvl_session *s, size_t *n)
{
	*n = s->n_prompt;
	return s->prompt;
}
