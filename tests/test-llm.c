/* test-llm.c — the LLM decoder against the fvl-tiny-phi3 goldens: text-only logits, logits with
 * the golden projector output spliced at the image placeholder, greedy ids; q8_0/q4_0 cosines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "llm.h"
#include "rng.h"
#include "sampler.h"
#include "test.h"

#define V 32064

struct llm_fixture {
	struct fvl_gguf *g;
	struct fvl_llm m;
	struct fvl_compute compute;
	struct fvl_llm_state s;
};

static bool open_llm(struct llm_fixture *f, const char *type, bool kv_f16)
{
	const char *path = golden_model(type, "f32");
	memset(f, 0, sizeof(*f));
	if (!path) {
		t_failf(__FILE__, __LINE__, "convert the fixture (%s): %s", type, fvl_last_error());
		return false;
	}
	if (fvl_gguf_open(path, &f->g) != FVL_STATUS_OK ||
	    fvl_llm_load(&f->m, f->g) != FVL_STATUS_OK ||
	    fvl_compute_init(&f->compute, 2, NULL) != FVL_STATUS_OK ||
	    fvl_llm_state_init(&f->s, &f->m, &f->compute, 256, kv_f16, 16) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "load: %s", fvl_last_error());
		return false;
	}
	return true;
}

static void close_llm(struct llm_fixture *f)
{
	fvl_llm_state_free(&f->s);
	fvl_compute_free(&f->compute);
	fvl_llm_free(&f->m);
	fvl_gguf_free(f->g);
}

/* The Florence-VL prompt: text ids, the 17 golden projector rows at the -200, text ids. Writes
 * the logits of the last 4 positions. */
static bool eval_prompt(struct llm_fixture *f, float *tail4)
{
	int ids[64];
	int n = golden_ids("llm_input_ids_with_image_placeholder", ids, 64);
	float *proj = golden_tensor("projector_out", 17 * 96);
	int at = -1;
	for (int i = 0; i < n; i++)
		if (ids[i] == -200)
			at = i;
	if (n != 25 || at < 0 || !proj) {
		t_failf(__FILE__, __LINE__, "golden prompt ids / projector_out");
		free(proj);
		return false;
	}
	int32_t before[64], after[64];
	for (int i = 0; i < at; i++)
		before[i] = ids[i];
	for (int i = at + 1; i < n; i++)
		after[i - at - 1] = ids[i];
	bool ok = fvl_llm_eval(&f->s, &f->compute, (size_t)at, before, NULL, 0, NULL) ==
	                  FVL_STATUS_OK &&
	          fvl_llm_eval(&f->s, &f->compute, 17, NULL, proj, 0, NULL) == FVL_STATUS_OK &&
	          fvl_llm_eval(&f->s, &f->compute, (size_t)(n - at - 1), after, NULL, 4, tail4) ==
	                  FVL_STATUS_OK;
	free(proj);
	if (!ok)
		t_failf(__FILE__, __LINE__, "eval: %s", fvl_last_error());
	else if (f->s.n_past != 41)
		t_failf(__FILE__, __LINE__, "sequence length %zu, golden 41", f->s.n_past);
	return ok && f->s.n_past == 41;
}

