/* serve.c — fvl serve: HTTP/1.1 through libmicrohttpd (GNU; in Debian; used by
 * systemd-journal-remote; a thread per connection, so a request may block on its session while
 * the others, /health and /metrics among them, are answered). Routes:
 *
 *   POST /v1/chat/completions   OpenAI chat completions (stream: SSE), one image per request
 *   POST /v1/florence2/tasks    a Florence-2 task: the JSON of fvl task --json
 *   GET  /v1/models, /health, /metrics (Prometheus text)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

const char serve_help[] =
        "usage: fvl serve -m MODEL.gguf [--host 127.0.0.1] [--port 8080] [--parallel N] "
        "[options]\n"
        "\n"
        "Serves the model over HTTP with the OpenAI protocol: POST /v1/chat/completions (one "
        "user\n"
        "message with text and at most one image_url part, data:image/...;base64; stream with "
        "SSE),\n"
        "POST /v1/florence2/tasks ({\"image\", \"task\", \"text\"}: what fvl task --json prints), "
        "GET\n"
        "/v1/models, /health and /metrics (Prometheus). A question about the image a session "
        "already\n"
        "holds reuses its visual embeddings and KV prefix. Omitted sampling fields take fvl's "
        "defaults\n"
        "(temperature 0: greedy). SIGINT or SIGTERM stops the server (queued requests get 503).\n"
        "\n"
        "  -m, --model FILE       a Florence-VL or Florence-2 model file\n"
        "  --host ADDR            the address to listen on (default 127.0.0.1; IPv4 or IPv6)\n"
        "  --port N               the port (default 8080; 0: any free port, printed)\n"
        "  --parallel N           sessions answering at once (default 1)\n"
        "  --queue N              requests waiting beyond them before 503 (default 16)\n"
        "  -t, --threads N        threads per session (default: the CPUs / N sessions)\n"
        "  -c, --ctx N            context size per session (default: the model's)\n"
        "  --max-tokens N         completion tokens at most, and the default (default 512)\n"
        "  --max-body BYTES       request bodies larger than this get 413 (default 33554432)\n"
        "  --max-image-pixels N   images larger than this are refused (default 16000000)\n"
        "  --api-key KEY          require Authorization: Bearer KEY (except /health); the\n"
        "                         environment's FVL_API_KEY is read when this is not given\n"
        "  --allow-local-files DIR\n"
        "                         accept image URLs that are paths (or file://) inside DIR\n"
        "  --alias NAME           the model's name in /v1/models (default: the file's name)\n"
        "  --cors ORIGIN          send Access-Control-Allow-Origin: ORIGIN (default: no CORS)\n"
        "  --exif-transpose       turn images upright by their EXIF orientation (PIL's\n"
        "                         exif_transpose; default: the pixels as stored, as the "
        "reference)\n"
        "  -v, --verbose          log what the library does; -vv: more\n";

struct server {
	struct serve_pool *pool;
	struct serve_limits lim;
	const char *api_key, *cors;
	uint32_t image_flags; /* --exif-transpose */
	char model_id[256];
	long started;
	uint64_t next_id;
	pthread_mutex_t id_mu;
};

/* Per request (MHD's con_cls): the body as it arrives. */
struct request {
	struct serve_buf body;
	size_t discarded;
	bool too_big;  /* past --max-body: the rest is read and dropped */
	bool answered; /* a reply is queued already */
};

/* ---- replies ----------------------------------------------------------------------------------- */

