/* serve-request.c — request bodies into struct serve_req. Every field is checked for its type and
 * range; anything else is refused with the field named, never guessed at. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

bool serve_fail(struct serve_error *err, int http, const char *code, const char *param,
                const char *fmt, ...)
{
	va_list ap;
	err->http = http;
	err->code = code;
	err->param = param;
	err->type = http == 401   ? "authentication_error"
	            : http >= 500 ? "server_error"
	                          : "invalid_request_error";
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return false;
}

bool serve_buf_put(struct serve_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		const size_t cap = 2 * (b->n + n) + 64;
		char *p = realloc(b->p, cap);
		if (!p)
			return false;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return true;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

uint8_t *serve_base64_decode(const char *s, size_t n, size_t *out_n)
{
	if (n == 0 || n % 4)
		return NULL;
	const size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	uint8_t *out = malloc(n / 4 * 3);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		const bool last = i + 4 == n;
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			const bool padded = last && k >= 4 - pad;
			const int d = padded ? 0 : b64_value((unsigned char)s[i + k]);
			if (d < 0) {
				free(out);
				return NULL;
			}
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (!last || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (!last || pad < 1)
			out[o++] = (uint8_t)v;
	}
	*out_n = o;
	return out;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

/* A local image under --allow-local-files: its real path must lie inside the folder. */
static bool read_local(const char *path, const struct serve_limits *lim, struct serve_req *out,
                       struct serve_error *err)
{
	if (!lim->local_dir)
		return serve_fail(err, 400, "local_files_disabled", "image_url",
		                  "local image paths are refused (the server was started without "
		                  "--allow-local-files)");
	char real[PATH_MAX];
	const size_t dl = strlen(lim->local_dir);
	if (!realpath(path, real))
		return serve_fail(err, 400, "image_not_found", "image_url",
		                  "cannot open the local image: %s", strerror(errno));
	if (strncmp(real, lim->local_dir, dl) || real[dl] != '/')
		return serve_fail(
		        err, 403, "outside_allowed_dir", "image_url",
		        "the local image is outside the folder --allow-local-files names");
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > lim->max_body) {
		if (fd >= 0)
			close(fd);
		return serve_fail(err, 400, "invalid_image", "image_url",
		                  "the local image is not a regular file of 1 byte to %zu bytes",
		                  lim->max_body);
	}
	out->image = malloc((size_t)st.st_size);
	size_t got = 0;
	while (out->image && got < (size_t)st.st_size) {
		ssize_t r = read(fd, out->image + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!out->image || got != (size_t)st.st_size) {
		free(out->image);
		out->image = NULL;
		return serve_fail(err, 500, NULL, "image_url", "cannot read the local image");
	}
	out->n_image = got;
	return true;
}

/* An image URL: data:image/...;base64,..., or a local path (file:// or absolute) when allowed. */
static bool take_image_url(const char *url, const struct serve_limits *lim, struct serve_req *out,
                           struct serve_error *err)
{
	if (out->image)
		return serve_fail(err, 400, "too_many_images", "messages",
		                  "one image per request (Florence-VL takes one image)");
	if (!strncmp(url, "data:", 5)) {
		const char *comma = strchr(url, ',');
		if (strncmp(url + 5, "image/", 6) || !comma || comma - url < 12 ||
		    strncmp(comma - 7, ";base64", 7))
			return serve_fail(err, 400, "invalid_image_url", "image_url",
			                  "a data URL must be data:image/<type>;base64,<data>");
		out->image = serve_base64_decode(comma + 1, strlen(comma + 1), &out->n_image);
		if (!out->image)
			return serve_fail(
			        err, 400, "invalid_base64", "image_url",
			        "the image's base64 is not valid (RFC 4648 with padding, no "
			        "whitespace)");
	} else if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
		return serve_fail(
		        err, 400, "remote_url_refused", "image_url",
		        "remote image URLs are not fetched: send the image as a data: URL");
	} else if (!strncmp(url, "file://", 7) || url[0] == '/') {
		if (!read_local(url[0] == '/' ? url : url + 7, lim, out, err))
			return false;
	} else {
		return serve_fail(err, 400, "invalid_image_url", "image_url",
		                  "an image URL must be a data: URL (or a local path with "
		                  "--allow-local-files)");
	}
	out->image_hash = fnv1a(out->image, out->n_image);
	return true;
}

