/* test-f2task.c — Florence-2 on its own: the BART decoder against the fvl-tiny-phi3 goldens
 * (first-step logits, greedy ids) for the Florence-VL file and the converted florence2-tiny,
 * beam search and no-repeat-ngram on hand-checkable cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "florence2-tasks.h"
#include "florence2-decoder.h"
#include "search.h"
#include "florence2-encoder.h"
#include "golden.h"
#include "image.h"
#include "tokenizer.h"
#include "test.h"

static const char *const tasks[] = {"CAPTION", "OCR", "OD"};

/* The plain Florence-2 fixture converted to f32 once. */
static const char *florence2_model(void)
{
	static char path[600];
	if (path[0])
		return path;
	snprintf(path, sizeof(path), "%s/florence2-tiny.gguf", t_tmpdir());
	struct convert_opts o = {.ckpt_dir = t_datapath("florence2-tiny"),
	                         .out = path,
	                         .wtype = FVL_TYPE_F32,
	                         .vision_wtype = FVL_TYPE_F32,
	                         .embed_wtype = FVL_TYPE_F32,
	                         .quiet = true};
	if (convert_run(&o) != FVL_STATUS_OK) {
		path[0] = '\0';
		return NULL;
	}
	return path;
}

struct dec_fixture {
	struct fvl_gguf *g;
	struct fvl_f2 f;
	struct fvl_f2_decoder d;
	struct fvl_compute compute;
	float *enc;
	size_t n_enc;
};

/* Loads the model and runs the encoder over the golden image features and the task's prompt. */
static bool open_dec(struct dec_fixture *x, const char *path, const char *task)
{
	char key[64];
	int ids[64];
	memset(x, 0, sizeof(*x));
	snprintf(key, sizeof(key), "florence_tasks.%s.prompt_ids", task);
	const int n = golden_ids(key, ids, 64);
	float *feat = golden_tensor("image_features", 17 * 64);
	if (!path || n <= 0 || !feat || fvl_gguf_open(path, &x->g) != FVL_STATUS_OK ||
	    fvl_f2_load(&x->f, x->g) != FVL_STATUS_OK ||
	    fvl_f2_decoder_load(&x->d, x->g) != FVL_STATUS_OK ||
	    fvl_compute_init(&x->compute, 2, NULL) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "load %s: %s", path ? path : "(no model)",
		        fvl_last_error());
		free(feat);
		return false;
	}
	int32_t p[64];
	for (int i = 0; i < n; i++)
		p[i] = ids[i];
	x->n_enc = 17 + (size_t)n;
	x->enc = malloc(x->n_enc * 64 * sizeof(float));
	bool ok = x->enc && fvl_f2_encoder_forward(&x->f.encoder, &x->compute, feat, 17, p,
	                                           (size_t)n, x->enc) == 0;
	free(feat);
	if (!ok)
		t_failf(__FILE__, __LINE__, "encoder: %s", fvl_last_error());
	return ok;
}

static void close_dec(struct dec_fixture *x)
{
	free(x->enc);
	fvl_compute_free(&x->compute);
	fvl_f2_decoder_free(&x->d);
	fvl_f2_free(&x->f);
	fvl_gguf_free(x->g);
}

