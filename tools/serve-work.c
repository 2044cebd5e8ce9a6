/* serve-work.c — fvl serve's sessions: one worker thread per session over the shared model, fed
 * from a bounded queue. A job about the image a session already holds goes to that session when it
 * is free, so a follow-up question reuses the visual embeddings and the KV prefix. */
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve.h"

struct worker {
	struct serve_pool *pool;
	pthread_t th;
	struct fvl_session *s;
	uint64_t image_hash;        /* of the image the session holds (0: none) */
	struct serve_job *assigned; /* handed over directly: the same image */
	struct serve_job *job;      /* running */
};

struct serve_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct worker *w;
	uint32_t n_w, n_started;
	struct serve_job **q; /* waiting, oldest first */
	uint32_t n_q, max_queue;
	atomic_bool stopping; /* written under mu, read by the sessions' abort checks */
	bool has_llm;
	struct serve_metrics m;
	char model_id[256];
};

/* ---- jobs -------------------------------------------------------------------------------------- */

struct serve_job *serve_job_new(void)
{
	struct serve_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->client_fd = -1;
	j->refs = 1;
	return j;
}

void serve_job_put(struct serve_job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	const bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	serve_req_free(&j->req);
	fvl_image_free(&j->img);
	free(j->out.p);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* under j->mu */
static bool append_locked(struct serve_job *j, const char *s, size_t n)
{
	if (j->sent == j->out.n) /* the reader has everything: start over */
		j->sent = j->out.n = 0;
	if (!serve_buf_put(&j->out, s, n)) {
		j->oom = true;
		return false;
	}
	pthread_cond_broadcast(&j->cv);
	return true;
}

bool serve_job_append(struct serve_job *j, const char *s, size_t n)
{
	pthread_mutex_lock(&j->mu);
	const bool ok = append_locked(j, s, n);
	pthread_mutex_unlock(&j->mu);
	return ok;
}

/* Appends a malloc'd text and frees it; false if it is NULL (out of memory). */
static bool append_owned(struct serve_job *j, char *s)
{
	const bool ok = s && serve_job_append(j, s, strlen(s));
	free(s);
	return ok;
}

/* The job's end: status http and (unless streaming) body; wakes the HTTP side. */
static void finish(struct serve_job *j, int http, char *body)
{
	pthread_mutex_lock(&j->mu);
	if (body) {
		j->sent = j->out.n = 0;
		append_locked(j, body, strlen(body));
	}
	j->http = body || !j->oom ? http : 500;
	j->started = j->finished = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	free(body);
}

static void fail(struct serve_job *j, int http, const char *code, const char *fmt, const char *arg)
{
	struct serve_error err;
	serve_fail(&err, http, code, NULL, fmt, arg);
	finish(j, http, serve_error_json(&err));
}

/* A job stopped before its answer: the client left (499, nobody to tell), or the server is
 * stopping (503). */
static void cancelled(struct serve_pool *pool, struct serve_job *j)
{
	if (pool->stopping)
		fail(j, 503, "shutting_down", "%s", "the server is shutting down");
	else
		finish(j, 499, NULL);
}

/* The prompt was accepted: a stream's headers may go out now. */
static void set_started(struct serve_job *j)
{
	pthread_mutex_lock(&j->mu);
	j->started = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* True once the client went away: the HTTP side said so, or its socket reads end-of-file. */
static bool job_abandoned(struct serve_job *j)
{
	pthread_mutex_lock(&j->mu);
	bool gone = j->cancelled;
	if (!gone && j->client_fd >= 0) {
		struct pollfd p = {.fd = j->client_fd, .events = POLLIN | POLLRDHUP};
		char c;
		if (poll(&p, 1, 0) > 0)
			gone = (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) ||
			       recv(j->client_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
		j->cancelled = gone;
	}
	pthread_mutex_unlock(&j->mu);
	return gone;
}

/* ---- running a job ----------------------------------------------------------------------------- */

struct run {
	struct worker *w;
	struct serve_job *j;
	struct serve_stop stop;
	struct serve_buf text; /* non-stream: the answer so far */
	bool oom;
};

static bool abort_cb(void *user)
{
	struct worker *w = user;
	return w->job && (w->pool->stopping || job_abandoned(w->job));
}

static bool emit(struct run *r, const char *s, size_t n)
{
	if (n == 0)
		return true;
	if (r->j->req.stream)
		return append_owned(r->j,
		                    serve_chunk_json(r->j->id, r->j->created, r->w->pool->model_id,
		                                     s, n, false, NULL));
	return serve_buf_put(&r->text, s, n);
}

static bool on_token(void *user, int32_t id, const char *text, size_t len)
{
	struct run *r = user;
	const char *out;
	size_t n;
	(void)id;
	if (!serve_stop_feed(&r->stop, text, len, &out, &n) || !emit(r, out, n)) {
		r->oom = true;
		return false;
	}
	return !r->stop.done && !job_abandoned(r->j);
}

/* The session holds the job's image (or none): set it unless it is already there. */
static enum fvl_status ensure_image(struct worker *w, struct serve_job *j)
{
	struct serve_pool *pool = w->pool;
	if (!j->req.image) {
		if (w->image_hash)
			fvl_session_reset(w->s);
		w->image_hash = 0;
		return FVL_STATUS_OK;
	}
	if (w->image_hash == j->req.image_hash) {
		pthread_mutex_lock(&pool->mu);
		pool->m.image_cache_hits++;
		pthread_mutex_unlock(&pool->mu);
		return FVL_STATUS_OK;
	}
	w->image_hash = 0;
	enum fvl_status st = fvl_session_set_image_rgb(w->s, j->img.rgb, j->img.w, j->img.h);
	if (st == FVL_STATUS_OK) {
		struct fvl_stats stats;
		fvl_session_stats(w->s, &stats);
		w->image_hash = j->req.image_hash;
		pthread_mutex_lock(&pool->mu);
		pool->m.images++;
		pool->m.vision_ms += stats.ms_preprocess + stats.ms_vision;
		pthread_mutex_unlock(&pool->mu);
	}
	return st;
}

static const char *finish_reason(enum fvl_finish f, bool stopped)
{
	return stopped || f == FVL_FINISH_STOP ? "stop" : "length";
}

static void run_chat(struct worker *w, struct serve_job *j)
{
	struct serve_pool *pool = w->pool;
	struct run r = {.w = w, .j = j, .stop = {.stop = j->req.stop, .n_stop = j->req.n_stop}};
	uint32_t n_prompt = 0, n_ctx = 0;
	enum fvl_status st = fvl_session_measure(w->s, j->req.question, j->req.image != NULL,
	                                         &j->req.gen, &n_prompt, &n_ctx);
	if (st != FVL_STATUS_OK) {
		fail(j, 400, "invalid_prompt", "%s", fvl_last_error());
		return;
	}
	if (n_prompt >= n_ctx) {
		struct serve_error err;
		serve_fail(
		        &err, 400, "context_length_exceeded", "messages",
		        "the prompt takes %u of the context's %u positions (the image's included): "
		        "nothing is left to answer in",
		        n_prompt, n_ctx);
		finish(j, 400, serve_error_json(&err));
		return;
	}
	if ((st = ensure_image(w, j)) != FVL_STATUS_OK) {
		if (st == FVL_STATUS_CANCELLED)
			cancelled(pool, j);
		else
			fail(j, 500, "vision_failed", "%s", fvl_last_error());
		return;
	}
	set_started(j);
	if (j->req.stream && !append_owned(j, serve_chunk_json(j->id, j->created, pool->model_id,
	                                                       NULL, 0, true, NULL)))
		r.oom = true;
	st = fvl_session_ask(w->s, j->req.question, &j->req.gen, on_token, &r);
	struct fvl_stats stats;
	fvl_session_stats(w->s, &stats);
	const char *rest;
	size_t n_rest;
	serve_stop_flush(&r.stop, &rest, &n_rest);
	if (!emit(&r, rest, n_rest))
		r.oom = true;
	pthread_mutex_lock(&pool->mu);
	pool->m.prompt_tokens += stats.n_prompt;
	pool->m.completion_tokens += stats.n_generated;
	pthread_mutex_unlock(&pool->mu);
	const bool ok = st == FVL_STATUS_OK || (st == FVL_STATUS_CANCELLED && r.stop.done);
	const char *why = finish_reason(stats.finish, r.stop.done);
	const char *trouble = r.oom            ? "out of memory"
	                      : pool->stopping ? "the server is shutting down"
	                                       : fvl_last_error();
	if (!ok && st == FVL_STATUS_CANCELLED && !pool->stopping) {
		finish(j, 499, NULL); /* the client left: nobody to answer */
	} else if (j->req.stream) {
		if (!ok || r.oom) { /* the headers went out: the error is the stream's last event */
			struct serve_error err;
			serve_fail(&err, pool->stopping ? 503 : 500, "generation_failed", NULL,
			           "%s", trouble);
			char *e = serve_error_json(&err);
			char *line = e ? malloc(strlen(e) + 9) : NULL;
			if (line)
				sprintf(line, "data: %s\n\n", e);
			free(e);
			append_owned(j, line);
		} else {
			append_owned(j, serve_chunk_json(j->id, j->created, pool->model_id, NULL, 0,
			                                 false, why));
			if (j->req.include_usage)
				append_owned(j, serve_usage_chunk_json(
				                        j->id, j->created, pool->model_id,
				                        stats.n_prompt, stats.n_generated));
		}
		serve_job_append(j, "data: [DONE]\n\n", 14);
		finish(j, 200, NULL);
	} else if (!ok || r.oom) {
		fail(j, pool->stopping ? 503 : 500, "generation_failed", "%s", trouble);
	} else {
		finish(j, 200,
		       serve_completion_json(j->id, j->created, pool->model_id, r.text.p, r.text.n,
		                             why, stats.n_prompt, stats.n_generated));
	}
	free(r.text.p);
	serve_stop_free(&r.stop);
}

static void run_task(struct worker *w, struct serve_job *j)
{
	struct fvl_task_params tp;
	struct fvl_task_result res;
	fvl_task_params_default(&tp);
	tp.task = j->req.task;
	tp.text = j->req.text;
	tp.n_beams = j->req.n_beams;
	tp.max_new = j->req.max_new;
	enum fvl_status st = ensure_image(w, j);
	if (st == FVL_STATUS_OK) {
		set_started(j);
		st = fvl_session_run_task(w->s, &tp, &res);
	}
	if (st == FVL_STATUS_CANCELLED) {
		cancelled(w->pool, j);
	} else if (st != FVL_STATUS_OK) {
		const bool theirs =
		        st == FVL_STATUS_UNSUPPORTED || st == FVL_STATUS_INVALID_ARGUMENT;
		fail(j, theirs ? 400 : 500, "task_failed", "%s", fvl_last_error());
	} else {
		finish(j, 200, serve_task_json(&res, j->img.w, j->img.h));
		fvl_task_result_free(&res);
	}
}

/* ---- the workers ------------------------------------------------------------------------------- */

/* The next job for w (under pool->mu): one handed to it, else the oldest about its image, else the
 * oldest. NULL if none. */
static struct serve_job *take(struct worker *w)
{
	struct serve_pool *pool = w->pool;
	struct serve_job *j = w->assigned;
	if (j) {
		w->assigned = NULL;
		return j;
	}
	if (pool->n_q == 0)
		return NULL;
	uint32_t at = 0;
	for (uint32_t i = 0; i < pool->n_q; i++)
		if (w->image_hash && pool->q[i]->req.image_hash == w->image_hash) {
			at = i;
			break;
		}
	j = pool->q[at];
	memmove(pool->q + at, pool->q + at + 1, (pool->n_q - at - 1) * sizeof(*pool->q));
	pool->n_q--;
	return j;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct serve_pool *pool = w->pool;
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		struct serve_job *j =
		        NULL; /* when stopping, what is queued still ends (with 503) */
		while (!(j = take(w)) && !pool->stopping)
			pthread_cond_wait(&pool->cv, &pool->mu);
		if (!j)
			break;
		w->job = j;
		pthread_mutex_unlock(&pool->mu);
		if (job_abandoned(j))
			cancelled(pool, j);
		else if (j->req.kind == SERVE_CHAT)
			run_chat(w, j);
		else
			run_task(w, j);
		pthread_mutex_lock(&pool->mu);
		if (j->http == 499)
			pool->m.cancelled++;
		w->job = NULL;
		pthread_mutex_unlock(&pool->mu);
		serve_job_put(j);
		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

enum fvl_status serve_pool_start(const struct serve_pool_params *p, struct serve_pool **out)
{
	struct serve_pool *pool = calloc(1, sizeof(*pool));
	*out = NULL;
	if (!pool)
		return FVL_STATUS_OUT_OF_MEMORY;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	snprintf(pool->model_id, sizeof(pool->model_id), "%s", p->model_id);
	pool->max_queue = p->max_queue;
	pool->w = calloc(p->n_sessions, sizeof(*pool->w));
	pool->q = calloc((size_t)p->max_queue + p->n_sessions, sizeof(*pool->q));
	const char *arch = fvl_model_arch(p->model);
	pool->has_llm = !strcmp(arch, "florence-vl");
	enum fvl_status st = pool->w && pool->q ? FVL_STATUS_OK : FVL_STATUS_OUT_OF_MEMORY;
	for (uint32_t i = 0; st == FVL_STATUS_OK && i < p->n_sessions; i++) {
		struct worker *w = &pool->w[i];
		struct fvl_session_params sp;
		fvl_session_params_default(&sp);
		sp.n_threads = p->n_threads;
		sp.n_ctx = p->n_ctx;
		sp.abort_cb = abort_cb;
		sp.cb_user = w;
		w->pool = pool;
		if ((st = fvl_session_init(p->model, &sp, &w->s)) != FVL_STATUS_OK)
			break;
		pool->n_w++;
		if (pthread_create(&w->th, NULL, worker_main, w)) {
			st = FVL_STATUS_OUT_OF_MEMORY;
			break;
		}
		pool->n_started++;
	}
	if (st != FVL_STATUS_OK) {
		serve_pool_free(pool);
		return st;
	}
	*out = pool;
	return FVL_STATUS_OK;
}

bool serve_pool_submit(struct serve_pool *pool, struct serve_job *j)
{
	pthread_mutex_lock(&pool->mu);
	uint32_t idle = 0;
	struct worker *same = NULL;
	for (uint32_t i = 0; i < pool->n_w; i++) {
		struct worker *w = &pool->w[i];
		if (!w->job && !w->assigned) {
			idle++;
			if (j->req.image_hash && w->image_hash == j->req.image_hash)
				same = w;
		}
	}
	bool ok = !pool->stopping;
	if (ok && same)
		same->assigned = j;
	else if (ok && pool->n_q < pool->max_queue + idle)
		pool->q[pool->n_q++] = j;
	else
		ok = false;
	if (ok) {
		pthread_mutex_lock(&j->mu);
		j->refs++;
		pthread_mutex_unlock(&j->mu);
		pthread_cond_broadcast(&pool->cv);
	}
	pthread_mutex_unlock(&pool->mu);
	return ok;
}

void serve_pool_stop(struct serve_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	for (uint32_t i = 0; i < pool->n_started; i++)
		pthread_join(pool->w[i].th, NULL);
	/* what never ran: its requests get 503 */
	for (uint32_t i = 0; i < pool->n_w; i++)
		if (pool->w[i].assigned) {
			pool->q[pool->n_q++] = pool->w[i].assigned;
			pool->w[i].assigned = NULL;
		}
	for (uint32_t i = 0; i < pool->n_q; i++) {
		fail(pool->q[i], 503, "shutting_down", "%s", "the server is shutting down");
		serve_job_put(pool->q[i]);
	}
	pool->n_q = 0;
	pool->n_started = 0;
}

void serve_pool_free(struct serve_pool *pool)
{
	if (!pool)
		return;
	serve_pool_stop(pool);
	for (uint32_t i = 0; i < pool->n_w; i++)
		fvl_session_free(pool->w[i].s);
	free(pool->w);
	free(pool->q);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
}

const int serve_metric_codes[SERVE_N_CODES] = {200, 400, 401, 403, 404, 405, 413, 499, 500, 503, 0};

static int code_slot(int http)
{
	for (int i = 0; i < SERVE_N_CODES - 1; i++)
		if (serve_metric_codes[i] == http)
			return i;
	return -1;
}

void serve_pool_count(struct serve_pool *pool, int http)
{
	const int k = code_slot(http);
	pthread_mutex_lock(&pool->mu);
	pool->m.requests[k < 0 ? SERVE_N_CODES - 1 : k]++;
	pthread_mutex_unlock(&pool->mu);
}

void serve_pool_metrics(struct serve_pool *pool, uint32_t *queued, uint32_t *busy,
                        struct serve_metrics *m)
{
	pthread_mutex_lock(&pool->mu);
	*queued = pool->n_q;
	*busy = 0;
	for (uint32_t i = 0; i < pool->n_w; i++)
		*busy += pool->w[i].job != NULL || pool->w[i].assigned != NULL;
	*m = pool->m;
	pthread_mutex_unlock(&pool->mu);
}

uint32_t serve_pool_size(const struct serve_pool *pool)
{
	return pool->n_w;
}

bool serve_pool_has_llm(const struct serve_pool *pool)
{
	return pool->has_llm;
}
