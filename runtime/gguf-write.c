/* gguf-write.c — GGUF v3 writer: metadata is built in memory, tensor data streams to the file in
 * the order the tensors were added, each padded to the alignment (64). */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "names.h"
#include "gguf.h"

struct wtensor {
	char name[FVL_GGUF_MAX_NAME + 1];
	enum fvl_type type;
	uint32_t n_dims;
	uint64_t ne[FVL_GGUF_MAX_DIMS];
	uint64_t offset, n_bytes;
};

struct bytes {
	uint8_t *p;
	uint64_t n, cap;
};

struct fvl_gguf_writer {
	struct bytes kv; /* serialized metadata entries */
	uint64_t n_kv;
	char **keys;             /* (n_kv) for duplicate checks */
	struct wtensor *tensors; /* (n_tensors) */
	uint64_t n_tensors, cap_tensors;
	uint64_t data_size;   /* bytes of the data section, padded */
	uint64_t header_size; /* set by write_header */
	/* streaming state */
	bool header_written;
	uint64_t cur;         /* tensor being written */
	uint64_t cur_written; /* its bytes written so far */
	bool failed;
};

static enum fvl_status grow(struct bytes *b, uint64_t extra)
{
	if (b->n + extra <= b->cap)
		return FVL_STATUS_OK;
	uint64_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + extra)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for metadata");
	b->p = p;
	b->cap = cap;
	return FVL_STATUS_OK;
}

static enum fvl_status put(struct bytes *b, const void *v, uint64_t n)
{
	enum fvl_status st = grow(b, n);
	if (st == FVL_STATUS_OK && n) {
		memcpy(b->p + b->n, v, n);
		b->n += n;
	}
	return st;
}

static enum fvl_status put_u32(struct bytes *b, uint32_t v)
{
	return put(b, &v, 4);
}
static enum fvl_status put_u64(struct bytes *b, uint64_t v)
{
	return put(b, &v, 8);
}

static enum fvl_status put_str(struct bytes *b, const char *s, uint64_t n)
{
	enum fvl_status st = put_u64(b, n);
	return st == FVL_STATUS_OK ? put(b, s, n) : st;
}

enum fvl_status fvl_gguf_writer_init(struct fvl_gguf_writer **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? FVL_STATUS_OK : fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
}

void fvl_gguf_writer_free(struct fvl_gguf_writer *w)
{
	if (!w)
		return;
	for (uint64_t i = 0; i < w->n_kv; i++)
		free(w->keys[i]);
	free(w->keys);
	free(w->kv.p);
	free(w->tensors);
	free(w);
}

/* Starts a metadata entry: key and type. */
static enum fvl_status begin_kv(struct fvl_gguf_writer *w, const char *key, uint32_t type)
{
	enum fvl_status st;
	size_t n = strlen(key);
	if (w->header_written)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "metadata '%s' added after the header "
		                "was written",
		                key);
	if (n == 0 || n > 65535)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "metadata key length %zu", n);
	if (strcmp(key, FVL_KEY_ALIGNMENT) == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "general.alignment is written by the "
		                "writer itself (%d)",
		                FVL_GGUF_ALIGNMENT);
	for (uint64_t i = 0; i < w->n_kv; i++)
		if (strcmp(w->keys[i], key) == 0)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "metadata '%s' set twice",
			                key);
	char **keys = realloc(w->keys, (w->n_kv + 1) * sizeof(*keys));
	if (!keys)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	w->keys = keys;
	if (!(keys[w->n_kv] = strdup(key)))
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	w->n_kv++;
	if ((st = put_str(&w->kv, key, n)) != FVL_STATUS_OK)
		return st;
	return put_u32(&w->kv, type);
}

static enum fvl_status
set_scalar(struct fvl_gguf_writer *w, const char *key, uint32_t type, const void *v)
{
	enum fvl_status st = begin_kv(w, key, type);
	return st == FVL_STATUS_OK ? put(&w->kv, v, fvl_gguf_value_size(type)) : st;
}

enum fvl_status fvl_gguf_writer_set_u32(struct fvl_gguf_writer *w, const char *key, uint32_t v)
{
	return set_scalar(w, key, FVL_GGUF_TYPE_UINT32, &v);
}

enum fvl_status fvl_gguf_writer_set_i32(struct fvl_gguf_writer *w, const char *key, int32_t v)
{
	return set_scalar(w, key, FVL_GGUF_TYPE_INT32, &v);
}

enum fvl_status fvl_gguf_writer_set_u64(struct fvl_gguf_writer *w, const char *key, uint64_t v)
{
	return set_scalar(w, key, FVL_GGUF_TYPE_UINT64, &v);
}

enum fvl_status fvl_gguf_writer_set_f32(struct fvl_gguf_writer *w, const char *key, float v)
{
	return set_scalar(w, key, FVL_GGUF_TYPE_FLOAT32, &v);
}

enum fvl_status fvl_gguf_writer_set_bool(struct fvl_gguf_writer *w, const char *key, bool v)
{
	uint8_t b = v;
	return set_scalar(w, key, FVL_GGUF_TYPE_BOOL, &b);
}