static void test_llm_text_only_logits_match_golden(void)
{
	struct llm_fixture f;
	int ids[16];
	float *logits = malloc(V * sizeof(float)),
	      *want = golden_tensor("llm_text_only_logits_last", V);
	int n = golden_ids("llm_text_only_ids", ids, 16);
	T_ASSERT(logits && want && n == 6, "goldens");
	if (!open_llm(&f, "f32", false))
		goto out;
	int32_t in[16];
	for (int i = 0; i < n; i++)
		in[i] = ids[i];
	T_ASSERT(fvl_llm_eval(&f.s, &f.compute, (size_t)n, in, NULL, 1, logits) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	double e = golden_err(logits, want, V);
	t_note("text-only last logits: max error %.2e of max |logit| (tolerance 1e-3)", e);
	T_ASSERT(e <= 1e-3, "error %.3g", e);
out:
	close_llm(&f);
	free(logits);
	free(want);
}

static void check_image_prompt(const char *type, bool kv_f16)
{
	struct llm_fixture f;
	float *tail = malloc(4 * V * sizeof(float)),
	      *want4 = golden_tensor("llm_logits_tail4", 4 * V);
	float *last = golden_tensor("llm_logits_last", V);
	int greedy[16];
	int ng = golden_ids("llm_greedy_ids", greedy, 16);
	T_ASSERT(tail && want4 && last && ng == 12, "goldens");
	if (!open_llm(&f, type, kv_f16) || !eval_prompt(&f, tail))
		goto out;
	const double e_last = golden_err(tail + 3 * V, last, V),
	             e4 = golden_err(tail, want4, 4 * V);
	const double cos = golden_cosine(tail + 3 * V, last, V);
	const bool same_argmax = golden_argmax(tail + 3 * V, V) == golden_argmax(last, V);
	t_note("%s weights, KV %s: last logits max error %.2e, tail4 %.2e, cosine %.6f, argmax %s",
	       type, kv_f16 ? "f16" : "f32", e_last, e4, cos, same_argmax ? "same" : "DIFFERENT");
	if (strcmp(type, "f32") == 0) {
		T_ASSERT(e_last <= 1e-3 && e4 <= 1e-3, "f32: errors %.3g / %.3g above 1e-3", e_last,
		         e4);
		/* greedy continuation, no stop token */
		int32_t id = (int32_t)golden_argmax(tail + 3 * V, V);
		int got[12];
		for (int i = 0; i < 12; i++) {
			got[i] = id;
			T_ASSERT(fvl_llm_eval(&f.s, &f.compute, 1, &id, NULL, 1, tail) ==
			                 FVL_STATUS_OK,
			         "%s", fvl_last_error());
			id = (int32_t)golden_argmax(tail, V);
		}
		for (int i = 0; i < 12; i++)
			T_ASSERT(got[i] == greedy[i], "greedy id %d: %d, golden %d", i, got[i],
			         greedy[i]);
		t_note("12 greedy ids identical to the golden");
	} else if (strcmp(type, "q8_0") == 0) {
		T_ASSERT(cos >= 0.995 && same_argmax, "q8_0: cosine %.5f (>= 0.995), argmax %s",
		         cos, same_argmax ? "same" : "different");
	} else {
		T_ASSERT(cos >= 0.95, "q4_0: cosine %.5f (>= 0.95)", cos);
	}
out:
	close_llm(&f);
	free(tail);
	free(want4);
	free(last);
}

static void test_llm_image_prompt_f32_matches_golden(void)
{
	check_image_prompt("f32", false);
}
static void test_llm_image_prompt_f32_kv_f16(void)
{
	check_image_prompt("f32", true);
}
static void test_llm_image_prompt_q8_0(void)
{
	check_image_prompt("q8_0", true);
}
static void test_llm_image_prompt_q4_0(void)
{
	check_image_prompt("q4_0", true);
}

static void test_llm_rejects_bad_input(void)
{
	struct llm_fixture f;
	if (!open_llm(&f, "f32", true))
		goto out;
	int32_t bad = 40000;
	T_ASSERT(fvl_llm_eval(&f.s, &f.compute, 1, &bad, NULL, 0, NULL) ==
	                         FVL_STATUS_INVALID_ARGUMENT &&
	                 strstr(fvl_last_error(), "outside the vocabulary"),
	         "%s", fvl_last_error());
	int32_t ids[300] = {0};
	T_ASSERT(fvl_llm_eval(&f.s, &f.compute, 300, ids, NULL, 0, NULL) ==
	                         FVL_STATUS_INVALID_ARGUMENT &&
	                 strstr(fvl_last_error(), "do not fit the context"),
	         "%s", fvl_last_error());
out:
	close_llm(&f);
}

/* The repetition penalty over the last 64 generated tokens, each distinct token once (HF's
 * processor), the ring really moving past 64. */
static void test_sampler_repeat_penalty_window(void)
{
	struct fvl_sampler sp;
	enum { NV = 300 };
	float l[NV];
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.repeat_penalty = 2.0f;
	T_ASSERT(fvl_sampler_init(&sp, NV) == FVL_STATUS_OK, "init");
	fvl_sampler_reset(&sp, 1);
	for (int i = 0; i < 100; i++) /* 0..99: the window holds 36..99 */
		fvl_sampler_accept(&sp, i);
	fvl_sampler_accept(&sp, 99); /* twice: still divided once */
	for (int i = 0; i < NV; i++)
		l[i] = 4.0f;
	l[200] = 3.0f; /* the best unpenalized token */
	const int32_t pick = fvl_sampler_sample(&sp, &g, l);
	const bool ok = l[0] == 4.0f && l[36] == 4.0f && l[37] == 2.0f && l[99] == 2.0f &&
	                l[100] == 4.0f && pick == 0;
	T_ASSERT(ok,
	         "after 101 tokens: l[0] %.1f l[36] %.1f l[37] %.1f l[99] %.1f (want 4 4 2 2), "
	         "pick %d",
	         l[0], l[36], l[37], l[99], pick);
	/* negative logits are multiplied */
	for (int i = 0; i < NV; i++)
		l[i] = -1.0f;
	fvl_sampler_sample(&sp, &g, l);
	T_ASSERT(l[99] == -2.0f && l[10] == -1.0f, "negative: %.1f %.1f", l[99], l[10]);
	fvl_sampler_free(&sp);
}

/* top-k / top-p / min-p through the heap give exactly the distribution a full sort gives: the
 * same candidates, checked by sampling frequencies against the brute-force weights. */
static void test_sampler_filters_match_a_full_sort(void)
{
	enum { NV = 2000, DRAWS = 20000 };
	struct fvl_sampler sp;
	static float l[NV], w[NV], tmp[NV];
	static int count[NV];
	struct rng r = {5};
	T_ASSERT(fvl_sampler_init(&sp, NV) == FVL_STATUS_OK, "init");
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.temp = 0.8f, g.top_k = 50, g.top_p = 0.7f, g.min_p = 0.02f;
	for (int i = 0; i < NV; i++)
		l[i] = (float)(rng_next(&r) % 10000) / 1000.0f;
	/* brute force: sort, top-k, softmax over k, top-p, min-p */
	int order[NV];
	for (int i = 0; i < NV; i++)
		order[i] = i;
	for (int i = 0; i < NV; i++) /* selection sort, descending: fine for a test */
		for (int j = i + 1; j < NV; j++)
			if (l[order[j]] > l[order[i]]) {
				int t = order[i];
				order[i] = order[j], order[j] = t;
			}
	double sum = 0;
	for (int i = 0; i < g.top_k; i++)
		sum += w[i] = expf((l[order[i]] - l[order[0]]) / g.temp);
	int keep = 0;
	double c = 0;
	for (int i = 0; i < g.top_k; i++) {
		if (i > 0 && w[i] < g.min_p * w[0])
			break;
		keep = i + 1;
		c += w[i] / sum;
		if (c >= g.top_p)
			break;
	}
	double kept = 0;
	for (int i = 0; i < keep; i++)
		kept += w[i];
	fvl_sampler_reset(&sp, 123);
	for (int d = 0; d < DRAWS; d++) {
		memcpy(tmp, l, sizeof(l));
		count[fvl_sampler_sample(&sp, &g, tmp)]++;
	}
	double worst = 0;
	int outside = 0;
	for (int i = 0; i < NV; i++) {
		int rank = -1;
		for (int k = 0; k < keep && rank < 0; k++)
			rank = order[k] == i ? k : -1;
		if (rank < 0) {
			outside += count[i];
			continue;
		}
		const double want = w[rank] / kept, got = (double)count[i] / DRAWS;
		if (fabs(got - want) > worst)
			worst = fabs(got - want);
	}
	fvl_sampler_free(&sp);
	t_note("top-k 50, top-p 0.7, min-p 0.02 over 2,000 logits: %d candidates kept; over %d "
	       "draws "
	       "the frequencies are within %.4f of the sorted reference, %d draws outside",
	       keep, DRAWS, worst, outside);
	T_ASSERT(outside == 0 && worst < 0.02, "%d draws outside the candidates, worst %.4f",
	         outside, worst);
}

void suite_llm(void)
{
	T_RUN(test_sampler_repeat_penalty_window);
	T_RUN(test_sampler_filters_match_a_full_sort);
	T_RUN(test_llm_text_only_logits_match_golden);
	T_RUN(test_llm_image_prompt_f32_matches_golden);
	T_RUN(test_llm_image_prompt_f32_kv_f16);
	T_RUN(test_llm_image_prompt_q8_0);
	T_RUN(test_llm_image_prompt_q4_0);
	T_RUN(test_llm_rejects_bad_input);
}
