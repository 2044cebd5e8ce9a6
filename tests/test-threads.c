/* test-threads.c — what fvl.h promises about threads: one loaded model shared by sessions on
 * several threads (each with a pool of its own), Florence-2 tasks on several threads at once (the
 * task layer loading on first use under its lock), tokenizers encoding from several threads, and
 * the pool under them (every tile once, jobs that find the workers asleep, pools at once). Each
 * thread's results must equal a single-threaded run's; `make test-tsan` runs these under
 * ThreadSanitizer. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fvl.h"
#include "golden.h"
#include "gguf.h"
#include "image.h"
#include "pool.h"
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
	int threads; /* the session's pool */
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
	sp.n_threads = a->threads;
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
	struct answer serial[2] = {{m, 0.0f, 1, {0}, 0, 0}, {m, 0.8f, 1, {0}, 0, 0}};
	ask(&serial[0]);
	ask(&serial[1]);
	struct answer par[2 * N_THREADS];
	pthread_t th[2 * N_THREADS];
	for (int i = 0; i < 2 * N_THREADS; i++) {
		par[i] = (struct answer){m, i % 2 ? 0.8f : 0.0f, 2, {0}, 0, 0};
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
	t_note("%d sessions on %d threads over one model (greedy and sampled), each with a pool of "
	       "2: "
	       "%d of them answered as the serial runs on 1 thread did",
	       2 * N_THREADS, 2 * N_THREADS, same);
	T_ASSERT(same == 2 * N_THREADS, "only %d of %d threads matched", same, 2 * N_THREADS);
}

/* ---- Florence-2 tasks -------------------------------------------------------------------------- */

struct task_job {
	const struct fvl_model *m;
	const struct fvl_image *img;
	const char *task;
	int threads; /* the task's pool */
	struct fvl_task_result r;
	enum fvl_status st;
};

static void *run_task(void *arg)
{
	struct task_job *j = arg;
	struct fvl_task_params p;
	fvl_task_params_default(&p);
	p.task = j->task, p.max_new = 6, p.n_threads = (uint32_t)j->threads;
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
		par[i] = (struct task_job){m, &img, names[i % 2], 2, {0}, 0};
		pthread_create(&th[i], NULL, run_task, &par[i]);
	}
	for (int i = 0; i < 2 * N_THREADS; i++)
		pthread_join(th[i], NULL);
	struct task_job serial[2] = {{m, &img, names[0], 1, {0}, 0},
	                             {m, &img, names[1], 1, {0}, 0}};
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
	t_note("%d fvl_task_run calls at once on pools of 2 (OCR and OD, the task layer loading "
	       "under them): %d gave the 1-thread ids and text",
	       2 * N_THREADS, same);
	T_ASSERT(same == 2 * N_THREADS, "only %d of %d matched", same, 2 * N_THREADS);
}

/* ---- the pool ------------------------------------------------------------------------------- */

struct tiles {
	size_t n, tile;
	unsigned char *hits; /* (n) times each index was covered: plain writes, one owner each */
	_Atomic size_t calls, bad;
};

static void cover(void *ctx, size_t i0, size_t len)
{
	struct tiles *t = ctx;
	atomic_fetch_add(&t->calls, 1);
	if (i0 % t->tile || len == 0 || len > t->tile || i0 + len > t->n ||
	    (len < t->tile && i0 + len != t->n))
		atomic_fetch_add(&t->bad, 1);
	for (size_t i = i0; i < i0 + len && i < t->n; i++)
		t->hits[i]++;
}

/* One job of n in tiles on pool; false (with a failure recorded) unless every index was
 * covered once, by tiles of the promised shape, one call each. */