enum fvl_status
fvl_gguf_writer_set_strn(struct fvl_gguf_writer *w, const char *key, const char *v, uint64_t n)
{
	enum fvl_status st = begin_kv(w, key, FVL_GGUF_TYPE_STRING);
	return st == FVL_STATUS_OK ? put_str(&w->kv, v, n) : st;
}

enum fvl_status fvl_gguf_writer_set_str(struct fvl_gguf_writer *w, const char *key, const char *v)
{
	return fvl_gguf_writer_set_strn(w, key, v, strlen(v));
}

enum fvl_status fvl_gguf_writer_set_arr(struct fvl_gguf_writer *w, const char *key,
                                        enum fvl_gguf_type elem_type, const void *v, uint64_t n)
{
	uint32_t size = fvl_gguf_value_size(elem_type);
	uint64_t bytes;
	enum fvl_status st;
	if (size == 0 || !fvl_mul_u64(n, size, &bytes))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "metadata '%s': bad array", key);
	if ((st = begin_kv(w, key, FVL_GGUF_TYPE_ARRAY)) != FVL_STATUS_OK ||
	    (st = put_u32(&w->kv, elem_type)) != FVL_STATUS_OK ||
	    (st = put_u64(&w->kv, n)) != FVL_STATUS_OK)
		return st;
	return put(&w->kv, v, bytes);
}

enum fvl_status fvl_gguf_writer_set_arr_str(struct fvl_gguf_writer *w, const char *key,
                                            const char *const *v, const uint64_t *lens, uint64_t n)
{
	enum fvl_status st;
	if ((st = begin_kv(w, key, FVL_GGUF_TYPE_ARRAY)) != FVL_STATUS_OK ||
	    (st = put_u32(&w->kv, FVL_GGUF_TYPE_STRING)) != FVL_STATUS_OK ||
	    (st = put_u64(&w->kv, n)) != FVL_STATUS_OK)
		return st;
	for (uint64_t i = 0; i < n && st == FVL_STATUS_OK; i++)
		st = put_str(&w->kv, v[i], lens ? lens[i] : strlen(v[i]));
	return st;
}

enum fvl_status fvl_gguf_writer_add_tensor(struct fvl_gguf_writer *w, const char *name,
                                           enum fvl_type type, uint32_t n_dims, const uint64_t *ne,
                                           uint64_t *n_bytes)
{
	const struct fvl_type_info *ti = fvl_type_info(type);
	size_t len = strlen(name);
	uint64_t n_elem = 1, bytes, padded;

	if (w->header_written)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s' added after the header",
		                name);
	if (len == 0 || len > FVL_GGUF_MAX_NAME)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "tensor name '%s' is longer than %d "
		                "bytes",
		                name, FVL_GGUF_MAX_NAME);
	if (!ti)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s': unknown type %d", name,
		                type);
	if (n_dims == 0 || n_dims > FVL_GGUF_MAX_DIMS)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s': %u dimensions", name,
		                n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		if (ne[d] == 0 || !fvl_mul_u64(n_elem, ne[d], &n_elem))
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s': bad shape",
			                name);
	if (ne[0] % ti->blck)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "tensor '%s': row length %llu is not a "
		                "multiple of %u for %s",
		                name, (unsigned long long)ne[0], ti->blck, ti->name);
	for (uint64_t i = 0; i < w->n_tensors; i++)
		if (strcmp(w->tensors[i].name, name) == 0)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s' added twice",
			                name);
	bytes = n_elem / ti->blck * ti->size;
	if (!fvl_align_u64(bytes, FVL_GGUF_ALIGNMENT, &padded))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor '%s' is too large", name);
	enum fvl_status st = FVL_GROW(w->tensors, w->cap_tensors, w->n_tensors, 64);
	if (st != FVL_STATUS_OK)
		return st;
	struct wtensor *t = &w->tensors[w->n_tensors++];
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, len + 1);
	t->type = type;
	t->n_dims = n_dims;
	memcpy(t->ne, ne, n_dims * sizeof(*ne));
	t->offset = w->data_size;
	t->n_bytes = bytes;
	w->data_size += padded;
	if (n_bytes)
		*n_bytes = bytes;
	return FVL_STATUS_OK;
}

/* Header bytes before alignment: fixed part, metadata (plus general.alignment), tensor infos. */
static uint64_t header_bytes(const struct fvl_gguf_writer *w)
{
	uint64_t n = 4 + 4 + 8 + 8 + w->kv.n + (8 + strlen(FVL_KEY_ALIGNMENT) + 4 + 4);
	for (uint64_t i = 0; i < w->n_tensors; i++)
		n += 8 + strlen(w->tensors[i].name) + 4 + 8 * w->tensors[i].n_dims + 4 + 8;
	return n;
}

uint64_t fvl_gguf_writer_file_size(const struct fvl_gguf_writer *w)
{
	uint64_t h;
	fvl_align_u64(header_bytes(w), FVL_GGUF_ALIGNMENT, &h);
	return h + w->data_size;
}

