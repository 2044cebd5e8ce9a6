/* common.h — private helpers shared by libfvl's modules: errors, logging, checked arithmetic. */
#ifndef FVL_COMMON_H
#define FVL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fvl.h"

#if defined(__GNUC__)
#define FVL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FVL_PRINTF(f, a)
#endif

/* Records the message for fvl_last_error() and returns status, so that `return fvl_fail(...)`
 * reads as one step. */
enum fvl_status fvl_fail(enum fvl_status status, const char *fmt, ...) FVL_PRINTF(2, 3);
/* A params struct's size field against the library's sizeof (fvl.h's promise). */
enum fvl_status fvl_params_check(uint32_t size, size_t want, const char *name);
#define FVL_PARAMS_CHECK(p) fvl_params_check((p)->size, sizeof(*(p)), FVL_PARAMS_NAME(p))
#define FVL_PARAMS_NAME(p)                                                                         \
	_Generic((p), const struct fvl_session_params *: "struct fvl_session_params",              \
	         const struct fvl_gen_params *: "struct fvl_gen_params",                           \
	         const struct fvl_task_params *: "struct fvl_task_params",                         \
	         const struct fvl_camera_params *: "struct fvl_camera_params",                     \
	         const struct fvl_bench_params *: "struct fvl_bench_params", default: "params")
/* Prefixes the current error message with "<prefix>: " (e.g. the file name). */
void fvl_error_prefix(const char *prefix);
void fvl_error_clear(void);

void fvl_log(enum fvl_log_level level, const char *fmt, ...) FVL_PRINTF(2, 3);
#define FVL_LOG_E(...) fvl_log(FVL_LOG_ERROR, __VA_ARGS__)
#define FVL_LOG_W(...) fvl_log(FVL_LOG_WARN, __VA_ARGS__)
#define FVL_LOG_I(...) fvl_log(FVL_LOG_INFO, __VA_ARGS__)
#define FVL_LOG_D(...) fvl_log(FVL_LOG_DEBUG, __VA_ARGS__)

/* For bugs only, never for input that came from outside. */
#define FVL_ASSERT(x)                                                                              \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "fvl: %s:%d: assertion failed: %s\n", __FILE__, __LINE__,  \
			        #x);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A mark for counting instructions by stage under qemu (tools/qemu-icount): write(-1, ID, 0),
 * which fails with EBADF and does nothing else; the plugin adds the instructions since the last
 * mark to mark ID's sum. Benchmarks only (id < 256). */
void fvl_stage_mark(unsigned id);
#define FVL_VISION_MARK 100 /* fvl bench --vision: 100 start, 101 + part after each part */

/* Makes room for element n of a growable array (capacity doubles, starting at first). */
enum fvl_status fvl_grow(void **arr, uint64_t *cap, uint64_t n, size_t elem, uint64_t first);
#define FVL_GROW(arr, cap, n, first) fvl_grow((void **)&(arr), &(cap), (n), sizeof(*(arr)), (first))

/* A growable byte string, kept NUL-terminated; oom latches once an allocation fails. */
struct fvl_buf {
	char *p;
	size_t n, cap;
	bool oom;
};
void fvl_buf_put(struct fvl_buf *b, const void *s, size_t n);

/* a + b and a * b with overflow detection: false on overflow. */
static inline bool fvl_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}
static inline bool fvl_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
/* x rounded up to a multiple of align (a power of two); false on overflow. */
static inline bool fvl_align_u64(uint64_t x, uint64_t align, uint64_t *out)
{
	uint64_t t;
	bool ok = fvl_add_u64(x, align - 1, &t);
	*out = ok ? t & ~(align - 1) : 0;
	return ok;
}

#endif /* FVL_COMMON_H */