static enum MHD_Result
reply(struct server *sv, struct MHD_Connection *c, int http, const char *type, char *body)
{
	if (!body) {
		http = 500;
		type = "application/json";
		body = strdup(
		        "{\"error\": {\"message\": \"out of memory\", \"type\": \"server_error\", "
		        "\"param\": null, \"code\": null}}");
		if (!body)
			return MHD_NO;
	}
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	if (sv->cors)
		MHD_add_response_header(r, "Access-Control-Allow-Origin", sv->cors);
	if (http == 503)
		MHD_add_response_header(r, "Retry-After", "1");
	if (http == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	serve_pool_count(sv->pool, http);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)http, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_error(struct server *sv, struct MHD_Connection *c, const struct serve_error *err)
{
	return reply(sv, c, err->http, "application/json", serve_error_json(err));
}

/* ---- authentication ---------------------------------------------------------------------------- */

/* Compares in time that depends only on the lengths. */
static bool same_secret(const char *a, const char *b)
{
	const size_t na = strlen(a), nb = strlen(b);
	unsigned diff = na != nb;
	for (size_t i = 0; i < nb; i++)
		diff |= (unsigned)(unsigned char)b[i] ^ (unsigned char)(i < na ? a[i] : 0);
	return diff == 0;
}

static bool authorized(const struct server *sv, struct MHD_Connection *c)
{
	if (!sv->api_key)
		return true;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	return h && !strncmp(h, "Bearer ", 7) && same_secret(h + 7, sv->api_key);
}

/* ---- chat and tasks ---------------------------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct serve_job *j = cls;
	(void)pos;
	pthread_mutex_lock(&j->mu);
	while (j->sent == j->out.n && !j->finished && !j->cancelled)
		pthread_cond_wait(&j->cv, &j->mu);
	ssize_t n = MHD_CONTENT_READER_END_OF_STREAM;
	if (j->sent < j->out.n) {
		const size_t k = j->out.n - j->sent < max ? j->out.n - j->sent : max;
		memcpy(buf, j->out.p + j->sent, k);
		j->sent += k;
		n = (ssize_t)k;
	} else if (j->cancelled && !j->finished) {
		n = MHD_CONTENT_READER_END_WITH_ERROR;
	}
	pthread_mutex_unlock(&j->mu);
	return n;
}

/* The stream's response is gone (sent, or the client left): the worker stops at its next check. */
static void stream_free(void *cls)
{
	struct serve_job *j = cls;
	pthread_mutex_lock(&j->mu);
	j->cancelled = j->cancelled || !j->finished;
	j->client_fd = -1;
	pthread_mutex_unlock(&j->mu);
	serve_job_put(j);
}

/* Waits until the job started (or finished, when until_done). */
static void wait_job(struct serve_job *j, bool until_done)
{
	pthread_mutex_lock(&j->mu);
	while (!(until_done ? j->finished : j->started))
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
}

static enum MHD_Result run_job(struct server *sv, struct MHD_Connection *c, struct serve_req *req)
{
	struct serve_error err;
	struct serve_job *j = serve_job_new();
	if (!j) {
		serve_req_free(req);
		return reply(sv, c, 500, "application/json", NULL);
	}
	j->req = *req;
	memset(req, 0, sizeof(*req));
	if (j->req.image && fvl_image_decode_ex(j->req.image, j->req.n_image, sv->lim.max_pixels,
	                                        sv->image_flags, &j->img)) {
		serve_fail(&err, 400, "invalid_image", "image_url", "the image cannot be used: %s",
		           fvl_last_error());
		serve_job_put(j);
		return reply_error(sv, c, &err);
	}
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	j->client_fd = ci ? ci->connect_fd : -1;
	j->created = (long)time(NULL);
	pthread_mutex_lock(&sv->id_mu);
	snprintf(j->id, sizeof(j->id), "%s-%08lx%012llx",
	         j->req.kind == SERVE_CHAT ? "chatcmpl" : "task", (unsigned long)sv->started,
	         (unsigned long long)++sv->next_id);
	pthread_mutex_unlock(&sv->id_mu);
	if (!serve_pool_submit(sv->pool, j)) {
		serve_fail(&err, 503, "server_busy", NULL,
		           "every session is busy and the queue is full: retry later");
		serve_job_put(j);
		return reply_error(sv, c, &err);
	}
	const bool stream = j->req.kind == SERVE_CHAT && j->req.stream;
	wait_job(j, !stream);
	pthread_mutex_lock(&j->mu);
	const bool failed = j->finished && j->http != 200;
	pthread_mutex_unlock(&j->mu);
	if (!stream || failed) {
		enum MHD_Result ret;
		if (j->http == 499) { /* the client left: nobody to answer */
			serve_pool_count(sv->pool, 499);
			ret = MHD_NO;
		} else {
			ret = reply(sv, c, j->http, "application/json",
			            strndup(j->out.p ? j->out.p : "", j->out.n));
		}
		serve_job_put(j);
		return ret;
	}
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
	                                                           stream_read, j, stream_free);
	if (!r) {
		pthread_mutex_lock(&j->mu);
		j->cancelled = true;
		pthread_mutex_unlock(&j->mu);
		serve_job_put(j);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (sv->cors)
		MHD_add_response_header(r, "Access-Control-Allow-Origin", sv->cors);
	serve_pool_count(sv->pool, 200);
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result chat(struct server *sv, struct MHD_Connection *c, const struct request *rq)
{
	struct serve_req req;
	struct serve_error err;
	if (!serve_pool_has_llm(sv->pool)) {
		serve_fail(&err, 400, "no_llm", NULL,
		           "this model is Florence-2 (no LLM): use POST /v1/florence2/tasks");
		return reply_error(sv, c, &err);
	}
	if (!serve_parse_chat(rq->body.p, rq->body.n, &sv->lim, &req, &err))
		return reply_error(sv, c, &err);
	return run_job(sv, c, &req);
}

static enum MHD_Result task(struct server *sv, struct MHD_Connection *c, const struct request *rq)
{
	struct serve_req req;
	struct serve_error err;
	if (!serve_parse_task(rq->body.p, rq->body.n, &sv->lim, &req, &err))
		return reply_error(sv, c, &err);
	return run_job(sv, c, &req);
}

/* ---- /metrics ---------------------------------------------------------------------------------- */

static char *metrics_text(struct server *sv)
{
	uint32_t queued, busy;
	struct serve_metrics m;
	serve_pool_metrics(sv->pool, &queued, &busy, &m);
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	if (!f)
		return NULL;
	fputs("# HELP fvl_requests_total Requests answered, by HTTP status (499: the client "
	      "left).\n"
	      "# TYPE fvl_requests_total counter\n",
	      f);
	for (int i = 0; i < SERVE_N_CODES; i++)
		if (serve_metric_codes[i])
			fprintf(f, "fvl_requests_total{code=\"%d\"} %llu\n", serve_metric_codes[i],
			        (unsigned long long)m.requests[i]);
		else
			fprintf(f, "fvl_requests_total{code=\"other\"} %llu\n",
			        (unsigned long long)m.requests[i]);
	fprintf(f,
	        "# HELP fvl_prompt_tokens_total Prompt positions evaluated or reused (images "
	        "included).\n# TYPE fvl_prompt_tokens_total counter\nfvl_prompt_tokens_total %llu\n"
	        "# HELP fvl_completion_tokens_total Tokens generated.\n"
	        "# TYPE fvl_completion_tokens_total counter\nfvl_completion_tokens_total %llu\n"
	        "# HELP fvl_images_total Images run through the vision side.\n"
	        "# TYPE fvl_images_total counter\nfvl_images_total %llu\n"
	        "# HELP fvl_image_cache_hits_total Requests about the image their session held.\n"
	        "# TYPE fvl_image_cache_hits_total counter\nfvl_image_cache_hits_total %llu\n"
	        "# HELP fvl_vision_ms_total Milliseconds spent in preprocessing and the vision "
	        "side.\n"
	        "# TYPE fvl_vision_ms_total counter\nfvl_vision_ms_total %.1f\n"
	        "# HELP fvl_cancelled_total Requests whose client left before the answer.\n"
	        "# TYPE fvl_cancelled_total counter\nfvl_cancelled_total %llu\n"
	        "# HELP fvl_queue_depth Requests waiting for a session.\n"
	        "# TYPE fvl_queue_depth gauge\nfvl_queue_depth %u\n"
	        "# HELP fvl_sessions_busy Sessions answering now.\n"
	        "# TYPE fvl_sessions_busy gauge\nfvl_sessions_busy %u\n"
	        "# HELP fvl_sessions Sessions.\n# TYPE fvl_sessions gauge\nfvl_sessions %u\n",
	        (unsigned long long)m.prompt_tokens, (unsigned long long)m.completion_tokens,
	        (unsigned long long)m.images, (unsigned long long)m.image_cache_hits, m.vision_ms,
	        (unsigned long long)m.cancelled, queued, busy, serve_pool_size(sv->pool));
	if (fclose(f)) {
		free(p);
		return NULL;
	}
	return p;
}

/* ---- routing ----------------------------------------------------------------------------------- */

static enum MHD_Result route(struct server *sv, struct MHD_Connection *c, const char *url,
                             const char *method, const struct request *rq)
{
	struct serve_error err;
	const bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	const bool post = !strcmp(method, "POST");
	if (!strcmp(method, "OPTIONS") && sv->cors) {
		struct MHD_Response *r =
		        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Access-Control-Allow-Origin", sv->cors);
		MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
		                        "Authorization, Content-Type");
		enum MHD_Result ret = MHD_queue_response(c, 204, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/health") && get)
		return reply(sv, c, 200, "application/json", strdup("{\"status\": \"ok\"}"));
	static const char *const known[] = {"/health", "/metrics", "/v1/models",
	                                    "/v1/chat/completions", "/v1/florence2/tasks"};
	bool is_known = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		is_known = is_known || !strcmp(url, known[i]);
	if (!is_known) {
		serve_fail(&err, 404, "not_found", NULL, "no such route: %.64s", url);
		return reply_error(sv, c, &err);
	}
	if (!authorized(sv, c)) {
		serve_fail(&err, 401, "invalid_api_key", NULL,
		           "this server needs Authorization: Bearer <its API key>");
		return reply_error(sv, c, &err);
	}
	if (get && !strcmp(url, "/metrics"))
		return reply(sv, c, 200, "text/plain; version=0.0.4", metrics_text(sv));
	if (get && !strcmp(url, "/v1/models"))
		return reply(sv, c, 200, "application/json",
		             serve_models_json(sv->model_id, sv->started));
	if (post && !strcmp(url, "/v1/chat/completions"))
		return chat(sv, c, rq);
	if (post && !strcmp(url, "/v1/florence2/tasks"))
		return task(sv, c, rq);
	serve_fail(&err, 405, "method_not_allowed", NULL, "%.8s is not allowed on %.64s", method,
	           url);
	return reply_error(sv, c, &err);
}

static enum MHD_Result too_large(struct server *sv, struct MHD_Connection *c, struct request *rq)
{
	struct serve_error err;
	serve_fail(&err, 413, "body_too_large", NULL,
	           "the request body is larger than this server's limit of %zu bytes (--max-body)",
	           sv->lim.max_body);
	rq->answered = true;
	return reply_error(sv, c, &err);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *n_data, void **con_cls)
{
	struct server *sv = cls;
	struct request *rq = *con_cls;
	(void)version;
	if (!rq) { /* the headers: a declared body that is too large is refused before it is read */
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		*con_cls = rq;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		const long long v = cl ? strtoll(cl, NULL, 10) : 0;
		if (v < 0 || (unsigned long long)v > sv->lim.max_body)
			return too_large(sv, c, rq);
		return MHD_YES;
	}
	if (*n_data) {
		const size_t n = *n_data;
		*n_data = 0;
		if (rq->answered)
			return MHD_YES;
		if (rq->too_big || rq->body.n + n > sv->lim.max_body) {
			/* a chunked body past the limit: read to its end, then 413 (a client that goes
			 * on past 4 x the limit is cut off) */
			rq->too_big = true;
			rq->discarded += n;
			return rq->discarded > 4 * sv->lim.max_body ? MHD_NO : MHD_YES;
		}
		return serve_buf_put(&rq->body, data, n) ? MHD_YES : MHD_NO;
	}
	if (rq->answered)
		return MHD_YES;
	if (rq->too_big)
		return too_large(sv, c, rq);
	return route(sv, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	struct request *rq = *con_cls;
	(void)cls, (void)c, (void)why;
	if (rq) {
		free(rq->body.p);
		free(rq);
	}
	*con_cls = NULL;
}

/* ---- the command ------------------------------------------------------------------------------- */

/* The model's id: --alias, or the file's name without ".gguf". */
static void model_name(const char *path, const char *alias, char *out, size_t n)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t len = strlen(alias ? alias : base);
	if (!alias && len > 5 && !strcmp(base + len - 5, ".gguf"))
		len -= 5;
	snprintf(out, n, "%.*s", (int)len, alias ? alias : base);
}

int cmd_serve(int argc, char **argv)
{
	const char *model_path = NULL, *host = "127.0.0.1", *alias = NULL, *local = NULL;
	const char *api_key = getenv("FVL_API_KEY");
	long port = 8080, parallel = 1, queue = 16, threads = 0, ctx = 0, max_tokens = 512;
	long max_body = 32L << 20, max_pixels = 16000000;
	int verbosity = 0;
	struct server sv = {0};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long *num = NULL, lo = 1, hi = INT32_MAX;
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbosity++;
			continue;
		}
		if (!strcmp(a, "-vv")) {
			verbosity += 2;
			continue;
		}
		if (!strcmp(a, "--exif-transpose")) {
			sv.image_flags |= FVL_IMAGE_EXIF_TRANSPOSE;
			continue;
		}
		if (!v)
			return usage_error("serve", "fvl serve --help", "'%s' needs a value", a);
		i++;
		if (!strcmp(a, "-m") || !strcmp(a, "--model"))
			model_path = v;
		else if (!strcmp(a, "--host"))
			host = v;
		else if (!strcmp(a, "--alias"))
			alias = v;
		else if (!strcmp(a, "--api-key"))
			api_key = v;
		else if (!strcmp(a, "--allow-local-files"))
			local = v;
		else if (!strcmp(a, "--cors"))
			sv.cors = v;
		else if (!strcmp(a, "--port"))
			num = &port, lo = 0, hi = 65535;
		else if (!strcmp(a, "--parallel"))
			num = &parallel, hi = 64;
		else if (!strcmp(a, "--queue"))
			num = &queue, lo = 0, hi = 4096;
		else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
			num = &threads, hi = 1024;
		else if (!strcmp(a, "-c") || !strcmp(a, "--ctx"))
			num = &ctx, lo = 16, hi = 1 << 20;
		else if (!strcmp(a, "--max-tokens"))
			num = &max_tokens, hi = 1 << 20;
		else if (!strcmp(a, "--max-body"))
			num = &max_body, lo = 1024, hi = 1L << 30;
		else if (!strcmp(a, "--max-image-pixels"))
			num = &max_pixels, lo = 1, hi = 64000000;
		else
			return usage_error("serve", "fvl serve --help", "unknown option '%s'", a);
		if (num && !parse_long(v, lo, hi, num)) {
			char why[96];
			snprintf(why, sizeof(why),
			         "%s must be a whole number in [%ld, %ld], not '%%s'", a, lo, hi);
			return usage_error("serve", "fvl serve --help", why, v);
		}
	}
	if (!model_path)
		return usage_error("serve", "fvl serve --help", "%s",
		                   "which model? (-m MODEL.gguf)");
	if (api_key && !*api_key)
		return usage_error("serve", "fvl serve --help", "%s", "the API key is empty");
	char local_real[PATH_MAX];
	if (local && !realpath(local, local_real)) {
		fprintf(stderr, "fvl serve: error: --allow-local-files %s: %s\n", local,
		        strerror(errno));
		return 1;
	}
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	const bool v6 = strchr(host, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, host, &a6.sin6_addr) != 1
	       : inet_pton(AF_INET, host, &a4.sin_addr) != 1)
		return usage_error("serve", "fvl serve --help",
		                   "--host must be a numeric IPv4 or IPv6 address, not '%s'", host);
	verbose_logging(verbosity);

	/* Signals wait for the main thread: block them before any thread starts. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct fvl_model *model = NULL;
	if (fvl_model_load(model_path, &model)) {
		fprintf(stderr, "fvl serve: error: %s\n", fvl_last_error());
		return 1;
	}
	model_name(model_path, alias, sv.model_id, sizeof(sv.model_id));
	if (!threads) {
		struct fvl_system_info si;
		fvl_system_info(NULL, &si);
		threads = si.n_cpus / parallel > 0 ? (long)si.n_cpus / parallel : 1;
	}
	struct serve_pool_params pp = {.model = model,
	                               .n_sessions = (uint32_t)parallel,
	                               .n_threads = (uint32_t)threads,
	                               .max_queue = (uint32_t)queue,
	                               .n_ctx = (uint32_t)ctx,
	                               .model_id = sv.model_id};
	if (serve_pool_start(&pp, &sv.pool)) {
		fprintf(stderr, "fvl serve: error: cannot start the sessions: %s\n",
		        fvl_last_error());
		fvl_model_free(model);
		return 1;
	}
	sv.api_key = api_key;
	sv.started = (long)time(NULL);
	sv.lim = (struct serve_limits){.max_body = (size_t)max_body,
	                               .max_pixels = (uint64_t)max_pixels,
	                               .max_tokens = (int32_t)max_tokens,
	                               .local_dir = local ? local_real : NULL,
	                               .model_id = sv.model_id};
	pthread_mutex_init(&sv.id_mu, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(
	        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
	        0, NULL, NULL, on_request, &sv, MHD_OPTION_SOCK_ADDR,
	        v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4, MHD_OPTION_NOTIFY_COMPLETED,
	        on_completed, &sv, MHD_OPTION_CONNECTION_LIMIT, (unsigned)(parallel + queue + 32),
	        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fvl serve: error: cannot listen on %s port %ld: %s\n", host, port,
		        strerror(errno));
		serve_pool_free(sv.pool);
		fvl_model_free(model);
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr,
	        "fvl serve: listening on http://%s%s%s:%u (model %s, %ld session%s of %ld "
	        "thread%s, "
	        "queue %ld)\n",
	        v6 ? "[" : "", host, v6 ? "]" : "", di ? di->port : (unsigned)port, sv.model_id,
	        parallel, parallel == 1 ? "" : "s", threads, threads == 1 ? "" : "s", queue);
	int sig = 0;
	sigwait(&sigs, &sig);
	fprintf(stderr, "fvl serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	serve_pool_stop(sv.pool); /* cancels the running answers and fails the queued ones */
	MHD_stop_daemon(d);       /* waits for the connections' threads */
	serve_pool_free(sv.pool);
	pthread_mutex_destroy(&sv.id_mu);
	fvl_model_free(model);
	return 0;
}