/* "url" of an image_url part: a string, or an object holding one. */
static const char *url_of(const cJSON *v)
{
	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "url");
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool append_text(struct serve_req *out, const char *t)
{
	const size_t had = out->question ? strlen(out->question) : 0, n = strlen(t);
	const size_t at = had + (out->question ? 1 : 0); /* parts joined by a newline */
	char *q = realloc(out->question, at + n + 1);
	if (!q)
		return false;
	if (at > had)
		q[had] = '\n';
	memcpy(q + at, t, n + 1);
	out->question = q;
	return true;
}

/* The user message's content: a string, or text and image_url parts. */
static bool take_content(const cJSON *content, const struct serve_limits *lim,
                         struct serve_req *out, struct serve_error *err)
{
	if (cJSON_IsString(content))
		return append_text(out, content->valuestring) ||
		       serve_fail(err, 500, NULL, NULL, "out of memory");
	if (!cJSON_IsArray(content))
		return serve_fail(err, 400, NULL, "content",
		                  "a message's content must be a string or an array of parts");
	const cJSON *part;
	cJSON_ArrayForEach (part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		if (!cJSON_IsObject(part) || !cJSON_IsString(type))
			return serve_fail(err, 400, NULL, "content",
			                  "each content part must be an object with a \"type\"");
		if (!strcmp(type->valuestring, "text")) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
			if (!cJSON_IsString(t))
				return serve_fail(err, 400, NULL, "content",
				                  "a text part needs a string \"text\"");
			if (!append_text(out, t->valuestring))
				return serve_fail(err, 500, NULL, NULL, "out of memory");
		} else if (!strcmp(type->valuestring, "image_url")) {
			const char *url =
			        url_of(cJSON_GetObjectItemCaseSensitive(part, "image_url"));
			if (!url)
				return serve_fail(
				        err, 400, NULL, "image_url",
				        "an image_url part needs \"image_url\": {\"url\": ...}");
			if (!take_image_url(url, lim, out, err))
				return false;
		} else {
			return serve_fail(
			        err, 400, NULL, "content",
			        "content parts of type \"%.32s\" are not supported (text and "
			        "image_url are)",
			        type->valuestring);
		}
	}
	return true;
}

static bool take_messages(const cJSON *msgs, const struct serve_limits *lim, struct serve_req *out,
                          struct serve_error *err)
{
	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
		return serve_fail(err, 400, NULL, "messages",
		                  "\"messages\" must be a non-empty array");
	const cJSON *m;
	int n_user = 0;
	cJSON_ArrayForEach (m, msgs) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (!cJSON_IsObject(m) || !cJSON_IsString(role))
			return serve_fail(err, 400, NULL, "messages",
			                  "each message must be an object with a string \"role\"");
		const char *r = role->valuestring;
		if (!strcmp(r, "system") || !strcmp(r, "developer"))
			return serve_fail(
			        err, 400, "unsupported_role", "messages",
			        "system messages are not supported: the model's chat template "
			        "has its own system prompt");
		if (strcmp(r, "user"))
			return serve_fail(
			        err, 400, "unsupported_role", "messages",
			        "messages of role \"%.16s\" are not supported: fvl serve answers "
			        "one user message (with at most one image) per request",
			        r);
		if (++n_user > 1)
			return serve_fail(
			        err, 400, "multi_turn_unsupported", "messages",
			        "one user message per request: multi-turn conversations are not "
			        "supported (ask follow-ups as new requests with the same image)");
		if (!take_content(cJSON_GetObjectItemCaseSensitive(m, "content"), lim, out, err))
			return false;
	}
	if (!out->question && !(out->question = calloc(1, 1)))
		return serve_fail(err, 500, NULL, NULL, "out of memory");
	return true;
}

/* An optional number member in [lo, hi]; integer says it must be whole. */
static bool opt_number(const cJSON *root, const char *name, double lo, double hi, bool integer,
                       double *v, struct serve_error *err)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!x || cJSON_IsNull(x))
		return true;
	if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi) ||
	    (integer && x->valuedouble != (double)(long long)x->valuedouble))
		return serve_fail(err, 400, "invalid_value", name, "\"%s\" must be %s in [%g, %g]",
		                  name, integer ? "an integer" : "a number", lo, hi);
	*v = x->valuedouble;
	return true;
}

