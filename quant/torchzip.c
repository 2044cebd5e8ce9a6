/* torchzip.c — reads the PyTorch checkpoint format that torch.save writes for a state dict: a zip
 * archive (stored, not compressed) holding data.pkl and one data/<key> entry per storage. The
 * pickle is interpreted by a small stack machine that knows only the opcodes and callables a
 * state dict needs; anything else is an error. Nothing is ever executed. */
#include <string.h>

#include "ckpt.h"
#include "common.h"

/* ---- zip ----------------------------------------------------------------------------------- */

struct zip_entry {
	const char *name; /* inside the mapping, not NUL-terminated */
	uint32_t name_n;
	uint64_t offset, size; /* data, inside the file */
};

struct zip {
	const struct ckpt_file *f;
	struct zip_entry *e;
	uint64_t n;
};

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static enum fvl_status zip_bad(const struct zip *z, const char *what)
{
	return fvl_fail(FVL_STATUS_BAD_FILE, "%s: not a readable PyTorch zip checkpoint: %s",
	                z->f->path, what);
}

static enum fvl_status zip_open(struct zip *z)
{
	const uint8_t *m = z->f->map;
	uint64_t size = z->f->size, eocd = UINT64_MAX;
	if (size < 22)
		return zip_bad(z, "too short");
	/* End of central directory: 22 bytes plus a comment of up to 65535. */
	for (uint64_t p = size - 22 + 1; p-- > 0 && size - p <= 22 + 65535;) {
		if (rd32(m + p) == 0x06054b50u) {
			eocd = p;
			break;
		}
	}
	if (eocd == UINT64_MAX)
		return zip_bad(z, "no end-of-central-directory record (truncated?)");
	uint64_t n = rd16(m + eocd + 10), cd_size = rd32(m + eocd + 12),
	         cd_off = rd32(m + eocd + 16);
	if (n == 0xffff || cd_off == 0xffffffffu || cd_size == 0xffffffffu) {
		/* zip64: a locator right before the record points at the zip64 end record. */
		if (eocd < 20 || rd32(m + eocd - 20) != 0x07064b50u)
			return zip_bad(z, "zip64 locator missing");
		uint64_t rec = rd64(m + eocd - 20 + 8);
		if (size < 56 || rec > size - 56 || rd32(m + rec) != 0x06064b50u)
			return zip_bad(z, "zip64 end record missing");
		n = rd64(m + rec + 32);
		cd_size = rd64(m + rec + 40);
		cd_off = rd64(m + rec + 48);
	}
	if (cd_off > size || cd_size > size - cd_off || n > cd_size / 46)
		return zip_bad(z, "central directory outside the file");
	z->e = calloc(n ? n : 1, sizeof(*z->e));
	if (!z->e)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	uint64_t p = cd_off, end = cd_off + cd_size;
	for (uint64_t i = 0; i < n; i++) {
		if (end - p < 46 || rd32(m + p) != 0x02014b50u)
			return zip_bad(z, "bad central directory entry");
		uint32_t method = rd16(m + p + 10);
		uint64_t csize = rd32(m + p + 20), usize = rd32(m + p + 24);
		uint32_t nlen = rd16(m + p + 28), xlen = rd16(m + p + 30), clen = rd16(m + p + 32);
		uint64_t loff = rd32(m + p + 42);
		if (46 + (uint64_t)nlen + xlen + clen > end - p)
			return zip_bad(z, "central directory entry runs past its end");
		/* zip64 extra field: the 0xffffffff fields follow in order usize, csize, offset. */
		const uint8_t *x = m + p + 46 + nlen, *xe = x + xlen;
		while (xe - x >= 4) {
			uint32_t id = rd16(x), len = rd16(x + 2);
			if ((uint64_t)(xe - x - 4) < len)
				break;
			if (id == 0x0001) {
				const uint8_t *q = x + 4, *qe = q + len;
				if (usize == 0xffffffffu && qe - q >= 8) {
					usize = rd64(q);
					q += 8;
				}
				if (csize == 0xffffffffu && qe - q >= 8) {
					csize = rd64(q);
					q += 8;
				}
				if (loff == 0xffffffffu && qe - q >= 8) {
					loff = rd64(q);
					q += 8;
				}
			}
			x += 4 + len;
		}
		struct zip_entry *e = &z->e[z->n++];
		e->name = (const char *)m + p + 46;
		e->name_n = nlen;
		if (method != 0)
			return fvl_fail(
			        FVL_STATUS_UNSUPPORTED,
			        "%s: entry '%.*s' is compressed "
			        "(method %u); torch.save writes stored entries, re-save the "
			        "checkpoint or convert it to safetensors",
			        z->f->path, (int)nlen, e->name, method);
		if (csize != usize || size < 30 || loff > size - 30 ||
		    rd32(m + loff) != 0x04034b50u)
			return zip_bad(z, "bad local header");
		uint64_t data = loff + 30 + rd16(m + loff + 26) + rd16(m + loff + 28);
		if (data > size || csize > size - data)
			return zip_bad(z, "entry data past the end of the file (truncated?)");
		e->offset = data;
		e->size = csize;
		p += 46 + (uint64_t)nlen + xlen + clen;
	}
	return FVL_STATUS_OK;
}

