/* gguf.c — GGUF reader: every count, length, offset and size is checked against the file before
 * use; values are read with memcpy (the file is little-endian, as are fvl's targets). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "names.h"
#include "gguf.h"

static const struct fvl_type_info type_infos[] = {
        [FVL_TYPE_F32] = {"f32", 1, 4},     [FVL_TYPE_F16] = {"f16", 1, 2},
        [FVL_TYPE_Q4_0] = {"q4_0", 32, 18}, [FVL_TYPE_Q8_0] = {"q8_0", 32, 34},
        [FVL_TYPE_BF16] = {"bf16", 1, 2},
};

const struct fvl_type_info *fvl_type_info(uint32_t type)
{
	if (type >= sizeof(type_infos) / sizeof(type_infos[0]) || !type_infos[type].name)
		return NULL;
	return &type_infos[type];
}

bool fvl_type_from_name(const char *name, enum fvl_type *out)
{
	for (uint32_t t = 0; t < sizeof(type_infos) / sizeof(type_infos[0]); t++) {
		if (type_infos[t].name && strcasecmp(name, type_infos[t].name) == 0) {
			*out = (enum fvl_type)t;
			return true;
		}
	}
	return false;
}

static const char *const gguf_type_names[FVL_GGUF_TYPE_N_TYPES] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};
/* Bytes of one value; 0 for STRING and ARRAY (variable). */
static const uint8_t gguf_type_size[FVL_GGUF_TYPE_N_TYPES] = {1, 1, 2, 2, 4, 4, 4,
                                                              1, 0, 0, 8, 8, 8};

const char *fvl_gguf_type_name(uint32_t type)
{
	return type < FVL_GGUF_TYPE_N_TYPES ? gguf_type_names[type] : "?";
}

uint32_t fvl_gguf_value_size(uint32_t type)
{
	return type < FVL_GGUF_TYPE_N_TYPES ? gguf_type_size[type] : 0;
}

bool fvl_str_eq(struct fvl_str s, const char *c)
{
	size_t n = strlen(c);
	return s.n == n && memcmp(s.p, c, n) == 0;
}

/* ---- parsing ------------------------------------------------------------------------------ */

struct cursor {
	const uint8_t *base;
	uint64_t pos, size;
};

static enum fvl_status truncated(const struct cursor *c, uint64_t need, const char *what)
{
	return fvl_fail(FVL_STATUS_BAD_FILE,
	                "truncated: %s needs %llu bytes at offset %llu, the file has %llu", what,
	                (unsigned long long)need, (unsigned long long)c->pos,
	                (unsigned long long)c->size);
}

static enum fvl_status take(struct cursor *c, uint64_t n, const char *what, const uint8_t **p)
{
	*p = NULL;
	if (n > c->size - c->pos)
		return truncated(c, n, what);
	*p = c->base + c->pos;
	c->pos += n;
	return FVL_STATUS_OK;
}

static enum fvl_status read_u32(struct cursor *c, const char *what, uint32_t *v)
{
	const uint8_t *p;
	enum fvl_status st = take(c, 4, what, &p);
	if (st == FVL_STATUS_OK)
		memcpy(v, p, 4);
	return st;
}

static enum fvl_status read_u64(struct cursor *c, const char *what, uint64_t *v)
{
	const uint8_t *p;
	enum fvl_status st = take(c, 8, what, &p);
	if (st == FVL_STATUS_OK)
		memcpy(v, p, 8);
	return st;
}

static enum fvl_status read_str(struct cursor *c, const char *what, struct fvl_str *s)
{
	uint64_t n;
	const uint8_t *p;
	enum fvl_status st = read_u64(c, what, &n);
	if (st != FVL_STATUS_OK)
		return st;
	if (n > c->size - c->pos)
		return fvl_fail(
		        FVL_STATUS_BAD_FILE,
		        "%s: string length %llu at offset %llu runs past the end of the file "
		        "(%llu bytes)",
		        what, (unsigned long long)n, (unsigned long long)(c->pos - 8),
		        (unsigned long long)c->size);
	st = take(c, n, what, &p);
	s->p = (const char *)p;
	s->n = n;
	return st;
}

