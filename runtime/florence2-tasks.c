/* florence2-tasks.c — Florence-2's tasks end to end: the task table and its prompts
 * (processing_florence2.py's _construct_prompts), fvl_task_run (image to encoder output, greedy or
 * beam search over the BART decoder) and the post-processing of Florence2PostProcesser into text,
 * boxes and quads. The parsers walk the text the way its regular expressions do, so odd text
 * gives the same (possibly empty) answer, never a crash. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common.h"
#include "names.h"
#include "florence2-tasks.h"
#include "model.h"

static const struct fvl_task_info tasks[] = {
        {"caption", "<CAPTION>", FVL_TASK_KIND_TEXT, false},
        {"detailed_caption", "<DETAILED_CAPTION>", FVL_TASK_KIND_TEXT, false},
        {"more_detailed_caption", "<MORE_DETAILED_CAPTION>", FVL_TASK_KIND_TEXT, false},
        {"ocr", "<OCR>", FVL_TASK_KIND_TEXT, false},
        {"ocr_with_region", "<OCR_WITH_REGION>", FVL_TASK_KIND_QUADS, false},
        {"od", "<OD>", FVL_TASK_KIND_BOXES, false},
        {"dense_region_caption", "<DENSE_REGION_CAPTION>", FVL_TASK_KIND_BOXES, false},
        {"region_proposal", "<REGION_PROPOSAL>", FVL_TASK_KIND_PROPOSALS, false},
        {"caption_to_phrase_grounding", "<CAPTION_TO_PHRASE_GROUNDING>", FVL_TASK_KIND_GROUNDING,
         true},
        {"open_vocabulary_detection", "<OPEN_VOCABULARY_DETECTION>", FVL_TASK_KIND_BOXES, true},
        {"region_to_category", "<REGION_TO_CATEGORY>", FVL_TASK_KIND_TEXT, true},
        {"region_to_description", "<REGION_TO_DESCRIPTION>", FVL_TASK_KIND_TEXT, true},
        {"region_to_ocr", "<REGION_TO_OCR>", FVL_TASK_KIND_TEXT, true},
};

const struct fvl_task_info *fvl_task_list(size_t *n)
{
	*n = sizeof(tasks) / sizeof(tasks[0]);
	return tasks;
}

const struct fvl_task_info *fvl_task_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(tasks) / sizeof(tasks[0]); i++)
		if (strcasecmp(name, tasks[i].name) == 0 || strcasecmp(name, tasks[i].token) == 0)
			return &tasks[i];
	return NULL;
}

enum fvl_status
fvl_task_prompt(const struct fvl_task_info *task, const char *tmpl, const char *text, char **out)
{
	const char *at = strstr(tmpl, "{input}");
	*out = NULL;
	if (task->takes_text && (!text || !*text))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "task %s needs --text (%s)",
		                task->name, tmpl);
	if (!task->takes_text && text && *text)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "task %s takes no text", task->name);
	const size_t n = strlen(tmpl) + (text ? strlen(text) : 0) + 1;
	char *s = malloc(n);
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (at && text)
		snprintf(s, n, "%.*s%s%s", (int)(at - tmpl), tmpl, text, at + 7);
	else
		snprintf(s, n, "%s", tmpl);
	*out = s;
	return FVL_STATUS_OK;
}

void fvl_task_result_free(struct fvl_task_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_items; i++)
		free(r->items[i].label);
	free(r->items);
	free(r->text);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

/* ---- parsing ----------------------------------------------------------------------------------- */

/* "<loc_N>" at p: N in *v, returns its length (0 if p is not one). */
static size_t loc_at(const char *p, long *v)
{
	if (strncmp(p, "<loc_", 5) != 0)
		return 0;
	size_t i = 5;
	long x = 0;
	while (isdigit((unsigned char)p[i]) && i < 5 + 9)
		x = x * 10 + (p[i++] - '0');
	if (i == 5 || p[i] != '>')
		return 0;
	*v = x;
	return i + 1;
}

/* Consecutive location tokens at p, up to cap values; returns how many, *end after them. */
static size_t locs_at(const char *p, long *v, size_t cap, const char **end)
{
	size_t n = 0, len;
	long x;
	while ((len = loc_at(p, &x)) != 0) {
		if (n < cap)
			v[n] = x;
		n++;
		p += len;
	}
	*end = p;
	return n;
}