/* The entry whose name is prefix + suffix (the archive's folder name varies). */
static const struct zip_entry *
zip_find(const struct zip *z, const char *prefix, uint32_t pn, const char *suffix)
{
	size_t sn = strlen(suffix);
	for (uint64_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->e[i];
		if (e->name_n == pn + sn && memcmp(e->name, prefix, pn) == 0 &&
		    memcmp(e->name + pn, suffix, sn) == 0)
			return e;
	}
	return NULL;
}

/* ---- pickle -------------------------------------------------------------------------------- */

enum pk_kind {
	PK_MARK,
	PK_NONE,
	PK_BOOL,
	PK_INT,
	PK_FLOAT,
	PK_STR,
	PK_TUPLE,
	PK_LIST,
	PK_DICT,
	PK_GLOBAL,
	PK_STORAGE,
	PK_TENSOR,
};

enum pk_global {
	PK_GLOBAL_ORDERED_DICT,
	PK_GLOBAL_REBUILD_TENSOR_V2,
	PK_GLOBAL_REBUILD_PARAMETER,
	PK_GLOBAL_STORAGE,
};

struct pk_obj {
	enum pk_kind kind;
	int64_t i;     /* INT, BOOL; GLOBAL: enum pk_global; STORAGE: enum ckpt_dtype */
	const char *s; /* STR (inside the pickle), GLOBAL storage type name */
	uint32_t s_n;
	uint32_t *items; /* TUPLE/LIST/DICT: object ids (DICT: key, value pairs) */
	uint32_t n_items;
	uint64_t cap_items;
	const struct zip_entry *entry; /* STORAGE */
	uint32_t storage_elem;         /* STORAGE: bytes per element */
	struct ckpt_tensor t;          /* TENSOR (storage filled in, name unset) */
};

struct pk {
	const struct zip *z;
	const char *prefix;
	uint32_t prefix_n;
	struct pk_obj *o;
	uint32_t n_o;
	uint64_t cap_o;
	uint32_t *stack;
	uint32_t n_stack;
	uint64_t cap_stack;
	uint32_t *memo; /* memo id -> object id + 1 (0: unset) */
	uint64_t n_memo;
	const char *path;
};

static enum fvl_status pk_bad(const struct pk *pk, uint64_t at, const char *what)
{
	return fvl_fail(FVL_STATUS_UNSUPPORTED,
	                "%s: data.pkl at byte %llu: %s (fvl reads "
	                "state dicts written by torch.save, nothing else)",
	                pk->path, (unsigned long long)at, what);
}

static enum fvl_status pk_new(struct pk *pk, enum pk_kind kind, uint32_t *id)
{
	enum fvl_status st = FVL_GROW(pk->o, pk->cap_o, pk->n_o, 1024);
	if (st != FVL_STATUS_OK)
		return st;
	memset(&pk->o[pk->n_o], 0, sizeof(pk->o[0]));
	pk->o[pk->n_o].kind = kind;
	*id = pk->n_o++;
	return FVL_STATUS_OK;
}

