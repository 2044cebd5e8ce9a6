/* task.c — Florence-2 tasks end to end: prompt expansion, image to encoder output, greedy or beam
 * search over the BART decoder, post-processing into text, boxes and quads. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "f2post.h"
#include "model.h"

static double ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void fvl_task_params_default(struct fvl_task_params *p)
{
	memset(p, 0, sizeof(*p));
	p->task = "caption";
	p->no_repeat_ngram = -1;
}

/* The task's prompt template from the model file (f2.tasks.names / f2.tasks.prompts). */
static enum fvl_status task_template(const struct fvl_gguf *g, const char *token, char **out)
{
	const struct fvl_gguf_kv *names, *prompts;
	enum fvl_status st;
	*out = NULL;
	if ((st = fvl_gguf_get_arr(g, "f2.tasks.names", FVL_GGUF_STRING, &names)) ||
	    (st = fvl_gguf_get_arr(g, "f2.tasks.prompts", FVL_GGUF_STRING, &prompts)))
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
	struct fvl_compute compute;
	struct fvl_task_dump *dump;
	char *tmpl, *prompt, *text;
	int32_t *ids;
	float *pixels, *feats, *visual, *enc;
	struct fvl_f2_decoder_state *state;
};

static enum fvl_status check_params(const struct fvl_model *m, const uint8_t *rgb, uint32_t w,
                                    uint32_t h, const struct fvl_task_params *p,
                                    const struct fvl_task_info **task)
{
	if (!m || !p || !rgb || w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_task_run: NULL argument or empty image");
	/* the task layer is the one part of a model loaded on first use, under the model's lock */
	enum fvl_status st = fvl_model_tasks((struct fvl_model *)m);
	if (st != FVL_STATUS_OK)
		return st;
	*task = fvl_task_find(p->task);
	if (!*task)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "unknown task '%s' (see fvl task --help)",
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

static enum fvl_status run(const struct fvl_model *m, const struct fvl_image *img,
                           const struct fvl_task_params *p, const struct fvl_task_info *task,
                           struct task_run *x, struct fvl_task_result *out)
{
	const struct fvl_f2 *f2 = m->is_vl ? &m->vision.f2 : &m->f2;
	const struct fvl_f2_decoder *dec = &m->dec;
	const size_t S = f2->image_size, nv = fvl_f2_n_visual(f2), D = f2->d;
	size_t n_ids = 0, n_out = 0;
	enum fvl_status st;
	if ((st = task_template(m->gguf, task->token, &x->tmpl)) ||
	    (st = fvl_task_prompt(task, x->tmpl, p->text, &x->prompt)) ||
	    (st = fvl_tok_encode(m->ftok, x->prompt, strlen(x->prompt), true, &x->ids, &n_ids)))
		return st;
	if (nv + n_ids > f2->max_pos)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "the prompt is %zu tokens; with %zu "
		                "visual tokens it exceeds the encoder's %zu positions", n_ids, nv,
		                f2->max_pos);
	const size_t grid = fvl_f2_grid(f2), c_last = f2->st[f2->n_stages - 1].c;
	x->pixels = malloc(3 * S * S * sizeof(float));
	x->feats = malloc(grid * grid * c_last * sizeof(float));
	x->visual = malloc(nv * f2->proj_dim * sizeof(float));
	x->enc = malloc((nv + n_ids) * D * sizeof(float));
	if (!x->pixels || !x->feats || !x->visual || !x->enc)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const double t0 = ms_now();
	if ((st = fvl_preprocess_run(&m->task_preprocess, img, x->pixels)) ||
	    (st = fvl_f2_davit(f2, &x->compute, x->pixels, x->feats, NULL)) ||
	    (st = fvl_f2_encode_image(f2, &x->compute, x->feats, x->visual)) ||
	    (st = fvl_f2_encoder(f2, &x->compute, x->visual, nv, x->ids, n_ids, x->enc)))
		return st;
	const double t1 = ms_now();
	uint32_t max_new = p->max_new > 0 ? (uint32_t)p->max_new : 1024;
	if (max_new > dec->max_pos)
		max_new = (uint32_t)dec->max_pos;
	const uint32_t beams = p->n_beams > 0 ? (uint32_t)p->n_beams : dec->num_beams;
	struct fvl_search s = {
		.vocab = dec->vocab, .start_id = dec->start_id, .eos_id = dec->eos_id, .n_beams = beams,
		.max_new = max_new, .length_penalty = 1.0f, .early_stopping = dec->early_stopping,
		.no_repeat_ngram = p->no_repeat_ngram >= 0 ? (uint32_t)p->no_repeat_ngram :
		                   dec->no_repeat_ngram,
		.forced_bos_id = dec->forced_bos_id, .forced_eos = dec->forced_eos};
	out->search = (struct fvl_task_search){beams, max_new, s.no_repeat_ngram, s.early_stopping,
	                                       s.forced_bos_id, s.forced_eos, s.length_penalty};
	out->ids = malloc(max_new * sizeof(int32_t));
	if (!out->ids)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct fvl_task_dump *dp = x->dump;
	if (dp) {
		*dp = (struct fvl_task_dump){
			.pixel_values = dup_floats(x->pixels, 3 * S * S),
			.davit_out = dup_floats(x->feats, grid * grid * c_last),
			.image_features = dup_floats(x->visual, nv * f2->proj_dim),
			.encoder_out = dup_floats(x->enc, (nv + n_ids) * D),
			.decoder_logits_first = malloc(dec->vocab * sizeof(float)),
			.size = S, .grid = grid, .c_last = c_last, .n_visual = nv, .n_enc = nv + n_ids,
			.d = D, .vocab = dec->vocab};
		if (!dp->pixel_values || !dp->davit_out || !dp->image_features || !dp->encoder_out ||
		    !dp->decoder_logits_first)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	if ((st = fvl_f2_decoder_state_init(dec, &x->compute, x->enc, nv + n_ids, beams, max_new, &x->state)))
		return st;
	struct dump_step ds = {x->state, dp};
	if ((st = dp ? fvl_search_run(&s, step_with_dump, &ds, out->ids, &n_out) :
	              fvl_search_run(&s, fvl_f2_decoder_step, x->state, out->ids, &n_out)))
		return st;
	out->n_ids = n_out;
	out->ms_vision = t1 - t0;
	out->ms_decode = ms_now() - t1;
	size_t n_text;
	if ((st = fvl_tok_decode(m->ftok, out->ids, n_out, false, &x->text, &n_text)))
		return st;
	struct fvl_task_geom geom = {img->w, img->h, 0, 0, 0};
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

enum fvl_status fvl_task_run(const struct fvl_model *m, const uint8_t *rgb, uint32_t w,
                             uint32_t h, const struct fvl_task_params *p,
                             struct fvl_task_result *out)
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
	if ((st = fvl_compute_init(&x.compute, p->n_threads, p->isa)) == FVL_STATUS_OK) {
		st = run(m, &img, p, task, &x, out);
		fvl_compute_free(&x.compute);
	}
	fvl_f2_decoder_state_free(x.state);
	free(x.tmpl), free(x.prompt), free(x.text), free(x.ids);
	free(x.pixels), free(x.feats), free(x.visual), free(x.enc);
	if (st != FVL_STATUS_OK) {
		fvl_task_result_free(out);
		fvl_task_dump_free(dump);
	}
	return st;
}