/* Skips one value of type t (not ARRAY), checking it is inside the file. */
static enum fvl_status skip_value(struct cursor *c, uint32_t t, const char *what)
{
	const uint8_t *p;
	if (t == FVL_GGUF_TYPE_STRING) {
		struct fvl_str s;
		return read_str(c, what, &s);
	}
	return take(c, gguf_type_size[t], what, &p);
}

static int cmp_name(const struct fvl_gguf *g, uint64_t a, uint64_t b)
{
	struct fvl_str x = g->tensors[a].name, y = g->tensors[b].name;
	int r = memcmp(x.p, y.p, x.n < y.n ? x.n : y.n);
	if (r)
		return r;
	return x.n < y.n ? -1 : x.n > y.n;
}

/* Sorts idx[0..n) by tensor name (heap sort: no recursion, no qsort context pointer needed). */
static void sort_by_name(const struct fvl_gguf *g, uint64_t *idx, uint64_t n)
{
	for (uint64_t start = n / 2; start-- > 0;) {
		for (uint64_t root = start;;) {
			uint64_t child = 2 * root + 1;
			if (child >= n)
				break;
			if (child + 1 < n && cmp_name(g, idx[child], idx[child + 1]) < 0)
				child++;
			if (cmp_name(g, idx[root], idx[child]) >= 0)
				break;
			uint64_t t = idx[root];
			idx[root] = idx[child];
			idx[child] = t;
			root = child;
		}
	}
	for (uint64_t end = n; end-- > 1;) {
		uint64_t t = idx[0];
		idx[0] = idx[end];
		idx[end] = t;
		for (uint64_t root = 0;;) {
			uint64_t child = 2 * root + 1;
			if (child >= end)
				break;
			if (child + 1 < end && cmp_name(g, idx[child], idx[child + 1]) < 0)
				child++;
			if (cmp_name(g, idx[root], idx[child]) >= 0)
				break;
			uint64_t u = idx[root];
			idx[root] = idx[child];
			idx[child] = u;
			root = child;
		}
	}
}