static void check_model(const char *what, const char *path)
{
	for (size_t t = 0; t < 3; t++) {
		struct dec_fixture x;
		struct fvl_f2_decoder_state *s = NULL;
		char name[64];
		int want_ids[16];
		if (!open_dec(&x, path, tasks[t])) {
			close_dec(&x);
			return;
		}
		const size_t V = x.d.n_vocab;
		snprintf(name, sizeof(name), "florence_%s_first_logits", tasks[t]);
		float *want = golden_tensor(name, V), *got = malloc(V * sizeof(float));
		const int32_t start = x.d.start_id, parent = 0;
		T_CHECK(fvl_f2_decoder_state_init(&x.d, &x.compute, x.enc, x.n_enc, 1, 32, &s) == 0,
		        "%s", fvl_last_error());
		if (s && want && got && fvl_f2_decoder_step(s, 1, &parent, &start, 0, got) == 0) {
			const double e = golden_err(got, want, V);
			t_note("%s %s: first-step logits error %.2g, argmax %zu (golden %zu)", what,
			       tasks[t], e, golden_argmax(got, V), golden_argmax(want, V));
			T_CHECK(e <= 1e-3, "%s %s logits error %.3g", what, tasks[t], e);
		} else {
			T_CHECK(false, "%s %s: %s", what, tasks[t], fvl_last_error());
		}
		/* greedy, no stop token, no processors: golden.json's greedy_ids are the first 10 of
		 * 40 (40 positions make the caches grow past their first 32) */
		snprintf(name, sizeof(name), "florence_tasks.%s.greedy_ids", tasks[t]);
		const int n = golden_ids(name, want_ids, 16);
		struct fvl_search sr = {.n_vocab = V,
		                        .start_id = start,
		                        .eos_id = -1,
		                        .n_beams = 1,
		                        .max_new = 40,
		                        .length_penalty = 1.0f,
		                        .forced_bos_id = -1};
		int32_t out[40];
		size_t n_out = 0;
		fvl_f2_decoder_state_free(s);
		s = NULL;
		T_CHECK(n > 0 &&
		                fvl_f2_decoder_state_init(&x.d, &x.compute, x.enc, x.n_enc, 1, 40,
		                                          &s) == 0 &&
		                fvl_search_run(&sr, fvl_f2_decoder_step, s, out, &n_out) == 0,
		        "greedy: %s", fvl_last_error());
		size_t same = 0;
		for (size_t i = 0; i < n_out && (int)i < n; i++)
			same += out[i] == want_ids[i];
		t_note("%s %s: greedy %zu of %d ids identical", what, tasks[t], same, n);
		T_CHECK(n_out == 40 && same == (size_t)n, "%s %s greedy ids differ", what,
		        tasks[t]);
		fvl_f2_decoder_state_free(s);
		free(want);
		free(got);
		close_dec(&x);
	}
}

static void test_florence_vl_decoder_matches_goldens(void)
{
	check_model("Florence-VL file", golden_model("f32", "f32"));
}

static void test_florence2_decoder_matches_goldens(void)
{
	check_model("florence2-tiny", florence2_model());
}

/* transformers' native layout of the same weights: no final_logits_bias (the fixture's original
 * has a non-zero one), 51,328 padded rows. Its first logits are the golden ones less that bias
 * over the original vocabulary. */
static void test_native_florence2_decoder_matches_goldens(void)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s/florence2-tiny-native.gguf", t_tmpdir());
	struct convert_opts o = {.ckpt_dir = t_datapath("florence2-tiny-native"),
	                         .out = path,
	                         .wtype = FVL_TYPE_F32,
	                         .vision_wtype = FVL_TYPE_F32,
	                         .embed_wtype = FVL_TYPE_F32,
	                         .quiet = true};
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	struct fvl_gguf *orig = NULL;
	const float *bias = NULL;
	T_ASSERT(fvl_gguf_open(florence2_model(), &orig) == 0 &&
	                 fvl_tensor_f32(orig, "fd.logits_bias", 51289, &bias) == 0,
	         "bias");
	double worst = 0;
	for (size_t t = 0; t < 3; t++) {
		struct dec_fixture x;
		struct fvl_f2_decoder_state *s = NULL;
		char name[64];
		if (!open_dec(&x, path, tasks[t])) {
			close_dec(&x);
			break;
		}
		snprintf(name, sizeof(name), "florence_%s_first_logits", tasks[t]);
		float *want = golden_tensor(name, 51289),
		      *got = malloc(x.d.n_vocab * sizeof(float));
		const int32_t start = x.d.start_id, parent = 0;
		bool ok = x.d.n_vocab == 51328 && !x.d.logits_bias && want && got &&
		          fvl_f2_decoder_state_init(&x.d, &x.compute, x.enc, x.n_enc, 1, 8, &s) ==
		                  0 &&
		          fvl_f2_decoder_step(s, 1, &parent, &start, 0, got) == 0;
		for (size_t i = 0; ok && i < 51289; i++)
			want[i] -= bias[i];
		const double e = ok ? golden_err(got, want, 51289) : INFINITY;
		if (e > worst)
			worst = e;
		T_CHECK(e <= 1e-3, "%s: error %.3g (%s)", tasks[t], e, fvl_last_error());
		fvl_f2_decoder_state_free(s);
		free(want);
		free(got);
		close_dec(&x);
	}
	fvl_gguf_free(orig);
	t_note("native layout: first-step logits of CAPTION/OCR/OD within %.2e of the goldens less "
	       "final_logits_bias",
	       worst);
}

/* A decoder stand-in with a 4-token vocabulary whose logits depend on the last token only; the
 * table makes greedy and beam search disagree, with answers worked out by hand below. */
struct toy {
	int32_t last[8];
	size_t calls;
};

