/* ckpt.c — the checkpoint tensor set: file mappings, the name index, strided reads into f32. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "common.h"
#include "fp16.h"

static const uint32_t dtype_size[] = {
        [CKPT_DTYPE_F32] = 4, [CKPT_DTYPE_F16] = 2, [CKPT_DTYPE_BF16] = 2, [CKPT_DTYPE_OTHER] = 0};

void ckpt_init(struct ckpt *c)
{
	memset(c, 0, sizeof(*c));
}

void ckpt_free(struct ckpt *c)
{
	for (uint32_t i = 0; i < c->n_files; i++) {
		if (c->files[i]->map)
			munmap((void *)c->files[i]->map, (size_t)c->files[i]->size);
		free(c->files[i]->path);
		free(c->files[i]);
	}
	for (uint64_t i = 0; i < c->n_tensors; i++)
		free(c->tensors[i].name);
	free(c->files);
	free(c->tensors);
	free(c->by_name);
	memset(c, 0, sizeof(*c));
}

enum fvl_status ckpt_map_file(struct ckpt *c, const char *path, const struct ckpt_file **out)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fvl_fail(errno == ENOENT ? FVL_STATUS_NOT_FOUND : FVL_STATUS_IO,
		                "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return fvl_fail(FVL_STATUS_IO, "%s: not a regular file", path);
	}
	void *map = NULL;
	if (sb.st_size > 0) {
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			close(fd);
			return fvl_fail(FVL_STATUS_IO, "%s: cannot map: %s", path, strerror(errno));
		}
		madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
	}
	close(fd);
	struct ckpt_file **files = realloc(c->files, (c->n_files + 1) * sizeof(*files));
	struct ckpt_file *f = malloc(sizeof(*f));
	char *p = strdup(path);
	if (files)
		c->files = files;
	if (!files || !f || !p) {
		free(f);
		free(p);
		if (map)
			munmap(map, (size_t)sb.st_size);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	*f = (struct ckpt_file){p, map, (uint64_t)sb.st_size};
	files[c->n_files++] = f;
	*out = f;
	return FVL_STATUS_OK;
}

enum fvl_status ckpt_push(struct ckpt *c, const struct ckpt_tensor *t)
{
	enum fvl_status st = FVL_GROW(c->tensors, c->cap_tensors, c->n_tensors, 256);
	if (st != FVL_STATUS_OK)
		return st;
	struct ckpt_tensor *d = &c->tensors[c->n_tensors];
	*d = *t;
	if (!(d->name = strdup(t->name)))
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	c->n_tensors++;
	return FVL_STATUS_OK;
}

static const struct ckpt *sort_ctx;

static int cmp_idx(const void *a, const void *b)
{
	return strcmp(sort_ctx->tensors[*(const uint64_t *)a].name,
	              sort_ctx->tensors[*(const uint64_t *)b].name);
}

enum fvl_status ckpt_index(struct ckpt *c)
{
	free(c->by_name);
	c->by_name = malloc((c->n_tensors ? c->n_tensors : 1) * sizeof(*c->by_name));
	if (!c->by_name)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (uint64_t i = 0; i < c->n_tensors; i++)
		c->by_name[i] = i;
	sort_ctx = c; /* qsort has no context argument; the converter is single-threaded here */
	qsort(c->by_name, c->n_tensors, sizeof(*c->by_name), cmp_idx);
	sort_ctx = NULL;
	for (uint64_t i = 1; i < c->n_tensors; i++) {
		const struct ckpt_tensor *a = &c->tensors[c->by_name[i - 1]];
		const struct ckpt_tensor *b = &c->tensors[c->by_name[i]];
		if (strcmp(a->name, b->name) == 0)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "tensor '%s' appears twice (%s and %s)", a->name,
			                a->file->path, b->file->path);
	}
	return FVL_STATUS_OK;
}

const struct ckpt_tensor *ckpt_find(const struct ckpt *c, const char *name)
{
	uint64_t lo = 0, hi = c->n_tensors;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->tensors[c->by_name[mid]].name, name);
		if (r == 0)
			return &c->tensors[c->by_name[mid]];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t ckpt_numel(const struct ckpt_tensor *t)
{
	uint64_t n = 1;
	for (uint32_t d = 0; d < t->n_dims; d++)
		n *= t->shape[d];
	return n;
}