/* Copy of s without every occurrence of the given tokens. */
static char *strip_tokens(const char *s, const char *const *tok, size_t n_tok)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	while (*s) {
		size_t skip = 0;
		for (size_t i = 0; i < n_tok && !skip; i++)
			if (strncmp(s, tok[i], strlen(tok[i])) == 0)
				skip = strlen(tok[i]);
		if (skip) {
			s += skip;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static enum fvl_status push(struct fvl_task_result *r, size_t *cap, const char *label,
                            size_t n_label, const double *c, uint32_t n_c)
{
	if (r->n_items == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		struct fvl_task_item *it = realloc(r->items, nc * sizeof(*it));
		if (!it)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		r->items = it, *cap = nc;
	}
	struct fvl_task_item *it = &r->items[r->n_items];
	it->label = malloc(n_label + 1);
	if (!it->label)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	memcpy(it->label, label, n_label);
	it->label[n_label] = '\0';
	for (uint32_t i = 0; i < n_c; i++)
		it->coords[i] = (float)c[i];
	it->n_coords = n_c;
	r->n_items++;
	return FVL_STATUS_OK;
}

/* Bin centres to pixels: (bin + 0.5) * side / 1000, less the padding offset. */
static void dequantize(const struct fvl_task_geom *g, const long *bins, size_t n, double *out)
{
	const double sw = g->side ? g->side : g->w, sh = g->side ? g->side : g->h;
	for (size_t i = 0; i < n; i++)
		out[i] = i % 2 == 0 ? ((double)bins[i] + 0.5) * sw / 1000.0 - g->off_x
		                    : ((double)bins[i] + 0.5) * sh / 1000.0 - g->off_y;
}

/* The pronouns and fillers phrase grounding drops (the post-processor's black list). */
static bool blacklisted(const char *p, size_t n)
{
	static const char *const words[] = {
	        "it",         "I",           "me",         "mine",          "you",      "your",
	        "yours",      "he",          "him",        "his",           "she",      "her",
	        "hers",       "they",        "them",       "their",         "theirs",   "one",
	        "oneself",    "we",          "us",         "our",           "ours",     "its",
	        "myself",     "yourself",    "himself",    "herself",       "itself",   "ourselves",
	        "yourselves", "themselves",  "this",       "that",          "these",    "those",
	        "who",        "whom",        "whose",      "which",         "what",     "all",
	        "another",    "any",         "anybody",    "anyone",        "anything", "each",
	        "everybody",  "everyone",    "everything", "few",           "many",     "nobody",
	        "none",       "several",     "some",       "somebody",      "someone",  "something",
	        "each other", "one another", "the image",  "image",         "images",   "the",
	        "a",          "an",          "a group",    "other objects", "lots",     "a set"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
			return true;
	return false;
}

/* Boxes after phrases: the matches of ([^<]+(?:<loc_\d+>){4,}), or with empty phrases allowed
 * of (?:<loc_\d+>){4,}; each phrase's label is its text stripped, ASCII only; every 4
 * locations make a box. */
static enum fvl_status parse_boxes(const char *t, const struct fvl_task_geom *g, bool empty_phrase,
                                   bool grounding, struct fvl_task_result *r)
{
	size_t cap = 0;
	const char *p = t;
	long bins[4096];
	while (*p) {
		const char *run = p, *end;
		if (!empty_phrase) {
			if (*p == '<') {
				p++;
				continue;
			}
			while (*p && *p != '<')
				p++;
		}
		const size_t n_loc = locs_at(p, bins, sizeof(bins) / sizeof(bins[0]), &end);
		if (n_loc < 4) {
			p = empty_phrase ? p + 1 : p;
			continue;
		}
		/* label: ^\s*(.*?) up to the first location ('.' stops at a newline), stripped */
		const char *a = run, *b = p;
		while (a < b && isspace((unsigned char)*a))
			a++;
		bool ok = true;
		for (const char *c = a; c < b && ok; c++)
			ok = *c != '\n';
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (ok && grounding && blacklisted(a, (size_t)(b - a)))
			ok = false;
		char label[512];
		size_t n_label = 0;
		for (const char *c = a; c < b && n_label < sizeof(label) - 1; c++)
			if ((unsigned char)*c < 0x80)
				label[n_label++] = *c;
		const size_t n_box = (n_loc < sizeof(bins) / sizeof(bins[0]) ? n_loc : 4096) / 4;
		for (size_t i = 0; ok && i < n_box; i++) {
			double c[4];
			dequantize(g, bins + 4 * i, 4, c);
			enum fvl_status st = push(r, &cap, label, n_label, c, 4);
			if (st != FVL_STATUS_OK)
				return st;
		}
		p = end;
	}
	return FVL_STATUS_OK;
}

/* OCR lines: the matches of (.+?)(<loc_\d+>){8} ('.' stops at a newline). */
static enum fvl_status
parse_quads(const char *t, const struct fvl_task_geom *g, struct fvl_task_result *r)
{
	size_t cap = 0;
	const char *p = t;
	while (*p) {
		if (*p == '\n') {
			p++;
			continue;
		}
		const char *e = p + 1, *end = NULL;
		long bins[8];
		for (; *e; e++) {
			if (e[-1] == '\n')
				break;
			const char *stop;
			long v[8];
			if (locs_at(e, v, 8, &stop) >= 8) {
				memcpy(bins, v, sizeof(bins));
				/* exactly 8: the lazy label stops at the first position 8 follow */
				const char *q = e;
				for (int i = 0; i < 8; i++) {
					long x;
					q += loc_at(q, &x);
				}
				end = q;
				break;
			}
		}
		if (!end) { /* no line from here on: skip to after the next newline, or stop */
			const char *nl = strchr(p, '\n');
			if (!nl)
				break;
			p = nl + 1;
			continue;
		}
		double c[8];
		dequantize(g, bins, 8, c);
		enum fvl_status st = push(r, &cap, p, (size_t)(e - p), c, 8);
		if (st != FVL_STATUS_OK)
			return st;
		p = end;
	}
	return FVL_STATUS_OK;
}

enum fvl_status fvl_task_parse(const struct fvl_task_info *task, const char *text,
                               const struct fvl_task_geom *geom, struct fvl_task_result *r)
{
	static const char *const specials[] = {"<s>", "</s>", "<pad>"};
	enum fvl_status st = FVL_STATUS_OK;
	r->task = task->token;
	r->item_coords = task->kind == FVL_TASK_KIND_TEXT    ? 0
	                 : task->kind == FVL_TASK_KIND_QUADS ? 8
	                                                     : 4;
	r->text = strip_tokens(text, specials, 3);
	if (!r->text)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	switch (task->kind) {
	case FVL_TASK_KIND_TEXT: break;
	case FVL_TASK_KIND_BOXES: st = parse_boxes(r->text, geom, false, false, r); break;
	case FVL_TASK_KIND_PROPOSALS: st = parse_boxes(r->text, geom, true, false, r); break;
	case FVL_TASK_KIND_GROUNDING: st = parse_boxes(r->text, geom, false, true, r); break;
	case FVL_TASK_KIND_QUADS: st = parse_quads(r->text, geom, r); break;
	}
	return st;
}

/* ---- running a task ------------------------------------------------------------------------ */

static double ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void fvl_task_params_default(struct fvl_task_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->task = "caption";
	p->no_repeat_ngram = -1;
}

/* The task's prompt template from the model file (f2.tasks.names / f2.tasks.prompts). */
static enum fvl_status task_template(const struct fvl_gguf *g, const char *token, char **out)
{
	const struct fvl_gguf_kv *names, *prompts;
	enum fvl_status st;
	*out = NULL;
	if ((st = fvl_gguf_get_arr(g, FVL_KEY_F2_TASK_NAMES, FVL_GGUF_TYPE_STRING, &names)) ||
	    (st = fvl_gguf_get_arr(g, FVL_KEY_F2_TASK_PROMPTS, FVL_GGUF_TYPE_STRING, &prompts)))
		return st;
	for (uint64_t i = 0; i < names->n && i < prompts->n; i++) {
		struct fvl_str n = fvl_gguf_arr_str(names, i);
		if (n.n == strlen(token) && memcmp(n.p, token, n.n) == 0) {
			struct fvl_str p = fvl_gguf_arr_str(prompts, i);
			*out = malloc(p.n + 1);
			if (!*out)
				return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			memcpy(*out, p.p, p.n);
			(*out)[p.n] = '\0';
			return FVL_STATUS_OK;
		}
	}
	return fvl_fail(FVL_STATUS_NOT_FOUND, "the model file has no prompt for %s", token);
}

struct task_run {
	struct fvl_compute *compute;
	struct fvl_task_dump *dump;
	char *tmpl, *prompt, *text;
	int32_t *ids;
	float *pixels, *feats, *visual, *enc;
	struct fvl_f2_decoder_state *state;
};

static void task_run_free(struct task_run *x)
{
	fvl_f2_decoder_state_free(x->state);
	free(x->tmpl), free(x->prompt), free(x->text), free(x->ids);
	free(x->pixels), free(x->feats), free(x->visual), free(x->enc);
}

static enum fvl_status check_params(const struct fvl_model *m, const uint8_t *rgb, uint32_t w,
                                    uint32_t h, const struct fvl_task_params *p,
                                    const struct fvl_task_info **task)
{
	if (!m || !p || !rgb || w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "fvl_task_run: NULL argument or empty image");
	if (FVL_PARAMS_CHECK(p))
		return FVL_STATUS_INVALID_ARGUMENT;
	/* the task layer is the one part of a model loaded on first use, under the model's lock */
	enum fvl_status st = fvl_model_tasks((struct fvl_model *)m);
	if (st != FVL_STATUS_OK)
		return st;
	*task = fvl_task_find(p->task);
	if (!*task)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "unknown task '%s' (see fvl task --help)",
		                p->task ? p->task : "(null)");
	if (p->n_beams < 0 || p->n_beams > 16)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "beams %d: use 1..16", p->n_beams);
	if (p->max_new < 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "max new tokens %d", p->max_new);
	if (p->no_repeat_ngram < -1 || p->no_repeat_ngram > 64)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no-repeat n-gram size %d",
		                p->no_repeat_ngram);
	return FVL_STATUS_OK;
}

