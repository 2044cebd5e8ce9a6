/* gguf.h — the GGUF v3 model-file container: a bounds-checked, zero-copy reader over a read-only
 * mapping, and a streaming writer. Format: github.com/ggml-org/ggml docs/gguf.md. */
#ifndef FVL_GGUF_H
#define FVL_GGUF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fvl.h"

#define FVL_GGUF_MAGIC             "GGUF"
#define FVL_GGUF_VERSION           3
#define FVL_GGUF_DEFAULT_ALIGNMENT 32 /* when general.alignment is absent (spec) */
#define FVL_GGUF_ALIGNMENT         64 /* what fvl writes */
#define FVL_GGUF_MAX_DIMS          4
#define FVL_GGUF_MAX_NAME          64 /* tensor name bytes, as ggml's GGML_MAX_NAME */

/* Metadata value types (the numbers are the file's). */
enum fvl_gguf_type {
	FVL_GGUF_TYPE_UINT8 = 0,
	FVL_GGUF_TYPE_INT8 = 1,
	FVL_GGUF_TYPE_UINT16 = 2,
	FVL_GGUF_TYPE_INT16 = 3,
	FVL_GGUF_TYPE_UINT32 = 4,
	FVL_GGUF_TYPE_INT32 = 5,
	FVL_GGUF_TYPE_FLOAT32 = 6,
	FVL_GGUF_TYPE_BOOL = 7,
	FVL_GGUF_TYPE_STRING = 8,
	FVL_GGUF_TYPE_ARRAY = 9,
	FVL_GGUF_TYPE_UINT64 = 10,
	FVL_GGUF_TYPE_INT64 = 11,
	FVL_GGUF_TYPE_FLOAT64 = 12,
	FVL_GGUF_TYPE_N_TYPES
};

/* Tensor types fvl reads and writes (ggml's numbering). */
enum fvl_type {
	FVL_TYPE_F32 = 0,
	FVL_TYPE_F16 = 1,
	FVL_TYPE_Q4_0 = 2,
	FVL_TYPE_Q8_0 = 8,
	FVL_TYPE_BF16 = 30,
};

struct fvl_type_info {
	const char *name; /* "q4_0" */
	uint32_t blck;    /* elements per block */
	uint32_t size;    /* bytes per block */
};

/* NULL when fvl does not handle the type. */
const struct fvl_type_info *fvl_type_info(uint32_t type);
/* Parses "f32", "Q8_0", ...; false if unknown. */
bool fvl_type_from_name(const char *name, enum fvl_type *out);
const char *fvl_gguf_type_name(uint32_t type);
/* Bytes of one metadata value of a fixed-size type; 0 for STRING, ARRAY and unknown types. */
uint32_t fvl_gguf_value_size(uint32_t type);

/* A string inside the mapping: not NUL-terminated. */
struct fvl_str {
	const char *p;
	uint64_t n;
};

bool fvl_str_eq(struct fvl_str s, const char *c);

struct fvl_gguf_kv {
	struct fvl_str key;
	uint32_t type;           /* enum fvl_gguf_type */
	uint32_t arr_type;       /* element type when type == FVL_GGUF_TYPE_ARRAY */
	uint64_t n;              /* element count; 1 for scalars */
	const uint8_t *data;     /* the value (arrays: the first element) inside the mapping */
	const uint64_t *str_off; /* string arrays: (n) offsets of each element from data */
	uint64_t str_first;      /* string arrays: index of str_off[0] in the gguf's pool */
};

struct fvl_gguf_tensor {
	struct fvl_str name;
	uint32_t type; /* enum fvl_type */
	uint32_t n_dims;
	uint64_t
	        ne[FVL_GGUF_MAX_DIMS]; /* ne[0] is the row length (contiguous); unused dims are 1 */
	uint64_t offset;               /* from the start of the data section */
	uint64_t n_bytes;
	const void *data; /* inside the mapping; aligned to the file's alignment */
};

struct fvl_gguf {
	const uint8_t *map; /* (size) bytes, read-only */
	uint64_t size;
	bool mapped; /* map came from mmap and is unmapped by fvl_gguf_free */
	uint32_t version;
	uint32_t alignment;
	uint64_t data_offset; /* start of the data section in the file */
	uint64_t n_kv;
	struct fvl_gguf_kv *kv; /* (n_kv) */
	uint64_t n_tensors;
	struct fvl_gguf_tensor *tensors; /* (n_tensors), in file order */
	uint64_t *by_name;               /* (n_tensors) indices sorted by name, for lookups */
	uint64_t *str_off_pool;          /* storage behind the kv str_off arrays */
};

/* Maps path read-only and parses it. On failure *out is NULL and fvl_last_error() says why. */
enum fvl_status fvl_gguf_open(const char *path, struct fvl_gguf **out);
/* Parses a buffer that outlives the result (used by the fuzzer and tests). */
enum fvl_status fvl_gguf_parse(const void *buf, uint64_t size, struct fvl_gguf **out);
void fvl_gguf_free(struct fvl_gguf *g);

const struct fvl_gguf_kv *fvl_gguf_find_kv(const struct fvl_gguf *g, const char *key);
const struct fvl_gguf_tensor *fvl_gguf_find_tensor(const struct fvl_gguf *g, const char *name);