enum fvl_status ckpt_push_random(struct ckpt *c, const char *name, uint32_t n_dims,
                                 const uint64_t *shape, uint64_t seed)
{
	struct ckpt_tensor t;
	memset(&t, 0, sizeof(t));
	t.name = (char *)name;
	t.dtype = CKPT_DTYPE_F32;
	snprintf(t.dtype_name, sizeof(t.dtype_name), "random");
	t.n_dims = n_dims;
	int64_t stride = 1;
	for (uint32_t d = n_dims; d-- > 0;) {
		t.shape[d] = shape[d];
		t.stride[d] = stride;
		stride *= (int64_t)shape[d];
	}
	t.storage_n = (uint64_t)stride;
	/* FNV-1a of the name, so each tensor has its own stream. */
	uint64_t h = 1469598103934665603ull ^ seed;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	t.seed = h | 1;
	enum fvl_status st = ckpt_push(c, &t);
	if (st == FVL_STATUS_OK)
		ckpt_index(c);
	return st;
}

/* Element i of a synthetic tensor: a hash of (seed, i) mapped to [-0.05, 0.05]. */
static inline float random_elem(uint64_t seed, uint64_t i)
{
	uint64_t z = seed + i * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((float)(z >> 40) * 0x1p-24f - 0.5f) * 0.1f;
}

static inline float load_elem(const struct ckpt_tensor *t, uint64_t i)
{
	uint16_t h;
	float f;
	switch (t->dtype) {
	case CKPT_DTYPE_F32: memcpy(&f, t->storage + 4 * i, 4); return f;
	case CKPT_DTYPE_F16: memcpy(&h, t->storage + 2 * i, 2); return fvl_fp16_to_fp32(h);
	case CKPT_DTYPE_BF16: memcpy(&h, t->storage + 2 * i, 2); return fvl_bf16_to_fp32(h);
	default: return 0.0f;
	}
}

/* Checks that every element of the view lies inside the storage (once per tensor). */
static enum fvl_status check_bounds(const struct ckpt_tensor *t)
{
	int64_t lo = (int64_t)t->offset, hi = (int64_t)t->offset;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		int64_t span = (int64_t)(t->shape[d] - 1) * t->stride[d];
		if (span < 0)
			lo += span;
		else
			hi += span;
	}
	if (lo < 0 || (uint64_t)hi >= t->storage_n)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: tensor '%s' reaches element %lld of a "
		                "storage of %llu",
		                t->file ? t->file->path : "?", t->name,
		                (long long)(lo < 0 ? lo : hi), (unsigned long long)t->storage_n);
	return FVL_STATUS_OK;
}

/* True when the tensor's elements lie in storage order (row-major, no gaps). */
static bool is_contiguous(const struct ckpt_tensor *t)
{
	uint64_t expect = 1;
	for (uint32_t d = t->n_dims; d-- > 0;) {
		if (t->shape[d] != 1 && t->stride[d] != (int64_t)expect)
			return false;
		expect *= t->shape[d];
	}
	return true;
}

void ckpt_release_rows(const struct ckpt_tensor *t, uint64_t row0, uint64_t n_rows)
{
	static long page;
	if (!t->storage || t->dtype == CKPT_DTYPE_OTHER || !is_contiguous(t) ||
	    check_bounds(t) != FVL_STATUS_OK)
		return;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	const uint64_t ncol = t->n_dims ? t->shape[t->n_dims - 1] : 1;
	const uint64_t es = t->dtype == CKPT_DTYPE_F32 ? 4 : 2;
	const uintptr_t lo =
	        ((uintptr_t)t->storage + (t->offset + row0 * ncol) * es) & ~(uintptr_t)(page - 1);
	const uintptr_t hi = (uintptr_t)t->storage + (t->offset + (row0 + n_rows) * ncol) * es;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED); /* a page read again faults back in */
}