static int cmp_u64_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static enum fvl_status parse_kvs(struct fvl_gguf *g, struct cursor *c)
{
	/* Smallest KV: key length (8) + type (4) + a 1-byte value. */
	if (g->n_kv > (c->size - c->pos) / 13)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "metadata count %llu is impossible for a file of %llu bytes "
		                "(truncated or corrupt)",
		                (unsigned long long)g->n_kv, (unsigned long long)c->size);
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv));
	if (!g->kv)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for %llu metadata entries",
		                (unsigned long long)g->n_kv);

	/* String-array element offsets go into one pool, grown geometrically (at most size/8). */
	uint64_t pool_n = 0, pool_cap = 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct fvl_gguf_kv *kv = &g->kv[i];
		enum fvl_status st = read_str(c, "metadata key", &kv->key);
		if (st != FVL_STATUS_OK)
			return st;
		if (kv->key.n == 0 || kv->key.n > 65535)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "metadata key %llu has length %llu "
			                "(must be 1..65535)",
			                (unsigned long long)i, (unsigned long long)kv->key.n);
		if (memchr(kv->key.p, '\0', kv->key.n))
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "metadata key %llu contains a NUL byte",
			                (unsigned long long)i);
		for (uint64_t j = 0; j < i; j++)
			if (g->kv[j].key.n == kv->key.n &&
			    memcmp(g->kv[j].key.p, kv->key.p, kv->key.n) == 0)
				return fvl_fail(FVL_STATUS_BAD_FILE,
				                "metadata key '%.*s' appears twice", (int)kv->key.n,
				                kv->key.p);
		st = read_u32(c, "metadata type", &kv->type);
		if (st != FVL_STATUS_OK)
			return st;
		if (kv->type >= FVL_GGUF_TYPE_N_TYPES)
			return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%.*s' has unknown type %u",
			                (int)kv->key.n, kv->key.p, kv->type);
		kv->n = 1;
		if (kv->type != FVL_GGUF_TYPE_ARRAY) {
			kv->data = c->base + c->pos;
			st = skip_value(c, kv->type, "metadata value");
			if (st != FVL_STATUS_OK)
				return st;
			continue;
		}
		st = read_u32(c, "array element type", &kv->arr_type);
		if (st == FVL_STATUS_OK)
			st = read_u64(c, "array length", &kv->n);
		if (st != FVL_STATUS_OK)
			return st;
		if (kv->arr_type == FVL_GGUF_TYPE_ARRAY)
			return fvl_fail(FVL_STATUS_UNSUPPORTED,
			                "metadata '%.*s' is an array of arrays, "
			                "which fvl does not read",
			                (int)kv->key.n, kv->key.p);
		if (kv->arr_type >= FVL_GGUF_TYPE_N_TYPES)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "metadata '%.*s' is an array of unknown "
			                "type %u",
			                (int)kv->key.n, kv->key.p, kv->arr_type);
		uint64_t min_elem =
		        kv->arr_type == FVL_GGUF_TYPE_STRING ? 8 : gguf_type_size[kv->arr_type];
		if (kv->n > (c->size - c->pos) / min_elem)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "metadata '%.*s': array of %llu %s "
			                "elements cannot fit in the %llu bytes left in the file",
			                (int)kv->key.n, kv->key.p, (unsigned long long)kv->n,
			                gguf_type_names[kv->arr_type],
			                (unsigned long long)(c->size - c->pos));
		kv->data = c->base + c->pos;
		if (kv->arr_type != FVL_GGUF_TYPE_STRING) {
			const uint8_t *p;
			st = take(c, kv->n * min_elem, "array data", &p);
			if (st != FVL_STATUS_OK)
				return st;
			continue;
		}
		if (pool_n + kv->n > pool_cap) {
			uint64_t cap = pool_cap ? pool_cap : 64;
			while (cap < pool_n + kv->n)
				cap *= 2;
			uint64_t *p = realloc(g->str_off_pool, cap * sizeof(*p));
			if (!p)
				return fvl_fail(FVL_STATUS_OUT_OF_MEMORY,
				                "out of memory for string arrays");
			g->str_off_pool = p;
			pool_cap = cap;
		}
		kv->str_first = pool_n; /* becomes str_off once the pool stops moving */
		for (uint64_t j = 0; j < kv->n; j++) {
			struct fvl_str s;
			g->str_off_pool[pool_n + j] = (uint64_t)(c->base + c->pos - kv->data);
			st = read_str(c, "array string", &s);
			if (st != FVL_STATUS_OK)
				return st;
		}
		pool_n += kv->n;
	}
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].type == FVL_GGUF_TYPE_ARRAY &&
		    g->kv[i].arr_type == FVL_GGUF_TYPE_STRING && g->kv[i].n > 0)
			g->kv[i].str_off = g->str_off_pool + g->kv[i].str_first;
	return FVL_STATUS_OK;
}

static enum fvl_status parse_alignment(struct fvl_gguf *g)
{
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, FVL_KEY_ALIGNMENT);
	g->alignment = FVL_GGUF_DEFAULT_ALIGNMENT;
	if (!kv)
		return FVL_STATUS_OK;
	if (kv->type != FVL_GGUF_TYPE_UINT32)
		return fvl_fail(FVL_STATUS_BAD_FILE, "general.alignment has type %s, expected u32",
		                fvl_gguf_type_name(kv->type));
	uint32_t a;
	memcpy(&a, kv->data, 4);
	if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "general.alignment %u is not a power of two "
		                "in 1..1048576",
		                a);
	g->alignment = a;
	return FVL_STATUS_OK;
}