static bool opt_bool(const cJSON *root, const char *name, bool *v, struct serve_error *err)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!x || cJSON_IsNull(x))
		return true;
	if (!cJSON_IsBool(x))
		return serve_fail(err, 400, "invalid_value", name, "\"%s\" must be true or false",
		                  name);
	*v = cJSON_IsTrue(x);
	return true;
}

static bool take_stop(const cJSON *root, struct serve_req *out, struct serve_error *err)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "stop");
	if (!x || cJSON_IsNull(x))
		return true;
	const cJSON *one = x, *it;
	bool ok =
	        cJSON_IsString(x) || (cJSON_IsArray(x) && cJSON_GetArraySize(x) <= SERVE_MAX_STOP);
	if (ok && cJSON_IsArray(x))
		cJSON_ArrayForEach (it, x)
			ok = ok && cJSON_IsString(it);
	if (!ok)
		return serve_fail(err, 400, "invalid_value", "stop",
		                  "\"stop\" must be a string or an array of up to %d strings",
		                  SERVE_MAX_STOP);
	for (it = cJSON_IsArray(x) ? x->child : one; it; it = cJSON_IsArray(x) ? it->next : NULL) {
		const size_t n = strlen(it->valuestring);
		if (n == 0 || n > 256)
			return serve_fail(err, 400, "invalid_value", "stop",
			                  "each stop string must be 1 to 256 bytes");
		if (!(out->stop[out->n_stop++] = strdup(it->valuestring)))
			return serve_fail(err, 500, NULL, NULL, "out of memory");
	}
	return true;
}

/* The body as a JSON object, and its "model" checked against the server's. */
static cJSON *
parse_root(const char *body, size_t n, const struct serve_limits *lim, struct serve_error *err)
{
	cJSON *root = cJSON_ParseWithLength(body, n);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		serve_fail(err, 400, "invalid_json", NULL, "the request body is not a JSON object");
		return NULL;
	}
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (model && !cJSON_IsNull(model) &&
	    (!cJSON_IsString(model) || strcmp(model->valuestring, lim->model_id))) {
		cJSON_Delete(root);
		serve_fail(err, 404, "model_not_found", "model",
		           "the model does not exist: this server has \"%.128s\" (GET /v1/models)",
		           lim->model_id);
		return NULL;
	}
	return root;
}

bool serve_parse_chat(const char *body, size_t n, const struct serve_limits *lim,
                      struct serve_req *out, struct serve_error *err)
{
	memset(out, 0, sizeof(*out));
	out->kind = SERVE_CHAT;
	fvl_gen_params_default(&out->gen);
	out->gen.n_predict = lim->max_tokens;
	cJSON *root = parse_root(body, n, lim, err);
	if (!root)
		return false;
	double max_tokens = lim->max_tokens, mct = 0, temp = out->gen.temp, top_p = out->gen.top_p;
	double seed = (double)out->gen.seed, n_choices = 1;
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	bool ok =
	        take_messages(cJSON_GetObjectItemCaseSensitive(root, "messages"), lim, out, err) &&
	        opt_number(root, "max_tokens", 1, lim->max_tokens, true, &max_tokens, err) &&
	        opt_number(root, "max_completion_tokens", 1, lim->max_tokens, true, &mct, err) &&
	        opt_number(root, "temperature", 0, 2, false, &temp, err) &&
	        opt_number(root, "top_p", 0, 1, false, &top_p, err) &&
	        opt_number(root, "seed", 0, 9007199254740991.0, true, &seed, err) &&
	        opt_number(root, "n", 1, 1, true, &n_choices, err) &&
	        opt_bool(root, "stream", &out->stream, err) && take_stop(root, out, err);
	if (ok && so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so))
			ok = serve_fail(err, 400, "invalid_value", "stream_options",
			                "\"stream_options\" must be an object");
		else
			ok = opt_bool(so, "include_usage", &out->include_usage, err);
	}
	cJSON_Delete(root);
	if (!ok) {
		serve_req_free(out);
		return false;
	}
	out->gen.n_predict = (int32_t)(mct > 0 ? mct : max_tokens);
	out->gen.temp = top_p > 0 ? (float)temp : 0.0f; /* top_p 0 keeps the best token only */
	out->gen.top_p = top_p > 0 ? (float)top_p : 1.0f;
	out->gen.seed = (uint64_t)seed;
	return true;
}