static enum fvl_status toy_step(void *ctx, size_t nb, const int32_t *parents, const int32_t *tokens,
                                size_t pos, float *logits)
{
	/* p(next | last) as probabilities; rows: last = 0 (start), 1, 2, 3 (3 is EOS) */
	static const float p[4][4] = {{0.0f, 0.5f, 0.4f, 0.1f},
	                              {0.0f, 0.3f, 0.3f, 0.4f},
	                              {0.0f, 0.05f, 0.05f, 0.9f},
	                              {0.25f, 0.25f, 0.25f, 0.25f}};
	struct toy *t = ctx;
	(void)parents, (void)pos;
	t->calls++;
	for (size_t b = 0; b < nb; b++)
		for (size_t i = 0; i < 4; i++)
			logits[b * 4 + i] = p[tokens[b]][i] > 0 ? logf(p[tokens[b]][i]) : -INFINITY;
	return FVL_STATUS_OK;
}

static void test_beam_search_hand_cases(void)
{
	struct toy t = {0};
	int32_t out[8];
	size_t n = 0;
	/* greedy: 1 (0.5), then 3 (0.4): "1 EOS", probability 0.2 */
	struct fvl_search s = {.n_vocab = 4,
	                       .start_id = 0,
	                       .eos_id = 3,
	                       .n_beams = 1,
	                       .max_new = 6,
	                       .length_penalty = 1.0f,
	                       .forced_bos_id = -1};
	T_ASSERT(fvl_search_run(&s, toy_step, &t, out, &n) == 0, "%s", fvl_last_error());
	T_CHECK(n == 2 && out[0] == 1 && out[1] == 3, "greedy gave %zu ids (%d %d)", n, out[0],
	        out[1]);
	/* two beams: "2 EOS" has 0.4 * 0.9 = 0.36 > 0.2; with length_penalty 1 both have length 2 */
	s.n_beams = 2;
	T_ASSERT(fvl_search_run(&s, toy_step, &t, out, &n) == 0, "%s", fvl_last_error());
	T_CHECK(n == 2 && out[0] == 2 && out[1] == 3, "beams gave %zu ids (%d %d)", n, out[0],
	        out[1]);
	/* no EOS reachable within max_new = 1: the best unfinished beam is returned */
	s.max_new = 1;
	T_ASSERT(fvl_search_run(&s, toy_step, &t, out, &n) == 0, "%s", fvl_last_error());
	T_CHECK(n == 1 && out[0] == 1, "max_new 1 gave %zu ids (%d)", n, out[0]);
}

/* Logits that always prefer 1, then 2: with no_repeat_ngram 2 the bigram (1 1) is banned after
 * one repeat, so greedy alternates. */
static enum fvl_status rep_step(void *ctx, size_t nb, const int32_t *parents, const int32_t *tokens,
                                size_t pos, float *logits)
{
	(void)ctx, (void)parents, (void)tokens, (void)pos;
	for (size_t b = 0; b < nb; b++) {
		const float l[4] = {0.0f, 3.0f, 2.0f, 1.0f};
		memcpy(logits + b * 4, l, sizeof(l));
	}
	return FVL_STATUS_OK;
}

static void test_no_repeat_ngram(void)
{
	int32_t out[8];
	size_t n = 0;
	struct fvl_search s = {.n_vocab = 4,
	                       .start_id = 0,
	                       .eos_id = -1,
	                       .n_beams = 1,
	                       .max_new = 6,
	                       .length_penalty = 1.0f,
	                       .forced_bos_id = -1};
	T_ASSERT(fvl_search_run(&s, rep_step, NULL, out, &n) == 0 && n == 6, "plain");
	T_CHECK(out[0] == 1 && out[5] == 1, "without the ban every id is 1");
	/* The start token counts (as HF's decoder_input_ids do). 0 1, then 1 (no bigram from 1 yet);
	 * after 0 1 1 the bigram (1 1) is seen -> 2; after 2 -> 1; after 1, (1 1) and (1 2) are
	 * seen -> 3; after 3 -> 1. */
	s.no_repeat_ngram = 2;
	T_ASSERT(fvl_search_run(&s, rep_step, NULL, out, &n) == 0 && n == 6, "ngram");
	static const int32_t want[6] = {1, 1, 2, 1, 3, 1};
	bool same = memcmp(out, want, sizeof(want)) == 0;
	T_CHECK(same, "ngram 2 gave %d %d %d %d %d %d", out[0], out[1], out[2], out[3], out[4],
	        out[5]);
	/* trigrams: 0 1 1, then 1 (no trigram starts with 1 1 yet), then (1 1 1) is seen -> 2, then
	 * (1 2 ..) and (2 1 ..) are new -> 1 1 */
	s.no_repeat_ngram = 3;
	T_ASSERT(fvl_search_run(&s, rep_step, NULL, out, &n) == 0 && n == 6, "ngram 3");
	static const int32_t want3[6] = {1, 1, 1, 2, 1, 1};
	same = memcmp(out, want3, sizeof(want3)) == 0;
	T_CHECK(same, "ngram 3 gave %d %d %d %d %d %d", out[0], out[1], out[2], out[3], out[4],
	        out[5]);
}