/* The decoder step, keeping a copy of the first logits for the dump. */
struct dump_step {
	struct fvl_f2_decoder_state *state;
	struct fvl_task_dump *dump;
};

static enum fvl_status step_with_dump(void *ctx, size_t n_beams, const int32_t *parents,
                                      const int32_t *tokens, size_t pos, float *logits)
{
	struct dump_step *d = ctx;
	enum fvl_status st = fvl_f2_decoder_step(d->state, n_beams, parents, tokens, pos, logits);
	if (st == FVL_STATUS_OK && pos == 0 && d->dump->decoder_logits_first)
		memcpy(d->dump->decoder_logits_first, logits, d->dump->vocab * sizeof(float));
	return st;
}

static float *dup_floats(const float *x, size_t n)
{
	float *y = malloc(n * sizeof(float));
	if (y)
		memcpy(y, x, n * sizeof(float));
	return y;
}

/* The task on img: its prompt, then the vision side (unless visual_in holds its output for this
 * image already), the encoder, the search and the parse. */
static enum fvl_status run(const struct fvl_model *m, const struct fvl_image *img,
                           const struct fvl_task_params *p, const struct fvl_task_info *task,
                           const float *visual_in, struct task_run *x, struct fvl_task_result *out)
{
	const struct fvl_f2 *f2 = m->is_vl ? &m->vision.f2 : &m->f2;
	const struct fvl_f2_decoder *dec = &m->dec;
	const size_t S = f2->davit.image_size, nv = fvl_f2_n_visual(&f2->encoder),
	             D = f2->encoder.n_embd;
	size_t n_ids = 0, n_out = 0;
	enum fvl_status st;
	if ((st = task_template(m->gguf, task->token, &x->tmpl)) ||
	    (st = fvl_task_prompt(task, x->tmpl, p->text, &x->prompt)) ||
	    (st = fvl_tok_encode(m->ftok, x->prompt, strlen(x->prompt), true, &x->ids, &n_ids)))
		return st;
	if (nv + n_ids > f2->encoder.n_pos)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "the prompt is %zu tokens; with %zu "
		                "visual tokens it exceeds the encoder's %zu positions",
		                n_ids, nv, f2->encoder.n_pos);
	const size_t grid = fvl_davit_grid(&f2->davit),
	             c_last = f2->davit.stages[f2->davit.n_stages - 1].c;
	x->enc = malloc((nv + n_ids) * D * sizeof(float));
	if (!x->enc)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const double t0 = ms_now();
	/* progress: the vision side's steps (unless done already), then the encoder's layers */
	x->compute->progress_done = 0;
	x->compute->progress_total =
	        (uint32_t)((visual_in ? 0 : fvl_davit_n_blocks(&f2->davit) + 1) +
	                   f2->encoder.n_layer);
	if (!visual_in) {
		x->pixels = malloc(3 * S * S * sizeof(float));
		x->feats = malloc(grid * grid * c_last * sizeof(float));
		x->visual = malloc(nv * f2->encoder.proj_dim * sizeof(float));
		if (!x->pixels || !x->feats || !x->visual)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		if ((st = fvl_preprocess_run(&m->task_preprocess, img, x->pixels)) ||
		    (st = fvl_davit_forward(&f2->davit, x->compute, x->pixels, x->feats, NULL)) ||
		    (st = fvl_f2_encode_image(&f2->encoder, x->compute, x->feats, x->visual)))
			return st;
	}
	const float *visual = visual_in ? visual_in : x->visual;
	if ((st = fvl_f2_encoder_forward(&f2->encoder, x->compute, visual, nv, x->ids, n_ids,
	                                 x->enc)))
		return st;
	const double t1 = ms_now();
	uint32_t max_new = p->max_new > 0 ? (uint32_t)p->max_new : 1024;
	if (max_new > dec->n_pos)
		max_new = (uint32_t)dec->n_pos;
	const uint32_t beams = p->n_beams > 0 ? (uint32_t)p->n_beams : dec->num_beams;
	struct fvl_search s = {.n_vocab = dec->n_vocab,
	                       .start_id = dec->start_id,
	                       .eos_id = dec->eos_id,
	                       .n_beams = beams,
	                       .max_new = max_new,
	                       .length_penalty = 1.0f,
	                       .early_stopping = dec->early_stopping,
	                       .no_repeat_ngram = p->no_repeat_ngram >= 0
	                                                  ? (uint32_t)p->no_repeat_ngram
	                                                  : dec->no_repeat_ngram,
	                       .forced_bos_id = dec->forced_bos_id,
	                       .forced_eos = dec->forced_eos};
	out->search = (struct fvl_task_search){
	        beams,           max_new,      s.no_repeat_ngram, s.early_stopping,
	        s.forced_bos_id, s.forced_eos, s.length_penalty};
	out->ids = malloc(max_new * sizeof(int32_t));
	if (!out->ids)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct fvl_task_dump *dp = x->dump;
	if (dp) {
		*dp = (struct fvl_task_dump){
		        .pixel_values = dup_floats(x->pixels, 3 * S * S),
		        .davit_out = dup_floats(x->feats, grid * grid * c_last),
		        .image_features = dup_floats(visual, nv * f2->encoder.proj_dim),
		        .encoder_out = dup_floats(x->enc, (nv + n_ids) * D),
		        .decoder_logits_first = malloc(dec->n_vocab * sizeof(float)),
		        .size = S,
		        .grid = grid,
		        .c_last = c_last,
		        .n_visual = nv,
		        .n_enc = nv + n_ids,
		        .d = D,
		        .vocab = dec->n_vocab};
		if (!dp->pixel_values || !dp->davit_out || !dp->image_features ||
		    !dp->encoder_out || !dp->decoder_logits_first)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	if ((st = fvl_f2_decoder_state_init(dec, x->compute, x->enc, nv + n_ids, beams, max_new,
	                                    &x->state)))
		return st;
	struct dump_step ds = {x->state, dp};
	if ((st = dp ? fvl_search_run(&s, step_with_dump, &ds, out->ids, &n_out)
	             : fvl_search_run(&s, fvl_f2_decoder_step, x->state, out->ids, &n_out)))
		return st;
	out->n_ids = n_out;
	out->ms_vision = t1 - t0;
	out->ms_decode = ms_now() - t1;
	size_t n_text;
	if ((st = fvl_tok_decode(m->ftok, out->ids, n_out, false, &x->text, &n_text)))
		return st;
	struct fvl_task_geom geom = {.w = img->w, .h = img->h, .side = 0, .off_x = 0, .off_y = 0};
	if (m->task_preprocess.pad_square) { /* the bins cover the padded square */
		geom.side = img->w > img->h ? img->w : img->h;
		geom.off_x = (geom.side - img->w) / 2, geom.off_y = (geom.side - img->h) / 2;
	}
	return fvl_task_parse(task, x->text, &geom, out);
}