static bool one_job(struct fvl_pool *pool, size_t n, size_t tile)
{
	struct tiles t = {.n = n, .tile = tile ? tile : 1, .hits = calloc(n ? n : 1, 1)};
	if (!t.hits) {
		t_failf(__FILE__, __LINE__, "oom");
		return false;
	}
	fvl_pool_run(pool, n, tile, cover, &t);
	size_t once = 0;
	for (size_t i = 0; i < n; i++)
		once += t.hits[i] == 1;
	free(t.hits);
	const size_t want = (n + t.tile - 1) / t.tile;
	if (once == n && t.bad == 0 && t.calls == want)
		return true;
	t_failf(__FILE__, __LINE__,
	        "%zu threads, n %zu, tile %zu: %zu of %zu indices covered once, %zu calls (want "
	        "%zu), %zu malformed tiles",
	        fvl_pool_threads(pool), n, tile, once, n, (size_t)t.calls, want, (size_t)t.bad);
	return false;
}

static void test_threads_pool_runs_every_tile_once(void)
{
	static const size_t shapes[][2] = {{0, 4},   {1, 1},   {1, 16},   {5, 16},    {16, 16},
	                                   {17, 16}, {100, 1}, {1000, 7}, {4096, 64}, {3, 0}};
	size_t jobs = 0;
	for (size_t threads = 1; threads <= 8; threads++) {
		struct fvl_pool *pool;
		T_ASSERT(fvl_pool_init(threads, &pool) == FVL_STATUS_OK, "pool of %zu", threads);
		T_ASSERT(fvl_pool_threads(pool) == threads, "threads");
		for (int r = 0; r < 50; r++) /* back to back: the workers spinning */
			for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++, jobs++)
				if (!one_job(pool, shapes[c][0], shapes[c][1])) {
					fvl_pool_free(pool);
					return;
				}
		fvl_pool_free(pool);
	}
	t_note("%zu jobs on pools of 1 to 8 threads: every index covered once, by whole tiles",
	       jobs);
}

/* Jobs that find the workers asleep (after their 1 ms of spinning, or sent by fvl_pool_rest), and
 * the caller asleep while a worker is slow: a lost wake-up would hang here. */
static void slow_tile(void *ctx, size_t i0, size_t len)
{
	(void)len;
	if (i0 == 1) { /* one worker (or the caller) dawdles: the others' waits run out */
		const struct timespec ts = {0, 300000};
		nanosleep(&ts, NULL);
	}
	atomic_fetch_add((_Atomic size_t *)ctx, 1);
}

static void test_threads_pool_wakes_sleeping_threads(void)
{
	struct fvl_pool *pool;
	T_ASSERT(fvl_pool_init(3, &pool) == FVL_STATUS_OK, "pool");
	_Atomic size_t done = 0;
	const struct timespec nap = {0, 400000};
	for (int r = 0; r < 100; r++) {
		if (r % 4 == 1)
			nanosleep(&nap, NULL); /* longer than the spin: the workers sleep */
		else if (r % 4 == 3)
			fvl_pool_rest(pool); /* sent to sleep at once */
		fvl_pool_run(pool, 4, 1, slow_tile, &done);
		if (!one_job(pool, 64, 3))
			break;
	}
	fvl_pool_free(pool);
	/* a pool freed at once, before its workers ever waited */
	T_ASSERT(fvl_pool_init(4, &pool) == FVL_STATUS_OK, "pool");
	fvl_pool_free(pool);
	fvl_pool_free(NULL);
	T_ASSERT(done == 400, "%zu of 400 slow tiles ran", (size_t)done);
	t_note("100 jobs with a slow tile, half after the workers slept or were sent to sleep: all "
	       "tiles ran");
}

/* The thread count's controller, fed made-up jobs (tile CPU time over wall time, 60 ms each):
 * it keeps every thread on a quiet machine, gives up threads that only add waiting when another
 * program takes CPU, and takes them back when it leaves. */
static uint64_t feed(struct fvl_pool *p, double rate, uint64_t *now, int n)
{
	for (int i = 0; i < n; i++) {
		const uint64_t wall = 60000000u;
		*now += wall;
		fvl_pool_account(p, fvl_pool_next_threads(p), (uint64_t)(rate * (double)wall), wall,
		                 *now);
	}
	return fvl_pool_next_threads(p);
}