/* ---- the task layer ------------------------------------------------------------------------------ */

/* The Florence-2 tokenizer of the converted florence2-tiny. */
static struct fvl_tok *florence_tok(struct fvl_gguf **g)
{
	struct fvl_tok *t = NULL;
	const char *path = florence2_model();
	*g = NULL;
	if (!path || fvl_gguf_open(path, g) != FVL_STATUS_OK ||
	    fvl_tok_load(*g, "tokenizer.florence", &t) != FVL_STATUS_OK)
		t_failf(__FILE__, __LINE__, "tokenizer: %s", fvl_last_error());
	return t;
}

static void test_task_prompts_match_the_processor(void)
{
	struct fvl_gguf *g;
	struct fvl_tok *t = florence_tok(&g);
	char *prompt = NULL, key[64];
	T_ASSERT(t, "tokenizer");
	for (size_t i = 0; i < 3; i++) {
		const struct fvl_task_info *ti = fvl_task_find(tasks[i]);
		int want[64];
		int32_t *ids = NULL;
		size_t n = 0;
		snprintf(key, sizeof(key), "florence_tasks.%s.prompt_ids", tasks[i]);
		const int nw = golden_ids(key, want, 64);
		const char *tmpl = i == 0   ? "What does the image describe?"
		                   : i == 1 ? "What is the text in the image?"
		                            : "Locate the objects with category name in the image.";
		T_CHECK(ti && fvl_task_prompt(ti, tmpl, NULL, &prompt) == 0 &&
		                fvl_tok_encode(t, prompt, strlen(prompt), true, &ids, &n) == 0,
		        "%s", tasks[i]);
		bool same = ids && (int)n == nw;
		for (size_t j = 0; same && j < n; j++)
			same = ids[j] == want[j];
		T_CHECK(same, "%s: prompt ids differ from the processor's", tasks[i]);
		free(ids);
		free(prompt);
		prompt = NULL;
	}
	const struct fvl_task_info *gr = fvl_task_find("<CAPTION_TO_PHRASE_GROUNDING>");
	T_CHECK(gr &&
	                fvl_task_prompt(gr, "Locate the phrases in the caption: {input}", "a cat",
	                                &prompt) == 0 &&
	                strcmp(prompt, "Locate the phrases in the caption: a cat") == 0,
	        "grounding prompt");
	free(prompt);
	T_CHECK(fvl_task_prompt(gr, "x {input}", NULL, &prompt) == FVL_STATUS_INVALID_ARGUMENT &&
	                strstr(fvl_last_error(), "--text"),
	        "missing text: %s", fvl_last_error());
	T_CHECK(fvl_task_prompt(fvl_task_find("caption"), "x", "y", &prompt) ==
	                FVL_STATUS_INVALID_ARGUMENT,
	        "caption takes no text");
	T_CHECK(fvl_task_find("no_such_task") == NULL &&
	                fvl_task_find("od") == fvl_task_find("<od>"),
	        "lookup");
	fvl_tok_free(t);
	fvl_gguf_free(g);
}

/* ids: words are encoded, numbers 0..999 are <loc_k>, -1 is <s>, -2 is </s>. */
struct seq_item {
	const char *word;
	int loc;
};

static char *decode_seq(struct fvl_tok *t, const struct seq_item *it, size_t n)
{
	int32_t ids[256];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (it[i].word) {
			int32_t *w = NULL;
			size_t nw = 0;
			if (fvl_tok_encode(t, it[i].word, strlen(it[i].word), false, &w, &nw) != 0)
				return NULL;
			for (size_t j = 0; j < nw && k < 256; j++)
				ids[k++] = w[j];
			free(w);
		} else {
			ids[k++] = it[i].loc == -1 ? 0 : it[i].loc == -2 ? 2 : 50269 + it[i].loc;
		}
	}
	char *text = NULL;
	size_t len;
	return fvl_tok_decode(t, ids, k, false, &text, &len) == 0 ? text : NULL;
}

