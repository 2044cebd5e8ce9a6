/* serve.h — fvl serve: an OpenAI-compatible HTTP server over one model file.
 *
 *   serve.c           the HTTP side (libmicrohttpd): routes, auth, body limits, SSE, metrics
 *   serve-request.c   request bodies -> struct serve_req (JSON, base64 data URLs, local files)
 *   serve-reply.c     JSON replies: completions, stream chunks, errors, models, tasks
 *   serve-work.c      the sessions: a bounded queue, one worker thread per session, image cache
 */
#ifndef FVL_TOOLS_SERVE_H
#define FVL_TOOLS_SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fvl.h"

#define SERVE_MAX_STOP 4

/* A growing byte buffer, kept NUL-terminated. */
struct serve_buf {
	char *p;
	size_t n, cap;
};
/* Appends n bytes; false (the buffer unchanged) when memory runs out. */
bool serve_buf_put(struct serve_buf *b, const char *s, size_t n);

/* What a request may hold (the command line sets them). */
struct serve_limits {
	size_t max_body;       /* bytes of a request body */
	uint64_t max_pixels;   /* w x h of an image */
	int32_t max_tokens;    /* completion tokens at most (also the default) */
	const char *local_dir; /* --allow-local-files: real path of the folder, or NULL */
	const char *model_id;  /* the one model's name */
};

/* A request error: the HTTP status and OpenAI's error body fields. */
struct serve_error {
	int http;          /* 400, 401, 404, 413, 503, 500 */
	const char *type;  /* "invalid_request_error", "authentication_error", "server_error" */
	const char *code;  /* NULL, "model_not_found", "context_length_exceeded", ... */
	const char *param; /* the field at fault, or NULL */
	char message[256];
};

enum serve_kind { SERVE_CHAT, SERVE_TASK };

/* A parsed request: a chat completion (one question, at most one image) or a Florence-2 task. */
struct serve_req {
	enum serve_kind kind;
	char *question; /* chat: the user's text, parts joined by "\n" */
	uint8_t *image; /* the encoded image bytes (JPEG, PNG, PNM), or NULL */
	size_t n_image;
	uint64_t image_hash; /* FNV-1a of the encoded bytes (0: no image) */
	struct fvl_gen_params gen;
	bool stream, include_usage;
	char *stop[SERVE_MAX_STOP];
	size_t n_stop;
	/* task */
	char *task, *text;
	int32_t n_beams;
	int32_t max_new;
};

/* Parses a /v1/chat/completions body (n bytes, any content). false fills err. */
bool serve_parse_chat(const char *body, size_t n, const struct serve_limits *lim,
                      struct serve_req *out, struct serve_error *err);
/* Parses a /v1/florence2/tasks body: {"image": URL or {"url": URL}, "task", "text", "n_beams",
 * "max_new_tokens"}. */
bool serve_parse_task(const char *body, size_t n, const struct serve_limits *lim,
                      struct serve_req *out, struct serve_error *err);
void serve_req_free(struct serve_req *r);

/* Strict base64 (RFC 4648, padding required, no whitespace): malloc'd bytes, or NULL. */
uint8_t *serve_base64_decode(const char *s, size_t n, size_t *out_n);
/* fmt into err with the status and type. Returns false, for `return serve_fail(...)`. */
bool serve_fail(struct serve_error *err, int http, const char *code, const char *param,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Holds back the text that could still become a stop string: feed the generated text in pieces,
 * get what is safe to send; done once a stop string is complete (the text before it is sent). */
struct serve_stop {
	char *const *stop;
	size_t n_stop;
	struct serve_buf
	        held; /* not sent yet (the first `handed` were given out by the last call) */
	size_t handed;
	bool done;
};
/* Appends s (n bytes) and writes to *out / *out_n what may be sent now (pointers into held, valid
 * until the next call). false: out of memory. */
bool serve_stop_feed(struct serve_stop *st, const char *s, size_t n, const char **out,
                     size_t *out_n);
/* The rest at the end of the answer (nothing if a stop string matched). */
void serve_stop_flush(struct serve_stop *st, const char **out, size_t *out_n);
void serve_stop_free(struct serve_stop *st);

/* ---- replies (serve-reply.c): malloc'd JSON text ---- */
char *serve_error_json(const struct serve_error *err);
char *serve_models_json(const char *model_id, long created);
/* The stream's chunks ("data: {...}\n\n"): the first (role), a content piece, the last
 * (finish_reason), the usage chunk. */
char *serve_chunk_json(const char *id, long created, const char *model, const char *content,
                       size_t n, bool first, const char *finish);
char *serve_usage_chunk_json(const char *id, long created, const char *model, uint32_t n_prompt,
                             uint32_t n_completion);
char *serve_completion_json(const char *id, long created, const char *model, const char *text,
                            size_t n, const char *finish, uint32_t n_prompt, uint32_t n_completion);
/* The same members as fvl task --json, with the image size and timings. */
char *serve_task_json(const struct fvl_task_result *r, uint32_t w, uint32_t h);

/* ---- the sessions (serve-work.c) ---- */

/* Where a job's output goes while it runs: the stream's text as SSE bytes, or the whole answer. */
struct serve_job {
	struct serve_req req;
	struct fvl_image img; /* decoded by the HTTP side (validated before queueing) */
	int client_fd;        /* polled between layers and tokens: a peer that closed cancels */
	char id[40];
	long created;
	/* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct serve_buf out; /* SSE bytes from `sent` on not sent yet, or the whole reply body */
	size_t sent;
	bool started; /* the prompt fits and the image is set: a stream's headers may go */
	bool finished, cancelled, oom;
	int http; /* the reply's status once finished (499: the client left) */
	int refs; /* the HTTP side and the worker */
};

/* Replies counted by status: serve_metric_codes[i] (0 in the last slot: any other). */
#define SERVE_N_CODES 11
extern const int serve_metric_codes[SERVE_N_CODES];
struct serve_metrics {
	uint64_t requests[SERVE_N_CODES];
	uint64_t prompt_tokens, completion_tokens, images, image_cache_hits;
	double vision_ms;
	uint64_t cancelled;
};

struct serve_pool;
struct serve_pool_params {
	const struct fvl_model *model;
	uint32_t n_sessions, n_threads, max_queue, n_ctx;
	const char *model_id;
};
enum fvl_status serve_pool_start(const struct serve_pool_params *p, struct serve_pool **out);
/* Queues the job (taking a reference); false when the queue is full (503). */
bool serve_pool_submit(struct serve_pool *pool, struct serve_job *job);
/* Stops taking jobs, cancels the running ones and fails the queued ones with 503; the pool still
 * answers serve_pool_count / _metrics until serve_pool_free. */
void serve_pool_stop(struct serve_pool *pool);
void serve_pool_free(struct serve_pool *pool);
/* Queue depth and busy sessions now; the counters so far. */
void serve_pool_metrics(struct serve_pool *pool, uint32_t *queued, uint32_t *busy,
                        struct serve_metrics *m);
void serve_pool_count(struct serve_pool *pool, int http);
bool serve_pool_has_llm(const struct serve_pool *pool);
uint32_t serve_pool_size(const struct serve_pool *pool);

struct serve_job *serve_job_new(void);
/* Drops a reference; the last one frees the job. */
void serve_job_put(struct serve_job *job);
/* Appends to the job's output and wakes its reader (under mu). */
bool serve_job_append(struct serve_job *job, const char *s, size_t n);

int cmd_serve(int argc, char **argv);
extern const char serve_help[];

#endif