static enum fvl_status parse_tensor_info(struct fvl_gguf *g, struct cursor *c, uint64_t i)
{
	struct fvl_gguf_tensor *t = &g->tensors[i];
	enum fvl_status st = read_str(c, "tensor name", &t->name);
	if (st != FVL_STATUS_OK)
		return st;
	if (t->name.n == 0 || t->name.n > FVL_GGUF_MAX_NAME)
		return fvl_fail(
		        FVL_STATUS_BAD_FILE, "tensor %llu: name length %llu (must be 1..%d)",
		        (unsigned long long)i, (unsigned long long)t->name.n, FVL_GGUF_MAX_NAME);
	int nl = (int)t->name.n;
	if (memchr(t->name.p, '\0', t->name.n))
		return fvl_fail(FVL_STATUS_BAD_FILE, "tensor %llu: name contains a NUL byte",
		                (unsigned long long)i);
	st = read_u32(c, "tensor dimension count", &t->n_dims);
	if (st != FVL_STATUS_OK)
		return st;
	if (t->n_dims == 0 || t->n_dims > FVL_GGUF_MAX_DIMS)
		return fvl_fail(FVL_STATUS_BAD_FILE, "tensor '%.*s': %u dimensions (must be 1..%d)",
		                nl, t->name.p, t->n_dims, FVL_GGUF_MAX_DIMS);
	uint64_t n_elem = 1;
	for (uint32_t d = 0; d < FVL_GGUF_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d >= t->n_dims)
			continue;
		st = read_u64(c, "tensor dimension", &t->ne[d]);
		if (st != FVL_STATUS_OK)
			return st;
		if (t->ne[d] == 0)
			return fvl_fail(FVL_STATUS_BAD_FILE, "tensor '%.*s': dimension %u is 0", nl,
			                t->name.p, d);
		if (!fvl_mul_u64(n_elem, t->ne[d], &n_elem) || n_elem > (UINT64_MAX >> 8))
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "tensor '%.*s': element count overflows", nl, t->name.p);
	}
	st = read_u32(c, "tensor type", &t->type);
	if (st == FVL_STATUS_OK)
		st = read_u64(c, "tensor offset", &t->offset);
	if (st != FVL_STATUS_OK)
		return st;
	const struct fvl_type_info *ti = fvl_type_info(t->type);
	if (!ti)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "tensor '%.*s': tensor type %u is not one "
		                "fvl reads (f32, f16, bf16, q8_0, q4_0)",
		                nl, t->name.p, t->type);
	if (t->ne[0] % ti->blck != 0)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "tensor '%.*s': row length %llu is not a "
		                "multiple of the %s block size %u",
		                nl, t->name.p, (unsigned long long)t->ne[0], ti->name, ti->blck);
	t->n_bytes = n_elem / ti->blck * ti->size; /* cannot overflow: n_elem < 2^56, size <= 34 */
	if (t->offset % g->alignment != 0)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "tensor '%.*s': offset %llu is not a multiple "
		                "of the alignment %u",
		                nl, t->name.p, (unsigned long long)t->offset, g->alignment);
	return FVL_STATUS_OK;
}

static enum fvl_status check_tensor_data(struct fvl_gguf *g)
{
	uint64_t avail = g->size - g->data_offset;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct fvl_gguf_tensor *t = &g->tensors[i];
		uint64_t end;
		if (!fvl_add_u64(t->offset, t->n_bytes, &end) || end > avail)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "tensor '%.*s': data [%llu, +%llu) runs "
			                "past the end of the data section (%llu bytes)",
			                (int)t->name.n, t->name.p, (unsigned long long)t->offset,
			                (unsigned long long)t->n_bytes, (unsigned long long)avail);
		t->data = g->map + g->data_offset + t->offset;
	}
	/* Overlaps: sort (offset, index) pairs and compare neighbours. */
	if (g->n_tensors < 2)
		return FVL_STATUS_OK;
	uint64_t *pairs = malloc(g->n_tensors * 2 * sizeof(*pairs));
	if (!pairs)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		pairs[2 * i] = g->tensors[i].offset;
		pairs[2 * i + 1] = i;
	}
	qsort(pairs, g->n_tensors, 2 * sizeof(*pairs), cmp_u64_pair);
	enum fvl_status st = FVL_STATUS_OK;
	for (uint64_t i = 1; i < g->n_tensors && st == FVL_STATUS_OK; i++) {
		const struct fvl_gguf_tensor *a = &g->tensors[pairs[2 * i - 2 + 1]];
		const struct fvl_gguf_tensor *b = &g->tensors[pairs[2 * i + 1]];
		if (a->offset + a->n_bytes > b->offset)
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "tensors '%.*s' and '%.*s' overlap in the "
			              "file",
			              (int)a->name.n, a->name.p, (int)b->name.n, b->name.p);
	}
	free(pairs);
	return st;
}

enum fvl_status fvl_gguf_parse(const void *buf, uint64_t size, struct fvl_gguf **out)
{
	enum fvl_status st;
	struct cursor c = {buf, 0, size};
	const uint8_t *magic;
	struct fvl_gguf *g;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	g->map = buf;
	g->size = size;