static bool near(float a, double b)
{
	return fabs((double)a - b) < 1e-3;
}

#define W(s)                                                                                       \
	{                                                                                          \
		s, 0                                                                               \
	}
#define L(k)                                                                                       \
	{                                                                                          \
		NULL, k                                                                            \
	}

static void test_post_processing_of_handmade_sequences(void)
{
	struct fvl_gguf *g;
	struct fvl_tok *t = florence_tok(&g);
	T_ASSERT(t, "tokenizer");
	const struct fvl_task_geom geom = {600, 400, 0, 0, 0}, pad = {600, 400, 600, 0, 100};
	struct fvl_task_result r;
	/* detection: two phrases, the second with two boxes */
	const struct seq_item od[] = {L(-1),    W("car"), L(100), L(200), L(300), L(400),
	                              W("dog"), L(0),     L(0),   L(999), L(999), L(10),
	                              L(20),    L(30),    L(40),  L(-2)};
	char *text = decode_seq(t, od, sizeof(od) / sizeof(od[0]));
	memset(&r, 0, sizeof(r));
	T_ASSERT(text && fvl_task_parse(fvl_task_find("od"), text, &geom, &r) == 0, "od parse");
	t_note("od: \"%s\" -> %zu boxes", r.text, r.n_items);
	T_CHECK(r.n_items == 3 && r.item_coords == 4, "od: %zu boxes", r.n_items);
	if (r.n_items == 3) {
		const struct fvl_task_item *a = &r.items[0], *b = &r.items[1], *c = &r.items[2];
		T_CHECK(!strcmp(a->label, "car") && near(a->coords[0], 60.3) &&
		                near(a->coords[1], 80.2) && near(a->coords[2], 180.3) &&
		                near(a->coords[3], 160.2),
		        "car box %s %.2f %.2f", a->label, a->coords[0], a->coords[1]);
		T_CHECK(!strcmp(b->label, "dog") && near(b->coords[0], 0.3) &&
		                near(b->coords[3], 399.8),
		        "dog box");
		T_CHECK(!strcmp(c->label, "dog") && near(c->coords[0], 6.3) &&
		                near(c->coords[1], 8.2),
		        "second dog box");
	}
	T_CHECK(strstr(r.text, "<s>") == NULL && strstr(r.text, "</s>") == NULL, "specials left");
	fvl_task_result_free(&r);
	/* the same on a padded square: y shifts by the padding */
	T_ASSERT(fvl_task_parse(fvl_task_find("od"), text, &pad, &r) == 0, "pad");
	T_CHECK(r.n_items == 3 && near(r.items[0].coords[1], 200.5 * 0.6 - 100) &&
	                near(r.items[0].coords[2], 180.3),
	        "padded box %.2f", r.n_items ? r.items[0].coords[1] : 0);
	fvl_task_result_free(&r);
	free(text);
	/* OCR with regions: two lines of 8 locations each */
	const struct seq_item ocr[] = {L(-1), W("HELLO"), L(1),  L(2),          L(3),  L(4),  L(5),
	                               L(6),  L(7),       L(8),  W("WORLD 42"), L(10), L(10), L(20),
	                               L(10), L(20),      L(20), L(10),         L(20), L(-2)};
	text = decode_seq(t, ocr, sizeof(ocr) / sizeof(ocr[0]));
	T_ASSERT(text && fvl_task_parse(fvl_task_find("ocr_with_region"), text, &geom, &r) == 0,
	         "ocr");
	T_CHECK(r.n_items == 2 && r.item_coords == 8, "ocr: %zu lines", r.n_items);
	if (r.n_items == 2)
		T_CHECK(!strcmp(r.items[0].label, "HELLO") &&
		                !strcmp(r.items[1].label, "WORLD 42") &&
		                near(r.items[0].coords[0], 0.9) &&
		                near(r.items[0].coords[7], 3.4) && near(r.items[1].coords[2], 12.3),
		        "ocr lines '%s' '%s' %.2f", r.items[0].label, r.items[1].label,
		        r.items[0].coords[0]);
	fvl_task_result_free(&r);
	free(text);
	/* grounding drops the black-listed phrases */
	const struct seq_item gr[] = {W("the"), L(1), L(2), L(3), L(4), W(" a cat"),
	                              L(5),     L(6), L(7), L(8), L(-2)};
	text = decode_seq(t, gr, sizeof(gr) / sizeof(gr[0]));
	T_ASSERT(text && fvl_task_parse(fvl_task_find("caption_to_phrase_grounding"), text, &geom,
	                                &r) == 0,
	         "grounding");
	T_CHECK(r.n_items == 1 && !strcmp(r.items[0].label, "a cat"), "grounding: %zu items",
	        r.n_items);
	fvl_task_result_free(&r);
	free(text);
	/* region proposals: locations only, empty labels */
	const struct seq_item rp[] = {L(-1), L(1), L(2), L(3), L(4), L(5),
	                              L(6),  L(7), L(8), L(9), L(-2)};
	text = decode_seq(t, rp, sizeof(rp) / sizeof(rp[0]));
	T_ASSERT(text && fvl_task_parse(fvl_task_find("region_proposal"), text, &geom, &r) == 0,
	         "rp");
	T_CHECK(r.n_items == 2 && r.items[1].label[0] == 0 && near(r.items[1].coords[0], 3.3),
	        "proposals: %zu", r.n_items);
	fvl_task_result_free(&r);
	free(text);
	fvl_tok_free(t);
	fvl_gguf_free(g);
}