static enum fvl_status pk_push(struct pk *pk, uint32_t id)
{
	enum fvl_status st = FVL_GROW(pk->stack, pk->cap_stack, pk->n_stack, 256);
	if (st != FVL_STATUS_OK)
		return st;
	pk->stack[pk->n_stack++] = id;
	return FVL_STATUS_OK;
}

static enum fvl_status pk_add_item(struct pk *pk, uint32_t id, uint32_t item)
{
	struct pk_obj *o = &pk->o[id];
	enum fvl_status st = FVL_GROW(o->items, o->cap_items, o->n_items, 4);
	if (st != FVL_STATUS_OK)
		return st;
	o->items[o->n_items++] = item;
	return FVL_STATUS_OK;
}

/* Index of the topmost MARK on the stack, or -1. */
static int64_t pk_mark(const struct pk *pk)
{
	for (uint32_t i = pk->n_stack; i-- > 0;)
		if (pk->o[pk->stack[i]].kind == PK_MARK)
			return i;
	return -1;
}

/* Pops everything above the topmost mark (and the mark) into a new TUPLE/LIST object, or
 * appends them to the object below the mark (append_to: 1). */
static enum fvl_status pk_collect(struct pk *pk, uint64_t at, enum pk_kind kind, uint32_t *id)
{
	int64_t m = pk_mark(pk);
	if (m < 0)
		return pk_bad(pk, at, "no MARK on the stack");
	enum fvl_status st = pk_new(pk, kind, id);
	for (uint32_t i = (uint32_t)m + 1; i < pk->n_stack && st == FVL_STATUS_OK; i++)
		st = pk_add_item(pk, *id, pk->stack[i]);
	pk->n_stack = (uint32_t)m;
	return st;
}

static bool pk_is_int(const struct pk *pk, uint32_t id, int64_t *v)
{
	if (pk->o[id].kind != PK_INT && pk->o[id].kind != PK_BOOL)
		return false;
	*v = pk->o[id].i;
	return true;
}

