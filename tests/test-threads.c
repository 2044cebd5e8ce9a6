/* test-threads.c — what fvl.h promises about threads: one loaded model shared by sessions on
 * several threads, Florence-2 tasks on several threads at once (the task layer loading on first
 * use under its lock), and tokenizers encoding from several threads. Each thread's results must
 * equal a single-threaded run's; `make test-tsan` runs these under ThreadSanitizer. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fvl.h"
#include "golden.h"
#include "gguf.h"
#include "image.h"
#include "test.h"
#include "tokenizer.h"

#define N_THREADS 2

/* ---- tokenizers ---------------------------------------------------------------------------- */

static const char *const texts[] = {
        "What is in this picture? Answer briefly.",
        "<|user|>\nDescribe the scene.<|end|>\n<|assistant|>\n",
        "Locate the objects with category name in the image.",
        "A café in Köln: 3 €, 😀 and 東京 \t\t  spaces",
        "x\xff\xe4\xbb broken UTF-8 \xf8\x88\x80\x80\x80 here",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

struct tok_job {
	const struct fvl_tok *t;
	int32_t *want[N_TEXTS];
	size_t n_want[N_TEXTS];
	int rounds, wrong;
};

static void *encode_loop(void *arg)
{
	struct tok_job *j = arg;
	for (int r = 0; r < j->rounds; r++) {
		const size_t k = (size_t)r % N_TEXTS;
		int32_t *ids;
		size_t n;
		if (fvl_tok_encode(j->t, texts[k], strlen(texts[k]), true, &ids, &n) !=
		    FVL_STATUS_OK) {
			j->wrong++;
			continue;
		}
		if (n != j->n_want[k] || memcmp(ids, j->want[k], n * sizeof(*ids)) != 0)
			j->wrong++;
		free(ids);
	}
	return NULL;
}

static void test_threads_tokenizers_encode_alike(void)
{
	struct fvl_gguf *g = NULL;
	struct fvl_tok *tok[2] = {NULL, NULL};
	const char *path = golden_model("f32", "f32");
	T_ASSERT(path && fvl_gguf_open(path, &g) == 0 &&
	                 fvl_tok_load(g, "tokenizer.llm", &tok[0]) == 0 &&
	                 fvl_tok_load(g, "tokenizer.florence", &tok[1]) == 0,
	         "%s", fvl_last_error());
	int wrong = 0, total = 0;
	for (int w = 0; w < 2; w++) {
		struct tok_job jobs[N_THREADS];
		pthread_t th[N_THREADS];
		for (int i = 0; i < N_THREADS; i++) {
			jobs[i] = (struct tok_job){.t = tok[w], .rounds = 1500};
			for (size_t k = 0; k < N_TEXTS; k++)
				fvl_tok_encode(tok[w], texts[k], strlen(texts[k]), true,
				               &jobs[i].want[k], &jobs[i].n_want[k]);
		}
		for (int i = 0; i < N_THREADS; i++)
			pthread_create(&th[i], NULL, encode_loop, &jobs[i]);
		for (int i = 0; i < N_THREADS; i++) {
			pthread_join(th[i], NULL);
			wrong += jobs[i].wrong;
			total += jobs[i].rounds;
			for (size_t k = 0; k < N_TEXTS; k++)
				free(jobs[i].want[k]);
		}
	}
	fvl_tok_free(tok[0]);
	fvl_tok_free(tok[1]);
	fvl_gguf_free(g);
	t_note("%d encodes on %d threads (LLM and Florence-2 tokenizers, regex pre-tokenizer): %d "
	       "differ from the single-threaded ids",
	       total, N_THREADS, wrong);
	T_ASSERT(wrong == 0, "%d wrong id sequences", wrong);
}

/* ---- sessions -------------------------------------------------------------------------------- */

struct answer {
	const struct fvl_model *m;
	float temp;
	int32_t ids[16];
	int n;
	enum fvl_status st;
};

static bool collect(void *user, int32_t id, const char *text, size_t len)
{
	struct answer *a = user;
	(void)text, (void)len;
	if (id >= 0 && a->n < 16)
		a->ids[a->n++] = id;
	return true;
}

static void *ask(void *arg)
{
	struct answer *a = arg;
	struct fvl_session_params sp;
	struct fvl_session *s = NULL;
	fvl_session_params_default(&sp);
	sp.n_threads = 1;
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.n_predict = 8;
	g.ignore_eos = true;
	g.temp = a->temp, g.top_p = 0.9f, g.top_k = 40, g.repeat_penalty = 1.1f, g.seed = 7;
	a->n = 0;
	a->st = fvl_session_init(a->m, &sp, &s);
	if (a->st == FVL_STATUS_OK)
		a->st = fvl_session_set_image_file(s, t_datapath("fvl-tiny-phi3/chelsea.jpg"));
	if (a->st == FVL_STATUS_OK)
		a->st = fvl_session_ask(s, "What is in this picture?", &g, collect, a);
	fvl_session_free(s);
	return NULL;
}

static void test_threads_sessions_share_one_model(void)
{
	struct fvl_model *m = NULL;
	const char *path = golden_model("f32", "f32");
	T_ASSERT(path && fvl_model_load(path, &m) == 0, "%s", fvl_last_error());
	struct answer serial[2] = {{m, 0.0f, {0}, 0, 0}, {m, 0.8f, {0}, 0, 0}};
	ask(&serial[0]);
	ask(&serial[1]);
	struct answer par[2 * N_THREADS];
	pthread_t th[2 * N_THREADS];
	for (int i = 0; i < 2 * N_THREADS; i++) {
		par[i] = (struct answer){m, i % 2 ? 0.8f : 0.0f, {0}, 0, 0};
		pthread_create(&th[i], NULL, ask, &par[i]);
	}
	int same = 0;
	for (int i = 0; i < 2 * N_THREADS; i++) {
		pthread_join(th[i], NULL);
		same += par[i].st == 0 && par[i].n == serial[i % 2].n &&
		        memcmp(par[i].ids, serial[i % 2].ids, sizeof(par[i].ids)) == 0;
	}
	fvl_model_free(m);
	T_ASSERT(serial[0].st == 0 && serial[0].n == 8 && serial[1].n == 8, "serial answers");
	t_note("%d sessions on %d threads over one model (greedy and sampled): %d of them answered "
	       "as "
	       "the serial runs did",
	       2 * N_THREADS, 2 * N_THREADS, same);
	T_ASSERT(same == 2 * N_THREADS, "only %d of %d threads matched", same, 2 * N_THREADS);
}

/* ---- Florence-2 tasks -------------------------------------------------------------------------- */

struct task_job {
	const struct fvl_model *m;
	const struct fvl_image *img;
	const char *task;
	struct fvl_task_result r;
	enum fvl_status st;
};

static void *run_task(void *arg)
{
	struct task_job *j = arg;
	struct fvl_task_params p;
	fvl_task_params_default(&p);
	p.task = j->task, p.max_new = 6, p.n_threads = 1;
	j->st = fvl_task_run(j->m, j->img->rgb, j->img->w, j->img->h, &p, &j->r);
	return NULL;
}

static void test_threads_tasks_at_once(void)
{
	static const char *const names[2] = {"ocr", "od"};
	struct fvl_image img;
	T_ASSERT(fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &img) == 0, "image");
	const char *path = golden_model("f32", "f32");
	/* a Florence-VL file: the task layer loads on first use, here by two threads at once */
	struct fvl_model *m = NULL;
	T_ASSERT(path && fvl_model_load(path, &m) == 0, "%s", fvl_last_error());
	struct task_job par[2 * N_THREADS];
	pthread_t th[2 * N_THREADS];
	for (int i = 0; i < 2 * N_THREADS; i++) {
		par[i] = (struct task_job){m, &img, names[i % 2], {0}, 0};
		pthread_create(&th[i], NULL, run_task, &par[i]);
	}
	for (int i = 0; i < 2 * N_THREADS; i++)
		pthread_join(th[i], NULL);
	struct task_job serial[2] = {{m, &img, names[0], {0}, 0}, {m, &img, names[1], {0}, 0}};
	run_task(&serial[0]);
	run_task(&serial[1]);
	int same = 0;
	for (int i = 0; i < 2 * N_THREADS; i++) {
		const struct fvl_task_result *a = &par[i].r, *b = &serial[i % 2].r;
		same += par[i].st == 0 && a->n_ids == b->n_ids &&
		        memcmp(a->ids, b->ids, a->n_ids * sizeof(*a->ids)) == 0 &&
		        strcmp(a->text, b->text) == 0;
		fvl_task_result_free(&par[i].r);
	}
	const bool ok = serial[0].st == 0 && serial[1].st == 0;
	fvl_task_result_free(&serial[0].r);
	fvl_task_result_free(&serial[1].r);
	fvl_model_free(m);
	fvl_image_free(&img);
	T_ASSERT(ok, "serial tasks: %s", fvl_last_error());
	t_note("%d fvl_task_run calls at once (OCR and OD, the task layer loading under them): %d "
	       "gave the serial ids and text",
	       2 * N_THREADS, same);
	T_ASSERT(same == 2 * N_THREADS, "only %d of %d matched", same, 2 * N_THREADS);
}

void suite_threads(void)
{
	T_RUN(test_threads_tokenizers_encode_alike);
	T_RUN(test_threads_sessions_share_one_model);
	T_RUN(test_threads_tasks_at_once);
}