static void test_post_processing_of_malformed_text(void)
{
	static const struct {
		const char *text;
		size_t od, ocr;
	} cases[] = {
	        {"", 0, 0},
	        {"car<loc_1><loc_2><loc_3>", 0, 0},                      /* truncated box */
	        {"car<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6>", 1, 0}, /* a box and a half */
	        {"car<loc_1><loc_2><loc_3><loc_", 0, 0},
	        {"car<loc_><loc_2><loc_3><loc_4><loc_5>", 1,
	         0}, /* empty bin: "loc_>" is the phrase */
	        {"car<loc_99999999999999999999><loc_1><loc_1><loc_1>", 0, 0},
	        {"<loc_1><loc_2><loc_3><loc_4><loc_5>", 1,
	         0}, /* "loc_1>" is a phrase, as the regex has it */
	        {"a\nb<loc_1><loc_2><loc_3><loc_4>", 0, 0}, /* '.' stops at the newline */
	        {"x<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8><loc_9>", 2, 1},
	        {"<<<<>>>><loc_5>>", 0, 0},
	};
	const struct fvl_task_geom geom = {100, 100, 0, 0, 0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fvl_task_result r;
		memset(&r, 0, sizeof(r));
		T_CHECK(fvl_task_parse(fvl_task_find("od"), cases[i].text, &geom, &r) == 0 &&
		                r.n_items == cases[i].od,
		        "od case %zu: %zu boxes", i, r.n_items);
		fvl_task_result_free(&r);
		T_CHECK(fvl_task_parse(fvl_task_find("ocr_with_region"), cases[i].text, &geom,
		                       &r) == 0 &&
		                r.n_items == cases[i].ocr,
		        "ocr case %zu: %zu quads", i, r.n_items);
		fvl_task_result_free(&r);
	}
	/* random token soup, heavy in locations: never a crash, every box inside 1000 bins */
	struct fvl_gguf *g;
	struct fvl_tok *t = florence_tok(&g);
	T_ASSERT(t, "tokenizer");
	uint64_t x = 88172645463325252ull;
	for (int round = 0; round < 200; round++) {
		int32_t ids[64];
		for (int i = 0; i < 64; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			ids[i] = x % 3 ? 50265 + (int32_t)(x % 1024) : (int32_t)(x % 50265);
		}
		char *text = NULL;
		size_t len;
		T_ASSERT(fvl_tok_decode(t, ids, 64, false, &text, &len) == 0, "decode");
		for (size_t k = 0; k < 4; k++) {
			static const char *const names[] = {"od", "ocr_with_region",
			                                    "region_proposal",
			                                    "caption_to_phrase_grounding"};
			struct fvl_task_result r;
			memset(&r, 0, sizeof(r));
			T_ASSERT(fvl_task_parse(fvl_task_find(names[k]), text, &geom, &r) == 0,
			         "soup");
			for (size_t j = 0; j < r.n_items; j++)
				for (uint32_t c = 0; c < r.items[j].n_coords; c++)
					T_ASSERT(r.items[j].coords[c] > 0 &&
					                 r.items[j].coords[c] < 100,
					         "coordinate");
			fvl_task_result_free(&r);
		}
		free(text);
	}
	fvl_tok_free(t);
	fvl_gguf_free(g);
}

/* fvl_task_run from chelsea.jpg against the same search over the golden-fed chain (golden image
 * features, the processor's prompt ids): what the task layer adds (image, prompt, glue) must not
 * change the answer. */