enum fvl_status
ckpt_read_rows(const struct ckpt_tensor *t, uint64_t row0, uint64_t n_rows, float *out)
{
	if (t->dtype == CKPT_DTYPE_OTHER)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: tensor '%s' has dtype %s; fvl converts "
		                "F32, F16 and BF16",
		                t->file ? t->file->path : "?", t->name, t->dtype_name);
	if (!t->storage) { /* synthetic: values depend only on the seed and the element index */
		const uint32_t nd = t->n_dims;
		const uint64_t ncol = t->shape[nd - 1];
		for (uint64_t r = row0; r < row0 + n_rows; r++) {
			/* offset of the row in the untransposed tensor, so views agree with it */
			int64_t base = 0;
			uint64_t rem = r;
			for (uint32_t d = nd - 1; d-- > 0;) {
				base += (int64_t)(rem % t->shape[d]) * t->stride[d];
				rem /= t->shape[d];
			}
			float *o = out + (r - row0) * ncol;
			for (uint64_t j = 0; j < ncol; j++)
				o[j] = random_elem(
				        t->seed, (uint64_t)(base + (int64_t)j * t->stride[nd - 1]));
		}
		return FVL_STATUS_OK;
	}
	enum fvl_status st = check_bounds(t);
	if (st != FVL_STATUS_OK)
		return st;
	const uint32_t nd = t->n_dims;
	const uint64_t ncol = nd ? t->shape[nd - 1] : 1;
	const int64_t cstride = nd ? t->stride[nd - 1] : 1;
	bool contiguous = true;
	uint64_t expect = 1;
	for (uint32_t d = nd; d-- > 0;) {
		if (t->shape[d] != 1 && t->stride[d] != (int64_t)expect)
			contiguous = false;
		expect *= t->shape[d];
	}
	for (uint64_t r = row0; r < row0 + n_rows; r++) {
		/* Offset of row r: decompose r over the outer dimensions. */
		int64_t base = (int64_t)t->offset;
		if (contiguous) {
			base += (int64_t)(r * ncol);
		} else {
			uint64_t rem = r;
			for (uint32_t d = nd - 1; d-- > 0;) {
				base += (int64_t)(rem % t->shape[d]) * t->stride[d];
				rem /= t->shape[d];
			}
		}
		float *o = out + (r - row0) * ncol;
		if (cstride == 1 && t->dtype == CKPT_DTYPE_F32) {
			memcpy(o, t->storage + 4 * (uint64_t)base, 4 * ncol);
			continue;
		}
		for (uint64_t j = 0; j < ncol; j++)
			o[j] = load_elem(t, (uint64_t)(base + (int64_t)j * cstride));
	}
	return FVL_STATUS_OK;
}

struct ckpt_tensor ckpt_transpose(const struct ckpt_tensor *t)
{
	struct ckpt_tensor v = *t;
	v.shape[0] = t->shape[1];
	v.shape[1] = t->shape[0];
	v.stride[0] = t->stride[1];
	v.stride[1] = t->stride[0];
	return v;
}

bool ckpt_fold_rows(const struct ckpt_tensor *t, uint32_t n, struct ckpt_tensor *out)
{
	if (n < 1 || n > t->n_dims)
		return false;
	const uint32_t keep = t->n_dims - n;
	int64_t expect = t->stride[t->n_dims - 1];
	uint64_t len = 1;
	for (uint32_t d = t->n_dims; d-- > keep;) {
		if (t->shape[d] != 1 && t->stride[d] != expect)
			return false;
		expect *= (int64_t)t->shape[d];
		len *= t->shape[d];
	}
	*out = *t;
	out->n_dims = keep + 1;
	out->shape[keep] = len;
	out->stride[keep] = t->stride[t->n_dims - 1];
	return true;
}

bool ckpt_same_data(const struct ckpt_tensor *a, const struct ckpt_tensor *b)
{
	if (a->dtype != b->dtype || a->dtype == CKPT_DTYPE_OTHER || a->n_dims != b->n_dims)
		return false;
	for (uint32_t d = 0; d < a->n_dims; d++)
		if (a->shape[d] != b->shape[d] || a->stride[d] != b->stride[d])
			return false;
	if (check_bounds(a) != FVL_STATUS_OK || check_bounds(b) != FVL_STATUS_OK)
		return false;
	uint64_t es = dtype_size[a->dtype];
	if (a->storage == b->storage && a->offset == b->offset)
		return true;
	/* Only contiguous tensors are compared byte-wise; others count as different. */
	uint64_t expect = 1;
	for (uint32_t d = a->n_dims; d-- > 0;) {
		if (a->shape[d] != 1 && a->stride[d] != (int64_t)expect)
			return false;
		expect *= a->shape[d];
	}
	return memcmp(a->storage + es * a->offset, b->storage + es * b->offset,
	              es * ckpt_numel(a)) == 0;
}