	st = take(&c, 4, "magic", &magic);
	if (st != FVL_STATUS_OK)
		goto error;
	if (memcmp(magic, FVL_GGUF_MAGIC, 4) != 0) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "not a GGUF file (magic %02x %02x %02x %02x, "
		              "expected 'GGUF')",
		              magic[0], magic[1], magic[2], magic[3]);
		goto error;
	}
	if ((st = read_u32(&c, "version", &g->version)) != FVL_STATUS_OK)
		goto error;
	if (g->version != 2 && g->version != 3) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED,
		              "GGUF version %u%s; fvl reads versions 2 and 3", g->version,
		              __builtin_bswap32(g->version) <= 3 ? " (a big-endian file?)" : "");
		goto error;
	}
	if ((st = read_u64(&c, "tensor count", &g->n_tensors)) != FVL_STATUS_OK ||
	    (st = read_u64(&c, "metadata count", &g->n_kv)) != FVL_STATUS_OK)
		goto error;
	/* Smallest tensor info: name length (8) + 1 name byte + n_dims (4) + 1 dim (8) + type (4) +
	 * offset (8). */
	if (g->n_tensors > (size - c.pos) / 33) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "tensor count %llu is impossible for a file of "
		              "%llu bytes (truncated or corrupt)",
		              (unsigned long long)g->n_tensors, (unsigned long long)size);
		goto error;
	}
	if ((st = parse_kvs(g, &c)) != FVL_STATUS_OK || (st = parse_alignment(g)) != FVL_STATUS_OK)
		goto error;

	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->tensors));
	g->by_name = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->by_name));
	if (!g->tensors || !g->by_name) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for %llu tensors",
		              (unsigned long long)g->n_tensors);
		goto error;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		if ((st = parse_tensor_info(g, &c, i)) != FVL_STATUS_OK)
			goto error;
		g->by_name[i] = i;
	}
	sort_by_name(g, g->by_name, g->n_tensors);
	for (uint64_t i = 1; i < g->n_tensors; i++) {
		if (cmp_name(g, g->by_name[i - 1], g->by_name[i]) == 0) {
			struct fvl_str n = g->tensors[g->by_name[i]].name;
			st = fvl_fail(FVL_STATUS_BAD_FILE, "tensor name '%.*s' appears twice",
			              (int)n.n, n.p);
			goto error;
		}
	}
	if (!fvl_align_u64(c.pos, g->alignment, &g->data_offset) ||
	    (g->n_tensors > 0 && g->data_offset > size)) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "truncated: the data section would start at "
		              "offset %llu, the file has %llu bytes",
		              (unsigned long long)g->data_offset, (unsigned long long)size);
		goto error;
	}
	if (g->data_offset > size)
		g->data_offset = size;
	if ((st = check_tensor_data(g)) != FVL_STATUS_OK)
		goto error;
	*out = g;
	return FVL_STATUS_OK;

error:
	fvl_gguf_free(g);
	return st;
}

enum fvl_status fvl_gguf_open(const char *path, struct fvl_gguf **out)
{
	struct stat sb;
	void *map;
	enum fvl_status st;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fvl_fail(errno == ENOENT ? FVL_STATUS_NOT_FOUND : FVL_STATUS_IO,
		                "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		st = fvl_fail(FVL_STATUS_IO, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return st;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%s: not a regular file", path);
	}
	if (sb.st_size < 24) {
		close(fd);
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: truncated: %lld bytes is shorter than a "
		                "GGUF header (24)",
		                path, (long long)sb.st_size);
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fvl_fail(FVL_STATUS_IO, "%s: cannot map: %s", path, strerror(errno));
	st = fvl_gguf_parse(map, (uint64_t)sb.st_size, out);
	if (st != FVL_STATUS_OK) {
		munmap(map, (size_t)sb.st_size);
		fvl_error_prefix(path);
		return st;
	}
	(*out)->mapped = true;
	return FVL_STATUS_OK;
}

void fvl_gguf_free(struct fvl_gguf *g)
{
	if (!g)
		return;
	if (g->mapped)
		munmap((void *)g->map, (size_t)g->size);
	free(g->kv);
	free(g->tensors);
	free(g->by_name);
	free(g->str_off_pool);
	free(g);
}

/* ---- lookups ------------------------------------------------------------------------------ */