bool serve_parse_task(const char *body, size_t n, const struct serve_limits *lim,
                      struct serve_req *out, struct serve_error *err)
{
	memset(out, 0, sizeof(*out));
	out->kind = SERVE_TASK;
	cJSON *root = parse_root(body, n, lim, err);
	if (!root)
		return false;
	const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
	const char *url = url_of(cJSON_GetObjectItemCaseSensitive(root, "image"));
	const struct fvl_task_info *ti =
	        cJSON_IsString(task) ? fvl_task_find(task->valuestring) : NULL;
	double beams = 0, max_new = 0;
	bool ok = true;
	if (!ti)
		ok = serve_fail(
		        err, 400, "invalid_value", "task",
		        "\"task\" must name a Florence-2 task (caption, detailed_caption, ocr, "
		        "ocr_with_region, od, ... as fvl task --help lists)");
	else if (text && !cJSON_IsNull(text) && !cJSON_IsString(text))
		ok = serve_fail(err, 400, "invalid_value", "text", "\"text\" must be a string");
	else if (ti->takes_text && !cJSON_IsString(text))
		ok = serve_fail(err, 400, "missing_value", "text", "task %s needs \"text\"",
		                ti->name);
	else if (!url)
		ok = serve_fail(err, 400, "missing_value", "image",
		                "\"image\" must be a data: URL (or {\"url\": ...})");
	ok = ok && opt_number(root, "n_beams", 1, 16, true, &beams, err) &&
	     opt_number(root, "max_new_tokens", 1, 1024, true, &max_new, err) &&
	     take_image_url(url, lim, out, err);
	if (ok && (!(out->task = strdup(ti->name)) ||
	           (cJSON_IsString(text) && !(out->text = strdup(text->valuestring)))))
		ok = serve_fail(err, 500, NULL, NULL, "out of memory");
	cJSON_Delete(root);
	if (!ok) {
		serve_req_free(out);
		return false;
	}
	out->n_beams = (int32_t)beams;
	out->max_new = (int32_t)max_new;
	return true;
}

void serve_req_free(struct serve_req *r)
{
	free(r->question);
	free(r->image);
	for (size_t i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	free(r->task);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* ---- stop strings ------------------------------------------------------------------------------ */

bool serve_stop_feed(struct serve_stop *st, const char *s, size_t n, const char **out,
                     size_t *out_n)
{
	*out = NULL;
	*out_n = 0;
	if (st->done)
		return true;
	/* what the last call handed out leaves the buffer now */
	struct serve_buf *h = &st->held;
	if (st->handed) {
		memmove(h->p, h->p + st->handed, h->n - st->handed);
		h->n -= st->handed;
		st->handed = 0;
	}
	if (n == 0)
		return true; /* nothing new: what is held stays held */
	if (!serve_buf_put(h, s, n))
		return false;
	size_t cut = h->n; /* bytes safe to send */
	for (size_t k = 0; k < st->n_stop; k++) {
		const char *m = memmem(h->p, h->n, st->stop[k], strlen(st->stop[k]));
		if (m && (size_t)(m - h->p) < cut) {
			cut = (size_t)(m - h->p);
			st->done = true;
		}
	}
	for (size_t k = 0; !st->done && k < st->n_stop;
	     k++) { /* a tail that may grow into stop[k] */
		const size_t sl = strlen(st->stop[k]);
		for (size_t len = sl - 1 < h->n ? sl - 1 : h->n; len > 0; len--)
			if (!memcmp(h->p + h->n - len, st->stop[k], len)) {
				if (h->n - len < cut)
					cut = h->n - len;
				break;
			}
	}
	if (st->done)
		h->n = cut;
	*out = h->p;
	*out_n = st->handed = cut;
	return true;
}

void serve_stop_flush(struct serve_stop *st, const char **out, size_t *out_n)
{
	*out = st->held.p ? st->held.p + st->handed : "";
	*out_n = st->done ? 0 : st->held.n - st->handed;
	st->handed = st->held.n;
}

void serve_stop_free(struct serve_stop *st)
{
	free(st->held.p);
	st->held = (struct serve_buf){0};
	st->handed = 0;
}