static void test_threads_pool_count_follows_the_load(void)
{
	struct fvl_pool *p;
	T_ASSERT(fvl_pool_init(4, &p) == FVL_STATUS_OK, "pool");
	uint64_t now = 1000000000u;
	size_t n = feed(p, 3.8, &now, 100); /* quiet for 6 s: 3.8 of 4 threads' work */
	T_ASSERT(n == 4 && fvl_pool_active(p) == 4, "quiet: %zu threads", n);
	/* another program takes a core: the 4 threads do 2.5 threads' work, 3 do 2.8 */
	for (int i = 0; i < 100 && fvl_pool_next_threads(p) == 4; i++)
		feed(p, 2.5, &now, 1);
	T_ASSERT(fvl_pool_next_threads(p) == 3, "a 3-thread window was not tried under load");
	feed(p, 2.8, &now, 1);
	T_ASSERT(fvl_pool_active(p) == 3, "3 threads doing more were not kept");
	for (int i = 0; i < 200; i++) /* 3 stays: 2 cannot do 2.8's work, 4 was slower */
		feed(p,
		     fvl_pool_next_threads(p) == 3   ? 2.8
		     : fvl_pool_next_threads(p) == 4 ? 2.5
		                                     : 1.9,
		     &now, 1);
	T_ASSERT(fvl_pool_active(p) == 3, "under load: %zu threads", fvl_pool_active(p));
	for (int i = 0; i < 100 && fvl_pool_active(p) == 3; i++) /* the program left */
		feed(p, fvl_pool_next_threads(p) == 3 ? 2.95 : 3.9, &now, 1);
	T_ASSERT(fvl_pool_active(p) == 4, "the 4th thread was not taken back");
	fvl_pool_free(p);
	t_note("4-thread pool: 4 kept quiet, 3 taken when 4 did 2.5 threads' work and 3 did 2.8, "
	       "4 back when they did 3.9");
}

/* Several pools at once, one per thread (as sessions have). */
static void *pool_user(void *arg)
{
	struct fvl_pool *pool;
	*(int *)arg = 0;
	if (fvl_pool_init(2, &pool) != FVL_STATUS_OK)
		return NULL;
	int ok = 1;
	for (int r = 0; r < 200 && ok; r++) {
		struct tiles t = {.n = 333, .tile = 10, .hits = calloc(333, 1)};
		if (!t.hits)
			break;
		fvl_pool_run(pool, t.n, t.tile, cover, &t);
		for (size_t i = 0; i < t.n; i++)
			ok &= t.hits[i] == 1;
		free(t.hits);
	}
	fvl_pool_free(pool);
	*(int *)arg = ok;
	return NULL;
}

static void test_threads_pools_at_once(void)
{
	pthread_t th[2 * N_THREADS];
	int ok[2 * N_THREADS];
	for (int i = 0; i < 2 * N_THREADS; i++)
		pthread_create(&th[i], NULL, pool_user, &ok[i]);
	int good = 0;
	for (int i = 0; i < 2 * N_THREADS; i++) {
		pthread_join(th[i], NULL);
		good += ok[i];
	}
	t_note("%d pools of 2 threads at once, 200 jobs each: %d covered every index once",
	       2 * N_THREADS, good);
	T_ASSERT(good == 2 * N_THREADS, "%d of %d", good, 2 * N_THREADS);
}

void suite_threads(void)
{
	T_RUN(test_threads_pool_runs_every_tile_once);
	T_RUN(test_threads_pool_wakes_sleeping_threads);
	T_RUN(test_threads_pool_count_follows_the_load);
	T_RUN(test_threads_pools_at_once);
	T_RUN(test_threads_tokenizers_encode_alike);
	T_RUN(test_threads_sessions_share_one_model);
	T_RUN(test_threads_tasks_at_once);
}