static void test_task_run_matches_the_golden_fed_chain(void)
{
	struct fvl_model *m = NULL;
	struct fvl_image img = {0};
	struct dec_fixture x;
	T_ASSERT(fvl_model_load(golden_model("f32", "f32"), &m) == 0, "%s", fvl_last_error());
	T_ASSERT(fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &img) == 0, "image");
	if (!open_dec(&x, golden_model("f32", "f32"), "CAPTION")) {
		close_dec(&x);
		fvl_model_free(m);
		fvl_image_free(&img);
		return;
	}
	for (int beams = 1; beams <= 3; beams += 2) {
		struct fvl_task_params p;
		struct fvl_task_result r;
		struct fvl_f2_decoder_state *s = NULL;
		int32_t want[16];
		size_t n_want = 0;
		fvl_task_params_default(&p);
		p.task = "caption", p.n_beams = beams, p.max_new = 12, p.no_repeat_ngram = 3;
		p.n_threads = 2;
		T_CHECK(fvl_task_run(m, img.rgb, img.w, img.h, &p, &r) == 0, "%s",
		        fvl_last_error());
		struct fvl_search sr = {.n_vocab = x.d.n_vocab,
		                        .start_id = x.d.start_id,
		                        .eos_id = x.d.eos_id,
		                        .n_beams = (uint32_t)beams,
		                        .max_new = 12,
		                        .no_repeat_ngram = 3,
		                        .length_penalty = 1.0f,
		                        .early_stopping = x.d.early_stopping,
		                        .forced_bos_id = x.d.forced_bos_id,
		                        .forced_eos = x.d.forced_eos};
		T_CHECK(fvl_f2_decoder_state_init(&x.d, &x.compute, x.enc, x.n_enc, 3, 12, &s) ==
		                        0 &&
		                fvl_search_run(&sr, fvl_f2_decoder_step, s, want, &n_want) == 0,
		        "%s", fvl_last_error());
		bool same = r.n_ids == n_want;
		for (size_t i = 0; same && i < n_want; i++)
			same = r.ids[i] == want[i];
		t_note("%d beam(s): %zu ids, first %d last %d, text \"%s\" (%.0f + %.0f ms)", beams,
		       r.n_ids, r.n_ids ? r.ids[0] : -1, r.n_ids ? r.ids[r.n_ids - 1] : -1,
		       r.text ? r.text : "", r.ms_vision, r.ms_decode);
		T_CHECK(same, "%d beams: fvl_task_run ids differ from the golden-fed chain", beams);
		T_CHECK(r.n_ids && r.ids[0] == 0 && r.ids[r.n_ids - 1] == 2,
		        "forced <s> first and </s> last");
		fvl_f2_decoder_state_free(s);
		fvl_task_result_free(&r);
	}
	close_dec(&x);
	fvl_image_free(&img);
	fvl_model_free(m);
}

static void test_task_run_rejects_bad_requests(void)
{
	struct fvl_model *m = NULL;
	struct fvl_task_params p;
	struct fvl_task_result r;
	const uint8_t px[12] = {0};
	T_ASSERT(fvl_model_load(florence2_model(), &m) == 0, "%s", fvl_last_error());
	fvl_task_params_default(&p);
	p.task = "juggling";
	T_CHECK(fvl_task_run(m, px, 2, 2, &p, &r) == FVL_STATUS_INVALID_ARGUMENT &&
	                strstr(fvl_last_error(), "unknown task"),
	        "%s", fvl_last_error());
	p.task = "caption_to_phrase_grounding";
	T_CHECK(fvl_task_run(m, px, 2, 2, &p, &r) == FVL_STATUS_INVALID_ARGUMENT &&
	                strstr(fvl_last_error(), "--text"),
	        "%s", fvl_last_error());
	p.task = "od", p.n_beams = 99;
	T_CHECK(fvl_task_run(m, px, 2, 2, &p, &r) == FVL_STATUS_INVALID_ARGUMENT, "beams 99");
	p.n_beams = 1;
	T_CHECK(fvl_task_run(m, NULL, 2, 2, &p, &r) == FVL_STATUS_INVALID_ARGUMENT, "no pixels");
	/* a 2x2 image runs (it is resized like any other) */
	p.max_new = 4;
	T_CHECK(fvl_task_run(m, px, 2, 2, &p, &r) == 0 && r.n_ids == 4 && r.item_coords == 4,
	        "2x2 od: %s", fvl_last_error());
	fvl_task_result_free(&r);
	T_CHECK(r.ids == NULL && r.n_items == 0, "result freed");
	fvl_model_free(m);
}

