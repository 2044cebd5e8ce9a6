/* fvl.h — the public API of libfvl: Florence-VL and Florence-2 inference on ARM boards.
 * This is the only public header. Every fallible call returns enum fvl_status; objects come back
 * through out-parameters; every *_free(NULL) is a no-op. */
#ifndef FVL_H
#define FVL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FVL_VERSION_MAJOR 0
#define FVL_VERSION_MINOR 1
#define FVL_VERSION_PATCH 0
#define FVL_VERSION_STRING "0.1.0"

enum fvl_status {
	FVL_STATUS_OK = 0,
	FVL_STATUS_INVALID_ARGUMENT, /* a caller passed something unusable (flag, NULL, range) */
	FVL_STATUS_IO,               /* open/read/write/mmap failed; errno text is in the message */
	FVL_STATUS_OUT_OF_MEMORY,
	FVL_STATUS_BAD_FILE,         /* a file is truncated, corrupt or inconsistent */
	FVL_STATUS_UNSUPPORTED,      /* valid input that fvl does not handle (type, version, CPU) */
	FVL_STATUS_NOT_FOUND,        /* a named key, tensor or file is missing */
	FVL_STATUS_NO_SPACE,         /* the output device is full */
	FVL_STATUS_CANCELLED,
};

/* Words for a status ("bad file"), never NULL. */
const char *fvl_status_str(enum fvl_status status);

/* The message of the last failed call on this thread ("" if none). Valid until the next fvl call
 * on the same thread. It names what was wrong: "model.gguf: tensor 'blk.0.attn_q.weight': data
 * [4096, 8192) past the end of the file (6000 bytes)". */
const char *fvl_last_error(void);

const char *fvl_version(void);

enum fvl_log_level {
	FVL_LOG_ERROR = 0,
	FVL_LOG_WARN,
	FVL_LOG_INFO,
	FVL_LOG_DEBUG,
};

/* Receives every log line (no trailing newline). user is passed through. */
typedef void (*fvl_log_fn)(enum fvl_log_level level, const char *msg, void *user);

/* Process-wide: where log lines go and the most verbose level delivered. fn == NULL restores the
 * default (stderr, FVL_LOG_WARN). Set it once at start-up, before other threads call fvl. */
void fvl_log_set(fvl_log_fn fn, void *user, enum fvl_log_level max_level);

/* An immutable model: the read-only mapping of one GGUF model file. Safe to share between
 * threads and sessions once loaded. */
struct fvl_model;

enum fvl_status fvl_model_load(const char *path, struct fvl_model **out);
void fvl_model_free(struct fvl_model *model);

/* general.architecture of the file, e.g. "florence-vl" or "florence2" ("" if absent). */
const char *fvl_model_arch(const struct fvl_model *model);
/* Number of tensors and bytes of tensor data in the file. */
uint64_t fvl_model_n_tensors(const struct fvl_model *model);
uint64_t fvl_model_n_bytes(const struct fvl_model *model);

#ifdef __cplusplus
}
#endif
#endif /* FVL_H */