const struct fvl_gguf_kv *fvl_gguf_find_kv(const struct fvl_gguf *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (fvl_str_eq(g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

const struct fvl_gguf_tensor *fvl_gguf_find_tensor(const struct fvl_gguf *g, const char *name)
{
	size_t n = strlen(name);
	uint64_t lo = 0, hi = g->n_tensors;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const struct fvl_gguf_tensor *t = &g->tensors[g->by_name[mid]];
		int r = memcmp(t->name.p, name, t->name.n < n ? t->name.n : n);
		if (r == 0)
			r = t->name.n < n ? -1 : t->name.n > n;
		if (r == 0)
			return t;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int64_t load_int(const uint8_t *p, uint32_t type, bool *ok)
{
	uint8_t u8;
	int8_t i8;
	uint16_t u16;
	int16_t i16;
	uint32_t u32;
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	*ok = true;
	switch (type) {
	case FVL_GGUF_TYPE_BOOL:
	case FVL_GGUF_TYPE_UINT8: memcpy(&u8, p, 1); return u8;
	case FVL_GGUF_TYPE_INT8: memcpy(&i8, p, 1); return i8;
	case FVL_GGUF_TYPE_UINT16: memcpy(&u16, p, 2); return u16;
	case FVL_GGUF_TYPE_INT16: memcpy(&i16, p, 2); return i16;
	case FVL_GGUF_TYPE_UINT32: memcpy(&u32, p, 4); return u32;
	case FVL_GGUF_TYPE_INT32: memcpy(&i32, p, 4); return i32;
	case FVL_GGUF_TYPE_INT64: memcpy(&i64, p, 8); return i64;
	case FVL_GGUF_TYPE_UINT64:
		memcpy(&u64, p, 8);
		if (u64 > INT64_MAX)
			*ok = false;
		return (int64_t)u64;
	default: *ok = false; return 0;
	}
}

static double load_float(const uint8_t *p, uint32_t type, bool *ok)
{
	float f;
	double d;
	if (type == FVL_GGUF_TYPE_FLOAT32) {
		memcpy(&f, p, 4);
		*ok = true;
		return f;
	}
	if (type == FVL_GGUF_TYPE_FLOAT64) {
		memcpy(&d, p, 8);
		*ok = true;
		return d;
	}
	return (double)load_int(p, type, ok);
}

bool fvl_gguf_kv_int(const struct fvl_gguf_kv *kv, int64_t *out)
{
	bool ok;
	*out = load_int(kv->data, kv->type, &ok);
	return ok;
}

bool fvl_gguf_kv_float(const struct fvl_gguf_kv *kv, double *out)
{
	bool ok;
	*out = load_float(kv->data, kv->type, &ok);
	return ok;
}

struct fvl_str fvl_gguf_arr_str(const struct fvl_gguf_kv *kv, uint64_t i)
{
	struct fvl_str s;
	const uint8_t *p = kv->data + kv->str_off[i];
	memcpy(&s.n, p, 8);
	s.p = (const char *)p + 8;
	return s;
}

int64_t fvl_gguf_arr_int(const struct fvl_gguf_kv *kv, uint64_t i)
{
	bool ok;
	return load_int(kv->data + i * gguf_type_size[kv->arr_type], kv->arr_type, &ok);
}

double fvl_gguf_arr_float(const struct fvl_gguf_kv *kv, uint64_t i)
{
	bool ok;
	return load_float(kv->data + i * gguf_type_size[kv->arr_type], kv->arr_type, &ok);
}

static enum fvl_status
find_scalar(const struct fvl_gguf *g, const char *key, const struct fvl_gguf_kv **kv)
{
	*kv = fvl_gguf_find_kv(g, key);
	if (!*kv)
		return fvl_fail(FVL_STATUS_NOT_FOUND, "metadata '%s' is missing", key);
	if ((*kv)->type == FVL_GGUF_TYPE_ARRAY || (*kv)->type == FVL_GGUF_TYPE_STRING)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' has type %s, expected a number",
		                key, fvl_gguf_type_name((*kv)->type));
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_i64(const struct fvl_gguf *g, const char *key, int64_t *out)
{
	const struct fvl_gguf_kv *kv;
	enum fvl_status st = find_scalar(g, key, &kv);
	if (st != FVL_STATUS_OK)
		return st;
	if (!fvl_gguf_kv_int(kv, out))
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' is not an integer in range",
		                key);
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_u64(const struct fvl_gguf *g, const char *key, uint64_t *out)
{
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, key);
	if (kv && kv->type == FVL_GGUF_TYPE_UINT64) { /* the full u64 range */
		memcpy(out, kv->data, 8);
		return FVL_STATUS_OK;
	}
	int64_t v;
	enum fvl_status st = fvl_gguf_get_i64(g, key, &v);
	if (st != FVL_STATUS_OK)
		return st;
	if (v < 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' is negative (%lld)", key,
		                (long long)v);
	*out = (uint64_t)v;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_u32(const struct fvl_gguf *g, const char *key, uint32_t *out)
{
	uint64_t v;
	enum fvl_status st = fvl_gguf_get_u64(g, key, &v);
	if (st != FVL_STATUS_OK)
		return st;
	if (v > UINT32_MAX)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' = %llu does not fit 32 bits",
		                key, (unsigned long long)v);
	*out = (uint32_t)v;
	return FVL_STATUS_OK;
}

enum fvl_status
fvl_gguf_get_dim(const struct fvl_gguf *g, const char *key, size_t lo, size_t hi, size_t *out)
{
	uint32_t v = 0;
	enum fvl_status st = fvl_gguf_get_u32(g, key, &v);
	if (st != FVL_STATUS_OK)
		return st;
	if (v < lo || v > hi)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' = %u is outside %zu..%zu", key,
		                v, lo, hi);
	*out = v;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_dims(const struct fvl_gguf *g, const char *key, size_t n, size_t *out)
{
	const struct fvl_gguf_kv *kv;
	enum fvl_status st = fvl_gguf_get_arr(g, key, FVL_GGUF_TYPE_UINT32, &kv);
	if (st != FVL_STATUS_OK)
		return st;
	if (kv->n != n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' has %llu entries, expected %zu",
		                key, (unsigned long long)kv->n, n);
	for (size_t i = 0; i < n; i++)
		out[i] = (size_t)fvl_gguf_arr_int(kv, i);
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_f32(const struct fvl_gguf *g, const char *key, float *out)
{
	const struct fvl_gguf_kv *kv;
	double d;
	enum fvl_status st = find_scalar(g, key, &kv);
	if (st != FVL_STATUS_OK)
		return st;
	if (!fvl_gguf_kv_float(kv, &d))
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' is not a number", key);
	*out = (float)d;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_bool(const struct fvl_gguf *g, const char *key, bool *out)
{
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, key);
	if (!kv)
		return fvl_fail(FVL_STATUS_NOT_FOUND, "metadata '%s' is missing", key);
	if (kv->type != FVL_GGUF_TYPE_BOOL)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' has type %s, expected bool",
		                key, fvl_gguf_type_name(kv->type));
	*out = kv->data[0] != 0;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_str(const struct fvl_gguf *g, const char *key, struct fvl_str *out)
{
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, key);
	if (!kv)
		return fvl_fail(FVL_STATUS_NOT_FOUND, "metadata '%s' is missing", key);
	if (kv->type != FVL_GGUF_TYPE_STRING)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' has type %s, expected str", key,
		                fvl_gguf_type_name(kv->type));
	memcpy(&out->n, kv->data, 8);
	out->p = (const char *)kv->data + 8;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_gguf_get_arr(const struct fvl_gguf *g, const char *key, int elem_type,
                                 const struct fvl_gguf_kv **out)
{
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, key);
	if (!kv)
		return fvl_fail(FVL_STATUS_NOT_FOUND, "metadata '%s' is missing", key);
	if (kv->type != FVL_GGUF_TYPE_ARRAY ||
	    (elem_type >= 0 && kv->arr_type != (uint32_t)elem_type))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "metadata '%s' has type %s%s%s%s, expected "
		                "arr[%s]",
		                key, fvl_gguf_type_name(kv->type),
		                kv->type == FVL_GGUF_TYPE_ARRAY ? "[" : "",
		                kv->type == FVL_GGUF_TYPE_ARRAY ? fvl_gguf_type_name(kv->arr_type)
		                                                : "",
		                kv->type == FVL_GGUF_TYPE_ARRAY ? "]" : "",
		                elem_type >= 0 ? fvl_gguf_type_name((uint32_t)elem_type) : "any");
	*out = kv;
	return FVL_STATUS_OK;
}