struct davit_count {
	uint32_t davit_steps, past_total; /* steps reported beyond their total */
};

static void count_davit(void *user, const char *stage, uint32_t done, uint32_t total)
{
	struct davit_count *c = user;
	if (!strncmp(stage, "DaViT", 5))
		c->davit_steps++;
	if (done == 0 || done > total)
		c->past_total++;
}

/* Tasks on a session equal fvl_task_run's answers, for a Florence-2 file (tasks only) and a
 * Florence-VL file with the decoder, and OCR then OD on one image run DaViT once. */
static void test_session_tasks_run_the_vision_once(void)
{
	const char *paths[] = {florence2_model(), golden_model("f32", "f32")};
	struct fvl_image img = {0};
	T_ASSERT(fvl_image_load(t_datapath("images/text.jpg"), &img) == 0, "image");
	for (int k = 0; k < 2; k++) {
		struct fvl_model *m = NULL;
		struct fvl_session *s = NULL;
		struct fvl_session_params sp;
		struct davit_count dc = {0};
		T_ASSERT(paths[k] && fvl_model_load(paths[k], &m) == 0, "%s", fvl_last_error());
		fvl_session_params_default(&sp);
		sp.progress_cb = count_davit, sp.cb_user = &dc;
		T_ASSERT(fvl_session_init(m, &sp, &s) == 0, "%s", fvl_last_error());
		if (k == 0) /* a Florence-2 file has no LLM to ask */
			T_CHECK(fvl_session_ask(s, "hi", NULL, NULL, NULL) ==
			                FVL_STATUS_UNSUPPORTED,
			        "ask on a Florence-2 session");
		struct fvl_task_params p;
		struct fvl_task_result r;
		fvl_task_params_default(&p);
		p.max_new = 16;
		p.task = "ocr";
		T_CHECK(fvl_session_run_task(s, &p, &r) == FVL_STATUS_INVALID_ARGUMENT,
		        "a task before any image");
		T_ASSERT(fvl_session_set_image_rgb(s, img.rgb, img.w, img.h) == 0, "%s",
		         fvl_last_error());
		const uint32_t after_image = dc.davit_steps;
		for (int t = 0; t < 2; t++) {
			struct fvl_task_result want;
			p.task = t ? "od" : "ocr";
			T_ASSERT(fvl_task_run(m, img.rgb, img.w, img.h, &p, &want) == 0, "%s",
			         fvl_last_error());
			T_ASSERT(fvl_session_run_task(s, &p, &r) == 0, "%s", fvl_last_error());
			bool same = r.n_ids == want.n_ids && r.n_items == want.n_items &&
			            !memcmp(r.ids, want.ids, r.n_ids * sizeof(int32_t)) &&
			            !strcmp(r.text, want.text);
			T_CHECK(same, "file %d task %s: session '%s' vs fvl_task_run '%s'", k,
			        p.task, r.text, want.text);
			fvl_task_result_free(&r);
			fvl_task_result_free(&want);
		}
		/* Florence-2: DaViT ran in set_image; Florence-VL: its own pass, then the tasks' once */
		const uint32_t tasks_pass = dc.davit_steps - (k == 0 ? 0 : after_image);
		t_note("file %d: DaViT block steps for the image and two tasks: %u (set_image %u)",
		       k, dc.davit_steps, after_image);
		T_CHECK(dc.past_total == 0, "%u progress steps outside 1..total", dc.past_total);
		T_CHECK(after_image > 0 && tasks_pass == after_image,
		        "the tasks' vision side ran %u block steps, one pass is %u", tasks_pass,
		        after_image);
		fvl_session_free(s);
		fvl_model_free(m);
	}
	fvl_image_free(&img);
}

void suite_f2task(void)
{
	T_RUN(test_session_tasks_run_the_vision_once);
	T_RUN(test_beam_search_hand_cases);
	T_RUN(test_no_repeat_ngram);
	T_RUN(test_task_prompts_match_the_processor);
	T_RUN(test_post_processing_of_handmade_sequences);
	T_RUN(test_post_processing_of_malformed_text);
	T_RUN(test_florence_vl_decoder_matches_goldens);
	T_RUN(test_florence2_decoder_matches_goldens);
	T_RUN(test_native_florence2_decoder_matches_goldens);
	T_RUN(test_task_run_matches_the_golden_fed_chain);
	T_RUN(test_task_run_rejects_bad_requests);
}