static enum fvl_status write_bytes(struct fvl_gguf_writer *w, FILE *f, const void *p, uint64_t n)
{
	if (n && fwrite(p, 1, n, f) != n) {
		w->failed = true;
		if (errno == ENOSPC)
			return fvl_fail(FVL_STATUS_NO_SPACE, "write failed: %s", strerror(errno));
		return fvl_fail(FVL_STATUS_IO, "write failed: %s", strerror(errno));
	}
	return FVL_STATUS_OK;
}

static enum fvl_status write_zeros(struct fvl_gguf_writer *w, FILE *f, uint64_t n)
{
	static const uint8_t zeros[FVL_GGUF_ALIGNMENT];
	FVL_ASSERT(n <= sizeof(zeros));
	return write_bytes(w, f, zeros, n);
}

enum fvl_status fvl_gguf_writer_write_header(struct fvl_gguf_writer *w, FILE *f)
{
	struct bytes h = {0};
	enum fvl_status st;
	uint32_t align = FVL_GGUF_ALIGNMENT;

	if (w->header_written)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "header written twice");
	st = put(&h, FVL_GGUF_MAGIC, 4);
	if (st == FVL_STATUS_OK)
		st = put_u32(&h, FVL_GGUF_VERSION);
	if (st == FVL_STATUS_OK)
		st = put_u64(&h, w->n_tensors);
	if (st == FVL_STATUS_OK)
		st = put_u64(&h, w->n_kv + 1);
	if (st == FVL_STATUS_OK)
		st = put_str(&h, FVL_KEY_ALIGNMENT, strlen(FVL_KEY_ALIGNMENT));
	if (st == FVL_STATUS_OK)
		st = put_u32(&h, FVL_GGUF_TYPE_UINT32);
	if (st == FVL_STATUS_OK)
		st = put_u32(&h, align);
	if (st == FVL_STATUS_OK)
		st = put(&h, w->kv.p, w->kv.n);
	for (uint64_t i = 0; i < w->n_tensors && st == FVL_STATUS_OK; i++) {
		const struct wtensor *t = &w->tensors[i];
		st = put_str(&h, t->name, strlen(t->name));
		if (st == FVL_STATUS_OK)
			st = put_u32(&h, t->n_dims);
		for (uint32_t d = 0; d < t->n_dims && st == FVL_STATUS_OK; d++)
			st = put_u64(&h, t->ne[d]);
		if (st == FVL_STATUS_OK)
			st = put_u32(&h, t->type);
		if (st == FVL_STATUS_OK)
			st = put_u64(&h, t->offset);
	}
	uint64_t padded;
	fvl_align_u64(h.n, FVL_GGUF_ALIGNMENT, &padded);
	if (st == FVL_STATUS_OK)
		st = write_bytes(w, f, h.p, h.n);
	if (st == FVL_STATUS_OK)
		st = write_zeros(w, f, padded - h.n);
	free(h.p);
	if (st == FVL_STATUS_OK) {
		w->header_written = true;
		w->header_size = padded;
		w->cur = 0;
		w->cur_written = 0;
	}
	return st;
}

enum fvl_status
fvl_gguf_writer_write_data(struct fvl_gguf_writer *w, FILE *f, const void *data, uint64_t n)
{
	if (!w->header_written || w->cur >= w->n_tensors)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "tensor data written out of order");
	const struct wtensor *t = &w->tensors[w->cur];
	if (n > t->n_bytes - w->cur_written)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "tensor '%s': %llu bytes written, it has "
		                "%llu",
		                t->name, (unsigned long long)(w->cur_written + n),
		                (unsigned long long)t->n_bytes);
	w->cur_written += n;
	return write_bytes(w, f, data, n);
}

enum fvl_status fvl_gguf_writer_end_tensor(struct fvl_gguf_writer *w, FILE *f)
{
	if (!w->header_written || w->cur >= w->n_tensors)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "end_tensor without a tensor");
	const struct wtensor *t = &w->tensors[w->cur];
	if (w->cur_written != t->n_bytes)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "tensor '%s': %llu of %llu bytes written", t->name,
		                (unsigned long long)w->cur_written, (unsigned long long)t->n_bytes);
	uint64_t padded;
	fvl_align_u64(t->n_bytes, FVL_GGUF_ALIGNMENT, &padded);
	w->cur++;
	w->cur_written = 0;
	return write_zeros(w, f, padded - t->n_bytes);
}

enum fvl_status fvl_gguf_writer_finish(struct fvl_gguf_writer *w, FILE *f)
{
	if (!w->header_written)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "finish before the header");
	if (w->cur != w->n_tensors)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "finish after %llu of %llu tensors",
		                (unsigned long long)w->cur, (unsigned long long)w->n_tensors);
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno;
		return fvl_fail(e == ENOSPC ? FVL_STATUS_NO_SPACE : FVL_STATUS_IO,
		                "write failed: %s", strerror(e));
	}
	return FVL_STATUS_OK;
}