void fvl_task_dump_free(struct fvl_task_dump *d)
{
	if (!d)
		return;
	free(d->pixel_values), free(d->davit_out), free(d->image_features), free(d->encoder_out);
	free(d->decoder_logits_first);
	memset(d, 0, sizeof(*d));
}

enum fvl_status fvl_task_run(const struct fvl_model *m, const uint8_t *rgb, uint32_t w, uint32_t h,
                             const struct fvl_task_params *p, struct fvl_task_result *out)
{
	return fvl_task_run_dump(m, rgb, w, h, p, out, NULL);
}

enum fvl_status fvl_task_run_dump(const struct fvl_model *m, const uint8_t *rgb, uint32_t w,
                                  uint32_t h, const struct fvl_task_params *p,
                                  struct fvl_task_result *out, struct fvl_task_dump *dump)
{
	const struct fvl_task_info *task = NULL;
	struct task_run x;
	if (!out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_task_run: NULL result");
	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	if (dump)
		memset(dump, 0, sizeof(*dump));
	x.dump = dump;
	enum fvl_status st = check_params(m, rgb, w, h, p, &task);
	if (st != FVL_STATUS_OK)
		return st;
	const struct fvl_image img = {w, h, (uint8_t *)rgb};
	struct fvl_compute compute;
	x.compute = &compute;
	if ((st = fvl_compute_init(&compute, p->n_threads, p->isa)) == FVL_STATUS_OK) {
		st = run(m, &img, p, task, NULL, &x, out);
		fvl_compute_free(&compute);
	}
	task_run_free(&x);
	if (st != FVL_STATUS_OK) {
		fvl_task_result_free(out);
		fvl_task_dump_free(dump);
	}
	return st;
}

enum fvl_status fvl_task_image_features(const struct fvl_model *m, struct fvl_compute *compute,
                                        const struct fvl_image *img, float *visual)
{
	enum fvl_status st = fvl_model_tasks((struct fvl_model *)m);
	if (st != FVL_STATUS_OK)
		return st;
	const struct fvl_f2 *f2 = m->is_vl ? &m->vision.f2 : &m->f2;
	const size_t S = f2->davit.image_size, grid = fvl_davit_grid(&f2->davit),
	             c_last = f2->davit.stages[f2->davit.n_stages - 1].c;
	float *pixels = malloc(3 * S * S * sizeof(float)),
	      *feats = malloc(grid * grid * c_last * sizeof(float));
	compute->progress_done = 0;
	compute->progress_total = (uint32_t)(fvl_davit_n_blocks(&f2->davit) + 1);
	if (!pixels || !feats)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (st == FVL_STATUS_OK)
		st = fvl_preprocess_run(&m->task_preprocess, img, pixels);
	if (st == FVL_STATUS_OK)
		st = fvl_davit_forward(&f2->davit, compute, pixels, feats, NULL);
	if (st == FVL_STATUS_OK)
		st = fvl_f2_encode_image(&f2->encoder, compute, feats, visual);
	free(pixels);
	free(feats);
	return st;
}

size_t fvl_task_n_features(const struct fvl_model *m)
{
	const struct fvl_f2 *f2 = m->is_vl ? &m->vision.f2 : &m->f2;
	return fvl_f2_n_visual(&f2->encoder) * f2->encoder.proj_dim;
}

enum fvl_status fvl_task_run_on(const struct fvl_model *m, struct fvl_compute *compute,
                                const struct fvl_image *img, const float *visual,
                                const struct fvl_task_params *p, struct fvl_task_result *out)
{
	const struct fvl_task_info *task = NULL;
	struct task_run x;
	if (!out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_session_run_task: NULL result");
	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.compute = compute;
	enum fvl_status st = check_params(m, img->rgb, img->w, img->h, p, &task);
	if (st == FVL_STATUS_OK)
		st = run(m, img, p, task, visual, &x, out);
	fvl_compute_rest(compute);
	task_run_free(&x);
	if (st != FVL_STATUS_OK)
		fvl_task_result_free(out);
	return st;
}
