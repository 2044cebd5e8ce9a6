/* test-session.c — the public session API end to end on the converted fixture: the golden prompt
 * ids and greedy ids from chelsea.jpg, prefix reuse for a second question, text-only questions,
 * cancellation, and bad input. */
#include <stdlib.h>
#include <string.h>

#include "fvl.h"
#include "golden.h"
#include "test.h"

#define QUESTION "What is in this picture? Answer briefly."

struct collect {
	int32_t ids[64];
	int n;
	int cancel_after;
};

static bool collect(void *user, int32_t id, const char *text, size_t len)
{
	struct collect *c = user;
	(void)text, (void)len;
	if (id >= 0 && c->n < 64)
		c->ids[c->n++] = id;
	return c->cancel_after == 0 || c->n < c->cancel_after;
}

static struct fvl_gen_params greedy(int n)
{
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.n_predict = n;
	g.ignore_eos = true;
	return g;
}

static void test_session_reproduces_the_golden_answer(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL, *s2 = NULL;
	struct fvl_session_params sp;
	int want[16], want_prompt[64];
	const int nw = golden_ids("llm_greedy_ids", want, 16);
	const int np = golden_ids("llm_input_ids_with_image_placeholder", want_prompt, 64);
	const char *path = golden_model("f32", "f32");
	fvl_session_params_default(&sp);
	sp.n_threads = 2;
	T_ASSERT(path && nw == 12 && np == 25, "goldens");
	T_ASSERT(fvl_model_load(path, &m) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_session_set_image_file(s, t_datapath("fvl-tiny-phi3/chelsea.jpg")) == 0, "%s",
	         fvl_last_error());
	struct fvl_gen_params g = greedy(12);
	struct collect c = {0};
	T_ASSERT(fvl_session_ask(s, QUESTION, &g, collect, &c) == FVL_STATUS_OK, "%s", fvl_last_error());
	size_t n;
	const int32_t *p = fvl_session_prompt_ids(s, &n);
	T_ASSERT(n == 25, "%zu prompt ids", n);
	for (int i = 0; i < 25; i++)
		T_ASSERT(p[i] == want_prompt[i], "prompt id %d: %d, golden %d", i, p[i], want_prompt[i]);
	T_ASSERT(c.n == 12, "%d ids", c.n);
	for (int i = 0; i < 12; i++)
		T_ASSERT(c.ids[i] == want[i], "greedy id %d: %d, golden %d", i, c.ids[i], want[i]);
	t_note("prompt ids (with -200 at the image) and 12 greedy ids identical to the golden");

	/* A second question on the same image reuses the system prompt and the image in the KV
	 * cache, and answers as a fresh session would. */
	struct fvl_stats st;
	struct collect c2 = {0}, c3 = {0};
	g = greedy(8);
	T_ASSERT(fvl_session_ask(s, "And the colours?", &g, collect, &c2) == 0, "%s", fvl_last_error());
	fvl_session_stats(s, &st);
	T_ASSERT(st.n_reused >= 11 + 17, "only %u positions reused", st.n_reused);
	T_ASSERT(fvl_session_init(m, &sp, &s2) == 0 &&
	         fvl_session_set_image_file(s2, t_datapath("fvl-tiny-phi3/chelsea.jpg")) == 0 &&
	         fvl_session_ask(s2, "And the colours?", &g, collect, &c3) == 0, "%s", fvl_last_error());
	T_ASSERT(c2.n == 8 && c3.n == 8 && memcmp(c2.ids, c3.ids, sizeof(c2.ids)) == 0,
	         "second question differs from a fresh session");
	t_note("second question: %u of %u prompt positions reused; same ids as a fresh session",
	       st.n_reused, st.n_prompt);
	fvl_session_free(s2);
	fvl_session_free(s);
	fvl_model_free(m);
}

static void test_session_text_only_cancel_and_bad_input(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	struct fvl_session_params sp;
	const char *path = golden_model("f32", "f32");
	fvl_session_params_default(&sp);
	T_ASSERT(path && fvl_model_load(path, &m) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_OK, "%s", fvl_last_error());
	struct fvl_gen_params g = greedy(5);
	struct collect c = {0};
	T_ASSERT(fvl_session_ask(s, "Hello", &g, collect, &c) == FVL_STATUS_OK && c.n == 5,
	         "text only: %s", fvl_last_error());
	struct collect cc = {.cancel_after = 2};
	T_ASSERT(fvl_session_ask(s, "Hello again", &g, collect, &cc) == FVL_STATUS_CANCELLED &&
	         cc.n == 2, "cancel: %d ids", cc.n);
	g.n_predict = 0;
	T_ASSERT(fvl_session_ask(s, "x", &g, collect, &c) == FVL_STATUS_INVALID_ARGUMENT &&
	         strstr(fvl_last_error(), "n_predict"), "%s", fvl_last_error());
	T_ASSERT(fvl_session_set_image_file(s, t_tmppath("missing.jpg")) == FVL_STATUS_NOT_FOUND,
	         "missing image");
	fvl_session_free(s);
	/* a context too small for the image and the prompt */
	sp.n_ctx = 32;
	T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_session_set_image_file(s, t_datapath("fvl-tiny-phi3/chelsea.jpg")) == 0, "image");
	g.n_predict = 4;
	T_ASSERT(fvl_session_ask(s, QUESTION, &g, collect, &c) == FVL_STATUS_INVALID_ARGUMENT &&
	         strstr(fvl_last_error(), "the context holds 32"), "%s", fvl_last_error());
	t_note("%s", fvl_last_error());
	fvl_session_free(s);
	sp.n_ctx = 0;
	sp.n_threads = 5000;
	T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_INVALID_ARGUMENT && !s, "threads");
	fvl_model_free(m);
}

void suite_session(void)
{
	T_RUN(test_session_reproduces_the_golden_answer);
	T_RUN(test_session_text_only_cancel_and_bad_input);
}
