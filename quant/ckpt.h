/* ckpt.h — the tensors of a Hugging Face checkpoint, whatever files hold them (safetensors,
 * sharded safetensors, PyTorch .bin): names, dtypes, shapes and strides over read-only mappings. */
#ifndef FVL_CKPT_H
#define FVL_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "fvl.h"

#define CKPT_MAX_DIMS 6

enum ckpt_dtype {
	CKPT_DTYPE_F32,
	CKPT_DTYPE_F16,
	CKPT_DTYPE_BF16,
	CKPT_DTYPE_OTHER, /* present in the file, but not a float type fvl converts */
};

struct ckpt_file {
	char *path;
	const uint8_t *map; /* (size) bytes, read-only */
	uint64_t size;
};

struct ckpt_tensor {
	char *name; /* the checkpoint's name, owned */
	enum ckpt_dtype dtype;
	char dtype_name[16]; /* as the file spells it ("BF16", "torch.LongStorage") */
	uint32_t n_dims;
	uint64_t shape[CKPT_MAX_DIMS]; /* PyTorch order: shape[n_dims-1] is contiguous */
	int64_t stride[CKPT_MAX_DIMS]; /* in elements */
	const uint8_t *storage;        /* start of the storage inside a mapping */
	uint64_t storage_n;            /* elements the storage holds */
	uint64_t offset;               /* element offset of [0,0,...] in the storage */
	const struct ckpt_file *file;
	uint64_t seed; /* storage == NULL: synthetic values from this seed */
};

struct ckpt {
	struct ckpt_file **files; /* (n_files), each allocated once so tensors can point at it */
	uint32_t n_files;
	struct ckpt_tensor *tensors;
	uint64_t n_tensors, cap_tensors;
	uint64_t *by_name; /* sorted index, built by ckpt_index */
};

void ckpt_init(struct ckpt *c);
void ckpt_free(struct ckpt *c);

/* Maps a file read-only and adds it to c. */
enum fvl_status ckpt_map_file(struct ckpt *c, const char *path, const struct ckpt_file **out);
/* Adds all tensors of one safetensors file. */
enum fvl_status ckpt_add_safetensors(struct ckpt *c, const char *path);
/* Adds all tensors of a PyTorch zip checkpoint (torch.save of a state dict). */
enum fvl_status ckpt_add_torch(struct ckpt *c, const char *path);
/* Appends one tensor (copied; the caller keeps nothing). */
enum fvl_status ckpt_push(struct ckpt *c, const struct ckpt_tensor *t);
/* Sorts the name index; duplicate names are an error. Call after adding everything. */
enum fvl_status ckpt_index(struct ckpt *c);

const struct ckpt_tensor *ckpt_find(const struct ckpt *c, const char *name);

uint64_t ckpt_numel(const struct ckpt_tensor *t);
/* Reads rows [row0, row0 + n_rows) of the tensor viewed as (numel / shape[last]) rows of
 * shape[last] elements, converted to f32, into out. Checks every index against the storage. */
enum fvl_status
ckpt_read_rows(const struct ckpt_tensor *t, uint64_t row0, uint64_t n_rows, float *out);
/* Drops the mapped pages that hold rows [row0, row0 + n_rows) of a contiguous tensor once they are
 * read, so a converter's resident memory stays near one chunk even for a 157 MB embedding
 * (a strided view keeps its pages until the whole tensor is released). */
void ckpt_release_rows(const struct ckpt_tensor *t, uint64_t row0, uint64_t n_rows);
/* Adds a synthetic f32 tensor: deterministic pseudo-random values in [-scale, scale]. */
enum fvl_status ckpt_push_random(struct ckpt *c, const char *name, uint32_t n_dims,
                                 const uint64_t *shape, uint64_t seed);
/* A transposed view of a 2-D tensor (no copy). */
struct ckpt_tensor ckpt_transpose(const struct ckpt_tensor *t);
/* t with its last n dimensions folded into one row (a convolution [cout, cin, kh, kw] as the
 * linear [cout, cin kh kw]): false, and out untouched, unless those dimensions are laid out as
 * one run of elements. */
bool ckpt_fold_rows(const struct ckpt_tensor *t, uint32_t n, struct ckpt_tensor *out);
/* True when both tensors hold the same values (same shape and dtype, same bytes). */
bool ckpt_same_data(const struct ckpt_tensor *a, const struct ckpt_tensor *b);

#endif /* FVL_CKPT_H */