static enum fvl_status pk_global(struct pk *pk, uint64_t at, const char *mod, size_t mn,
                                 const char *name, size_t nn, uint32_t *id)
{
	static const struct {
		const char *mod, *name;
		enum pk_global g;
		int dtype;
		uint32_t es;
	} ok[] = {
	        {"collections", "OrderedDict", PK_GLOBAL_ORDERED_DICT, 0, 0},
	        {"torch._utils", "_rebuild_tensor_v2", PK_GLOBAL_REBUILD_TENSOR_V2, 0, 0},
	        {"torch._utils", "_rebuild_parameter", PK_GLOBAL_REBUILD_PARAMETER, 0, 0},
	        {"torch", "FloatStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_F32, 4},
	        {"torch", "HalfStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_F16, 2},
	        {"torch", "BFloat16Storage", PK_GLOBAL_STORAGE, CKPT_DTYPE_BF16, 2},
	        {"torch", "DoubleStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 8},
	        {"torch", "LongStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 8},
	        {"torch", "IntStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 4},
	        {"torch", "ShortStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 2},
	        {"torch", "CharStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 1},
	        {"torch", "ByteStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 1},
	        {"torch", "BoolStorage", PK_GLOBAL_STORAGE, CKPT_DTYPE_OTHER, 1},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strlen(ok[i].mod) == mn && memcmp(ok[i].mod, mod, mn) == 0 &&
		    strlen(ok[i].name) == nn && memcmp(ok[i].name, name, nn) == 0) {
			enum fvl_status st = pk_new(pk, PK_GLOBAL, id);
			if (st != FVL_STATUS_OK)
				return st;
			pk->o[*id].i = ok[i].g;
			pk->o[*id].s = ok[i].name;
			pk->o[*id].s_n = (uint32_t)nn;
			pk->o[*id].storage_elem = ok[i].es;
			pk->o[*id].t.dtype = (enum ckpt_dtype)ok[i].dtype;
			return FVL_STATUS_OK;
		}
	}
	char msg[160];
	snprintf(msg, sizeof(msg), "refers to '%.*s.%.*s', which fvl does not allow",
	         (int)(mn < 60 ? mn : 60), mod, (int)(nn < 60 ? nn : 60), name);
	return pk_bad(pk, at, msg);
}

/* BINPERSID: ('storage', <storage type>, key, location, numel) -> a storage object. */
static enum fvl_status pk_persid(struct pk *pk, uint64_t at, uint32_t pid, uint32_t *id)
{
	const struct pk_obj *t = &pk->o[pid];
	int64_t numel;
	if (t->kind != PK_TUPLE || t->n_items != 5 || pk->o[t->items[0]].kind != PK_STR ||
	    pk->o[t->items[1]].kind != PK_GLOBAL || pk->o[t->items[1]].i != PK_GLOBAL_STORAGE ||
	    pk->o[t->items[2]].kind != PK_STR || !pk_is_int(pk, t->items[4], &numel) || numel < 0)
		return pk_bad(pk, at,
		              "persistent id is not ('storage', type, key, location, numel)");
	const struct pk_obj *key = &pk->o[t->items[2]], *type = &pk->o[t->items[1]];
	char suffix[96];
	snprintf(suffix, sizeof(suffix), "data/%.*s", (int)(key->s_n < 80 ? key->s_n : 80), key->s);
	const struct zip_entry *e = zip_find(pk->z, pk->prefix, pk->prefix_n, suffix);
	if (!e)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: storage '%s' is missing from the archive",
		                pk->path, suffix);
	if ((uint64_t)numel > e->size / (type->storage_elem ? type->storage_elem : 1))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: storage '%s' holds %llu bytes, not %lld "
		                "elements",
		                pk->path, suffix, (unsigned long long)e->size, (long long)numel);
	enum ckpt_dtype dtype = type->t.dtype;
	char dtype_name[sizeof(((struct ckpt_tensor *)0)->dtype_name)];
	snprintf(dtype_name, sizeof(dtype_name), "%.*s", (int)type->s_n, type->s);
	enum fvl_status st = pk_new(pk, PK_STORAGE, id); /* may move pk->o: no pointers past here */
	if (st != FVL_STATUS_OK)
		return st;
	struct pk_obj *s = &pk->o[*id];
	s->entry = e;
	s->t.dtype = dtype;
	s->t.storage = pk->z->f->map + e->offset;
	s->t.storage_n = (uint64_t)numel;
	memcpy(s->t.dtype_name, dtype_name, sizeof(dtype_name));
	return FVL_STATUS_OK;
}

/* REDUCE: callable(args). */
static enum fvl_status
pk_reduce(struct pk *pk, uint64_t at, uint32_t fn, uint32_t args, uint32_t *id)
{
	const struct pk_obj *f = &pk->o[fn], *a = &pk->o[args];
	if (f->kind != PK_GLOBAL || a->kind != PK_TUPLE)
		return pk_bad(pk, at, "REDUCE of something that is not an allowed callable");
	if (f->i == PK_GLOBAL_ORDERED_DICT) {
		if (a->n_items != 0)
			return pk_bad(pk, at, "OrderedDict with arguments");
		return pk_new(pk, PK_DICT, id);
	}
	if (f->i == PK_GLOBAL_REBUILD_PARAMETER) {
		if (a->n_items < 1 || pk->o[a->items[0]].kind != PK_TENSOR)
			return pk_bad(pk, at, "_rebuild_parameter without a tensor");
		*id = a->items[0];
		return FVL_STATUS_OK;
	}
	if (f->i != PK_GLOBAL_REBUILD_TENSOR_V2)
		return pk_bad(pk, at, "a storage type called as a function");
	/* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
	int64_t off, v;
	if (a->n_items < 4 || pk->o[a->items[0]].kind != PK_STORAGE ||
	    !pk_is_int(pk, a->items[1], &off) || off < 0 || pk->o[a->items[2]].kind != PK_TUPLE ||
	    pk->o[a->items[3]].kind != PK_TUPLE)
		return pk_bad(pk, at, "_rebuild_tensor_v2 with unexpected arguments");
	uint32_t storage_id = a->items[0], size_id = a->items[2], stride_id = a->items[3];
	if (pk->o[size_id].n_items != pk->o[stride_id].n_items ||
	    pk->o[size_id].n_items > CKPT_MAX_DIMS)
		return pk_bad(pk, at, "tensor size and stride of different or too many dimensions");
	enum fvl_status st =
	        pk_new(pk, PK_TENSOR, id); /* may move pk->o: no pointers before here */
	if (st != FVL_STATUS_OK)
		return st;
	const struct pk_obj *size = &pk->o[size_id], *stride = &pk->o[stride_id];
	struct pk_obj *t = &pk->o[*id];
	t->t = pk->o[storage_id].t;
	t->t.offset = (uint64_t)off;
	t->t.n_dims = size->n_items;
	for (uint32_t d = 0; d < size->n_items; d++) {
		if (!pk_is_int(pk, size->items[d], &v) || v < 0 || v > (1ll << 40))
			return pk_bad(pk, at, "bad tensor size");
		t->t.shape[d] = (uint64_t)v;
		if (!pk_is_int(pk, stride->items[d], &v) || v < 0 || v > (1ll << 40))
			return pk_bad(pk, at, "bad tensor stride");
		t->t.stride[d] = v;
	}
	return FVL_STATUS_OK;
}

static enum fvl_status pk_run(struct pk *pk, const uint8_t *p, uint64_t n, uint32_t *result)
{
	uint64_t i = 0;
	enum fvl_status st = FVL_STATUS_OK;
	uint32_t id = 0;
#define NEED(k)                                                                                    \
	do {                                                                                       \
		if (n - i < (k))                                                                   \
			return pk_bad(pk, i, "truncated pickle");                                  \
	} while (0)
#define POP(x)                                                                                     \
	do {                                                                                       \
		if (pk->n_stack == 0)                                                              \
			return pk_bad(pk, at, "stack underflow");                                  \
		(x) = pk->stack[--pk->n_stack];                                                    \
	} while (0)
	while (i < n) {
		uint64_t at = i;
		uint8_t op = p[i++];
		uint64_t len;
		uint32_t a, b, c;
		switch (op) {
		case 0x80: /* PROTO */
			NEED(1);
			if (p[i] > 5)
				return pk_bad(pk, at, "pickle protocol above 5");
			i++;
			continue;
		case 0x95: /* FRAME */
			NEED(8);
			i += 8;
			continue;
		case '.': /* STOP */
			if (pk->n_stack != 1)
				return pk_bad(pk, at, "STOP with a stack of other than one object");
			*result = pk->stack[0];
			return FVL_STATUS_OK;
		case '(': st = pk_new(pk, PK_MARK, &id); break;
		case 'N': st = pk_new(pk, PK_NONE, &id); break;
		case 0x88:
		case 0x89: /* NEWTRUE, NEWFALSE */
			st = pk_new(pk, PK_BOOL, &id);
			if (st == FVL_STATUS_OK)
				pk->o[id].i = op == 0x88;
			break;
		case 'K':
		case 'M':
		case 'J': { /* BININT1, BININT2, BININT */
			uint32_t k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
			NEED(k);
			int64_t v = op == 'K'   ? p[i]
			            : op == 'M' ? rd16(p + i)
			                        : (int32_t)rd32(p + i);
			i += k;
			st = pk_new(pk, PK_INT, &id);
			if (st == FVL_STATUS_OK)
				pk->o[id].i = v;
			break;
		}
		case 0x8a: { /* LONG1: little-endian two's complement of up to 8 bytes */
			NEED(1);
			uint32_t k = p[i++];
			if (k > 8)
				return pk_bad(pk, at, "integer wider than 64 bits");
			NEED(k);
			uint64_t u = 0;
			for (uint32_t j = 0; j < k; j++)
				u |= (uint64_t)p[i + j] << (8 * j);
			if (k > 0 && k < 8 && (p[i + k - 1] & 0x80))
				u |= ~0ull << (8 * k);
			i += k;
			st = pk_new(pk, PK_INT, &id);
			if (st == FVL_STATUS_OK)
				pk->o[id].i = (int64_t)u;
			break;
		}
		case 'G': /* BINFLOAT (big-endian double) */
			NEED(8);
			i += 8;
			st = pk_new(pk, PK_FLOAT, &id);
			break;
		case 'X':
		case 0x8c: /* BINUNICODE, SHORT_BINUNICODE */
			if (op == 'X') {
				NEED(4);
				len = rd32(p + i);
				i += 4;
			} else {
				NEED(1);
				len = p[i++];
			}
			NEED(len);
			st = pk_new(pk, PK_STR, &id);
			if (st == FVL_STATUS_OK) {
				pk->o[id].s = (const char *)p + i;
				pk->o[id].s_n = (uint32_t)len;
			}
			i += len;
			break;
		case 'c': { /* GLOBAL "module\nname\n" */
			const uint8_t *m = p + i, *nl = memchr(m, '\n', n - i);
			if (!nl)
				return pk_bad(pk, at, "truncated GLOBAL");
			const uint8_t *nm = nl + 1, *nl2 = memchr(nm, '\n', (size_t)(p + n - nm));
			if (!nl2)
				return pk_bad(pk, at, "truncated GLOBAL");
			i = (uint64_t)(nl2 + 1 - p);
			st = pk_global(pk, at, (const char *)m, (size_t)(nl - m), (const char *)nm,
			               (size_t)(nl2 - nm), &id);
			break;
		}
		case ')': st = pk_new(pk, PK_TUPLE, &id); break;
		case ']': st = pk_new(pk, PK_LIST, &id); break;
		case '}': st = pk_new(pk, PK_DICT, &id); break;
		case 't': st = pk_collect(pk, at, PK_TUPLE, &id); break;
		case 'l': st = pk_collect(pk, at, PK_LIST, &id); break;
		case 0x85:
		case 0x86:
		case 0x87: { /* TUPLE1..3 */
			uint32_t k = (uint32_t)(op - 0x84);
			if (pk->n_stack < k)
				return pk_bad(pk, at, "stack underflow");
			st = pk_new(pk, PK_TUPLE, &id);
			for (uint32_t j = pk->n_stack - k; j < pk->n_stack && st == FVL_STATUS_OK;
			     j++)
				st = pk_add_item(pk, id, pk->stack[j]);
			pk->n_stack -= k;
			break;
		}
		case 'q':
		case 'r': { /* BINPUT, LONG_BINPUT */
			uint32_t k = op == 'q' ? 1 : 4;
			NEED(k);
			uint64_t m = op == 'q' ? p[i] : rd32(p + i);
			i += k;
			if (pk->n_stack == 0)
				return pk_bad(pk, at, "PUT with an empty stack");
			if (m >= n)
				return pk_bad(pk, at, "memo index larger than the pickle");
			if (m >= pk->n_memo) {
				uint64_t cap = pk->n_memo ? pk->n_memo : 256;
				while (cap <= m)
					cap *= 2;
				uint32_t *mm = realloc(pk->memo, cap * sizeof(*mm));
				if (!mm)
					return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
				memset(mm + pk->n_memo, 0, (cap - pk->n_memo) * sizeof(*mm));
				pk->memo = mm;
				pk->n_memo = cap;
			}
			pk->memo[m] = pk->stack[pk->n_stack - 1] + 1;
			continue;
		}
		case 'h':
		case 'j': { /* BINGET, LONG_BINGET */
			uint32_t k = op == 'h' ? 1 : 4;
			NEED(k);
			uint64_t m = op == 'h' ? p[i] : rd32(p + i);
			i += k;
			if (m >= pk->n_memo || pk->memo[m] == 0)
				return pk_bad(pk, at, "GET of an unset memo entry");
			id = pk->memo[m] - 1;
			break;
		}
		case 'Q': /* BINPERSID */
			POP(a);
			st = pk_persid(pk, at, a, &id);
			break;
		case 'R': /* REDUCE */
			POP(b);
			POP(a);
			st = pk_reduce(pk, at, a, b, &id);
			break;
		case 'b': /* BUILD: set state on the object below; a state dict's _metadata is dropped */
			POP(a);
			if (pk->n_stack == 0)
				return pk_bad(pk, at, "BUILD with nothing to build");
			continue;
		case 's': /* SETITEM */
			POP(b);
			POP(a);
			if (pk->n_stack == 0 || pk->o[pk->stack[pk->n_stack - 1]].kind != PK_DICT)
				return pk_bad(pk, at, "SETITEM on something that is not a dict");
			c = pk->stack[pk->n_stack - 1];
			if ((st = pk_add_item(pk, c, a)) == FVL_STATUS_OK)
				st = pk_add_item(pk, c, b);
			if (st != FVL_STATUS_OK)
				return st;
			continue;
		case 'u':
		case 'a':
		case 'e': { /* SETITEMS, APPEND, APPENDS */
			int64_t m = op == 'a' ? (int64_t)pk->n_stack - 1 : pk_mark(pk);
			if (m < 1)
				return pk_bad(pk, at, "no MARK or target for SETITEMS/APPENDS");
			c = pk->stack[m - 1];
			enum pk_kind want = op == 'u' ? PK_DICT : PK_LIST;
			if (pk->o[c].kind != want || (op == 'u' && (pk->n_stack - m - 1) % 2))
				return pk_bad(pk, at,
				              "SETITEMS/APPENDS on the wrong kind of object");
			for (uint32_t j = (uint32_t)m + (op == 'a' ? 0 : 1); j < pk->n_stack; j++)
				if ((st = pk_add_item(pk, c, pk->stack[j])) != FVL_STATUS_OK)
					return st;
			pk->n_stack = (uint32_t)m;
			continue;
		}
		default: {
			char msg[64];
			snprintf(msg, sizeof(msg), "opcode 0x%02x is not allowed", op);
			return pk_bad(pk, at, msg);
		}
		}
		if (st != FVL_STATUS_OK)
			return st;
		if ((st = pk_push(pk, id)) != FVL_STATUS_OK)
			return st;
	}
#undef NEED
#undef POP
	return pk_bad(pk, n, "pickle ends without STOP");
}

static void pk_free(struct pk *pk)
{
	for (uint32_t i = 0; i < pk->n_o; i++)
		free(pk->o[i].items);
	free(pk->o);
	free(pk->stack);
	free(pk->memo);
}

enum fvl_status ckpt_add_torch(struct ckpt *c, const char *path)
{
	const struct ckpt_file *f;
	struct zip z = {0};
	struct pk pk;
	uint32_t root = 0;
	enum fvl_status st = ckpt_map_file(c, path, &f);
	if (st != FVL_STATUS_OK)
		return st;
	memset(&pk, 0, sizeof(pk));
	z.f = f;
	if ((st = zip_open(&z)) != FVL_STATUS_OK)
		goto done;
	/* "<folder>/data.pkl": the folder's name is whatever torch.save chose. */
	const struct zip_entry *pkl = NULL;
	for (uint64_t i = 0; i < z.n && !pkl; i++) {
		const struct zip_entry *e = &z.e[i];
		const char *slash = memchr(e->name, '/', e->name_n);
		if (slash && e->name_n - (uint32_t)(slash - e->name) == 9 &&
		    memcmp(slash, "/data.pkl", 9) == 0)
			pkl = e;
	}
	if (!pkl) {
		st = zip_bad(&z, "no data.pkl (an old-format or non-PyTorch file)");
		goto done;
	}
	pk.z = &z;
	pk.path = path;
	pk.prefix = pkl->name;
	pk.prefix_n = pkl->name_n - 8; /* keeps the trailing '/' */
	if ((st = pk_run(&pk, f->map + pkl->offset, pkl->size, &root)) != FVL_STATUS_OK)
		goto done;
	if (pk.o[root].kind != PK_DICT) {
		st = pk_bad(&pk, pkl->size, "the pickled object is not a dict");
		goto done;
	}
	char name[512];
	for (uint32_t i = 0; i + 1 < pk.o[root].n_items && st == FVL_STATUS_OK; i += 2) {
		const struct pk_obj *k = &pk.o[pk.o[root].items[i]];
		const struct pk_obj *v = &pk.o[pk.o[root].items[i + 1]];
		if (k->kind != PK_STR || v->kind != PK_TENSOR)
			continue; /* e.g. extra state: not a weight */
		if (k->s_n >= sizeof(name)) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: a tensor name of %u bytes", path,
			              k->s_n);
			break;
		}
		memcpy(name, k->s, k->s_n);
		name[k->s_n] = '\0';
		struct ckpt_tensor t = v->t;
		t.name = name;
		t.file = f;
		st = ckpt_push(c, &t);
	}
done:
	pk_free(&pk);
	free(z.e);
	return st;
}