/* Typed getters: NOT_FOUND if the key is absent, BAD_FILE if it has another type or its value does
 * not fit. Integers of any width and sign convert when the value fits. */
enum fvl_status fvl_gguf_get_u64(const struct fvl_gguf *g, const char *key, uint64_t *out);
enum fvl_status fvl_gguf_get_u32(const struct fvl_gguf *g, const char *key, uint32_t *out);
/* A u32 dimension in lo..hi, or BAD_FILE naming the key and the range. */
enum fvl_status
fvl_gguf_get_dim(const struct fvl_gguf *g, const char *key, size_t lo, size_t hi, size_t *out);
/* A u32 array of exactly n entries, into out. */
enum fvl_status fvl_gguf_get_dims(const struct fvl_gguf *g, const char *key, size_t n, size_t *out);
enum fvl_status fvl_gguf_get_i64(const struct fvl_gguf *g, const char *key, int64_t *out);
enum fvl_status fvl_gguf_get_f32(const struct fvl_gguf *g, const char *key, float *out);
enum fvl_status fvl_gguf_get_bool(const struct fvl_gguf *g, const char *key, bool *out);
enum fvl_status fvl_gguf_get_str(const struct fvl_gguf *g, const char *key, struct fvl_str *out);
/* An array of the given element type (any element type if elem_type < 0). */
enum fvl_status fvl_gguf_get_arr(const struct fvl_gguf *g, const char *key, int elem_type,
                                 const struct fvl_gguf_kv **out);

/* Element i of an array kv (i < kv->n); the caller checked the element type. */
struct fvl_str fvl_gguf_arr_str(const struct fvl_gguf_kv *kv, uint64_t i);
int64_t fvl_gguf_arr_int(const struct fvl_gguf_kv *kv, uint64_t i);  /* any integer/bool type */
double fvl_gguf_arr_float(const struct fvl_gguf_kv *kv, uint64_t i); /* any numeric type */
/* A scalar kv's numeric value (integer, bool or float types). */
bool fvl_gguf_kv_int(const struct fvl_gguf_kv *kv, int64_t *out);
bool fvl_gguf_kv_float(const struct fvl_gguf_kv *kv, double *out);

/* Prints the metadata and the tensor table (name, type, shape, offset, bytes) to f. */
void fvl_gguf_print(const struct fvl_gguf *g, FILE *f, bool full_arrays);

/* ---- writer ---------------------------------------------------------------------------------
 * Collect metadata and tensor descriptions, then write the header, then each tensor's bytes in
 * the order they were added (in as many pieces as convenient), closing each with end_tensor. */
struct fvl_gguf_writer;

enum fvl_status fvl_gguf_writer_init(struct fvl_gguf_writer **out);
void fvl_gguf_writer_free(struct fvl_gguf_writer *w);

enum fvl_status fvl_gguf_writer_set_u32(struct fvl_gguf_writer *w, const char *key, uint32_t v);
enum fvl_status fvl_gguf_writer_set_i32(struct fvl_gguf_writer *w, const char *key, int32_t v);
enum fvl_status fvl_gguf_writer_set_u64(struct fvl_gguf_writer *w, const char *key, uint64_t v);
enum fvl_status fvl_gguf_writer_set_f32(struct fvl_gguf_writer *w, const char *key, float v);
enum fvl_status fvl_gguf_writer_set_bool(struct fvl_gguf_writer *w, const char *key, bool v);
enum fvl_status fvl_gguf_writer_set_str(struct fvl_gguf_writer *w, const char *key, const char *v);
/* v may hold NULs: n bytes are written. */
enum fvl_status
fvl_gguf_writer_set_strn(struct fvl_gguf_writer *w, const char *key, const char *v, uint64_t n);
/* An array of n fixed-size elements of elem_type (not STRING/ARRAY), little-endian in v. */
enum fvl_status fvl_gguf_writer_set_arr(struct fvl_gguf_writer *w, const char *key,
                                        enum fvl_gguf_type elem_type, const void *v, uint64_t n);
/* An array of n strings; lens may be NULL for NUL-terminated strings. */
enum fvl_status fvl_gguf_writer_set_arr_str(struct fvl_gguf_writer *w, const char *key,
                                            const char *const *v, const uint64_t *lens, uint64_t n);

/* ne[0] is the row length. Returns the tensor's size in bytes through n_bytes (may be NULL). */
enum fvl_status fvl_gguf_writer_add_tensor(struct fvl_gguf_writer *w, const char *name,
                                           enum fvl_type type, uint32_t n_dims, const uint64_t *ne,
                                           uint64_t *n_bytes);
/* Bytes the finished file will have. */
uint64_t fvl_gguf_writer_file_size(const struct fvl_gguf_writer *w);

enum fvl_status fvl_gguf_writer_write_header(struct fvl_gguf_writer *w, FILE *f);
enum fvl_status
fvl_gguf_writer_write_data(struct fvl_gguf_writer *w, FILE *f, const void *data, uint64_t n);
enum fvl_status fvl_gguf_writer_end_tensor(struct fvl_gguf_writer *w, FILE *f);
/* Flushes and checks that every tensor was written. */
enum fvl_status fvl_gguf_writer_finish(struct fvl_gguf_writer *w, FILE *f);

#endif /* FVL_GGUF_H */
