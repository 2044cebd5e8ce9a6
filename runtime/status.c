/* status.c — status words, the per-thread last error, the log sink and the version. */
#include <stdarg.h>
#include <string.h>

#include "common.h"

#define FVL_ERROR_MAX 512

static _Thread_local char last_error[FVL_ERROR_MAX];

/* The log sink is process-wide configuration, set once at start-up (see fvl_log_set). */
static fvl_log_fn log_fn;
static void *log_user;
static enum fvl_log_level log_max = FVL_LOG_WARN;

const char *fvl_status_str(enum fvl_status status)
{
	switch (status) {
	case FVL_STATUS_OK: return "ok";
	case FVL_STATUS_INVALID_ARGUMENT: return "invalid argument";
	case FVL_STATUS_IO: return "input/output error";
	case FVL_STATUS_OUT_OF_MEMORY: return "out of memory";
	case FVL_STATUS_BAD_FILE: return "bad file";
	case FVL_STATUS_UNSUPPORTED: return "unsupported";
	case FVL_STATUS_NOT_FOUND: return "not found";
	case FVL_STATUS_NO_SPACE: return "no space left on device";
	case FVL_STATUS_CANCELLED: return "cancelled";
	}
	return "unknown status";
}

const char *fvl_last_error(void)
{
	return last_error;
}

const char *fvl_version(void)
{
	return FVL_VERSION_STRING;
}

enum fvl_status fvl_fail(enum fvl_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return status;
}

void fvl_error_prefix(const char *prefix)
{
	char tmp[FVL_ERROR_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s: %s", prefix, last_error) < 0) /* truncation is fine */
		return;
	memcpy(last_error, tmp, sizeof(tmp));
}

void fvl_error_clear(void)
{
	last_error[0] = '\0';
}

enum fvl_status fvl_grow(void **arr, uint64_t *cap, uint64_t n, size_t elem, uint64_t first)
{
	if (n < *cap)
		return FVL_STATUS_OK;
	uint64_t c = *cap ? *cap : first;
	while (c <= n)
		c *= 2;
	void *p = c <= SIZE_MAX / elem ? realloc(*arr, (size_t)c * elem) : NULL;
	if (!p)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY,
		                "out of memory (%llu elements of %zu bytes)", (unsigned long long)c,
		                elem);
	*arr = p;
	*cap = c;
	return FVL_STATUS_OK;
}

void fvl_buf_put(struct fvl_buf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void fvl_log_set(fvl_log_fn fn, void *user, enum fvl_log_level max_level)
{
	log_fn = fn;
	log_user = user;
	log_max = fn ? max_level : FVL_LOG_WARN;
}

void fvl_log(enum fvl_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	char msg[1024];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(level, msg, log_user);
	else
		fprintf(stderr, "fvl: %s: %s\n", names[level], msg);
}

enum fvl_status fvl_params_check(uint32_t size, size_t want, const char *name)
{
	if (size == want)
		return FVL_STATUS_OK;
	return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
	                "%s of %u bytes, where this libfvl (" FVL_VERSION_STRING
	                ") has %zu: start it from its _default function, and build against "
	                "this libfvl's fvl.h",
	                name, size, want);
}
