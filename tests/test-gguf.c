/* test-gguf.c — the GGUF container: writer -> reader round trip of every metadata type and tensor
 * type, and each kind of bad file rejected with its own message (never a crash). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"
#include "gguf.h"
#include "model.h"
#include "test.h"

/* ---- a byte-level builder for hand-made (and broken) files ---------------------------------- */

struct buf {
	uint8_t p[4096];
	size_t n;
};

static void put(struct buf *b, const void *v, size_t n)
{
	memcpy(b->p + b->n, v, n);
	b->n += n;
}
static void put_u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}
static void put_u64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}
static void put_str(struct buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

/* Everything a test may break; defaults give a valid file. */
struct spec {
	char magic[5];
	uint32_t version;
	uint64_t n_tensors, n_kv; /* claimed counts */
	uint64_t arch_len;        /* claimed length of the architecture string */
	uint32_t kv_type;         /* type of the architecture entry */
	uint64_t arr_n;           /* claimed length of the token array */
	uint32_t arr_type;
	uint32_t alignment;
	uint32_t w_type, w_dims;
	uint64_t w_ne0;
	const char *b_name;
	uint64_t b_offset;
};

static struct spec good(void)
{
	struct spec s = {
	        "GGUF",        3, 2,  3,   4,  FVL_GGUF_TYPE_STRING, 2, FVL_GGUF_TYPE_STRING, 64,
	        FVL_TYPE_Q8_0, 2, 32, "b", 128};
	return s;
}

static void build(const struct spec *s, struct buf *b)
{
	b->n = 0;
	put(b, s->magic, 4);
	put_u32(b, s->version);
	put_u64(b, s->n_tensors);
	put_u64(b, s->n_kv);
	put_str(b, "general.architecture");
	put_u32(b, s->kv_type);
	put_u64(b, s->arch_len);
	put(b, "test", 4);
	put_str(b, "general.alignment");
	put_u32(b, FVL_GGUF_TYPE_UINT32);
	put_u32(b, s->alignment);
	put_str(b, "tokenizer.tokens");
	put_u32(b, FVL_GGUF_TYPE_ARRAY);
	put_u32(b, s->arr_type);
	put_u64(b, s->arr_n);
	put_str(b, "a");
	put_str(b, "bc");
	/* tensor w: q8_0 [32, 2] = 2 blocks = 68 bytes at 0 */
	put_str(b, "w");
	put_u32(b, s->w_dims);
	for (uint32_t d = 0; d < s->w_dims && d < 6; d++)
		put_u64(b, d == 0 ? s->w_ne0 : 2);
	put_u32(b, s->w_type);
	put_u64(b, 0);
	/* tensor b: f32 [4] = 16 bytes */
	put_str(b, s->b_name);
	put_u32(b, 1);
	put_u64(b, 4);
	put_u32(b, FVL_TYPE_F32);
	put_u64(b, s->b_offset);
	while (b->n % 64)
		b->p[b->n++] = 0;
	for (int i = 0; i < 128 + 16; i++)
		b->p[b->n++] = (uint8_t)i;
}

/* Parses the spec's file; expects failure with status st and a message containing want. */
static bool
rejects(const struct spec *s, enum fvl_status st, const char *want, char *why, size_t why_n)
{
	struct buf b;
	struct fvl_gguf *g = (struct fvl_gguf *)1;
	build(s, &b);
	enum fvl_status got = fvl_gguf_parse(b.p, b.n, &g);
	if (got == FVL_STATUS_OK) {
		fvl_gguf_free(g);
		snprintf(why, why_n, "accepted (expected '%s')", want);
		return false;
	}
	if (g != NULL) {
		snprintf(why, why_n, "out-parameter not NULL on failure");
		return false;
	}
	if (got != st || !strstr(fvl_last_error(), want)) {
		snprintf(why, why_n, "status %s, message '%s'; expected %s with '%s'",
		         fvl_status_str(got), fvl_last_error(), fvl_status_str(st), want);
		return false;
	}
	t_note("%s: %s", fvl_status_str(got), fvl_last_error());
	return true;
}

#define T_REJECTS(spec, st, want)                                                                  \
	do {                                                                                       \
		char why_[600];                                                                    \
		T_ASSERT(rejects(&(spec), st, want, why_, sizeof(why_)), "%s", why_);              \
	} while (0)

static void test_handmade_file_parses(void)
{
	struct spec s = good();
	struct buf b;
	struct fvl_gguf *g;
	struct fvl_str arch;
	const struct fvl_gguf_kv *kv;
	build(&s, &b);
	T_ASSERT(fvl_gguf_parse(b.p, b.n, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(g->alignment == 64 && g->n_tensors == 2 && g->n_kv == 3, "header");
	T_ASSERT(fvl_gguf_get_str(g, "general.architecture", &arch) == 0 &&
	                 fvl_str_eq(arch, "test"),
	         "architecture");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.tokens", FVL_GGUF_TYPE_STRING, &kv) == 0 &&
	                 kv->n == 2 && fvl_str_eq(fvl_gguf_arr_str(kv, 1), "bc"),
	         "string array");
	const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(g, "b");
	T_ASSERT(t && t->type == FVL_TYPE_F32 && t->n_bytes == 16 && t->offset == 128, "tensor b");
	T_ASSERT((const uint8_t *)t->data == b.p + g->data_offset + 128, "tensor b data");
	T_ASSERT(fvl_gguf_find_tensor(g, "c") == NULL && fvl_gguf_find_tensor(g, "") == NULL,
	         "find");
	fvl_gguf_free(g);
}

static void test_every_truncation_is_rejected(void)
{
	struct spec s = good();
	struct buf b;
	int n_truncated_msg = 0;
	build(&s, &b);
	for (size_t n = 0; n < b.n; n++) {
		struct fvl_gguf *g;
		enum fvl_status st = fvl_gguf_parse(b.p, n, &g);
		T_ASSERT(st != FVL_STATUS_OK, "a file cut to %zu of %zu bytes was accepted", n,
		         b.n);
		n_truncated_msg += strstr(fvl_last_error(), "truncated") != NULL ||
		                   strstr(fvl_last_error(), "past the end") != NULL ||
		                   strstr(fvl_last_error(), "impossible") != NULL ||
		                   strstr(fvl_last_error(), "cannot fit") != NULL;
	}
	T_ASSERT(n_truncated_msg == (int)b.n, "%d of %zu cuts said why", n_truncated_msg, b.n);
	t_note("all %zu truncations rejected", b.n);
}

static void test_bad_magic(void)
{
	struct spec s = good();
	memcpy(s.magic, "GGML", 4);
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "not a GGUF file");
}

static void test_wrong_version(void)
{
	struct spec s = good();
	s.version = 1;
	T_REJECTS(s, FVL_STATUS_UNSUPPORTED, "GGUF version 1");
	s.version = 0x03000000; /* a big-endian v3 */
	T_REJECTS(s, FVL_STATUS_UNSUPPORTED, "big-endian");
}

static void test_absurd_counts(void)
{
	struct spec s = good();
	s.n_tensors = UINT64_MAX / 2;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "tensor count");
	s = good();
	s.n_kv = 1ull << 40;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "metadata count");
	s = good();
	s.arr_n = 1ull << 61;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "cannot fit");
}

static void test_string_past_the_end(void)
{
	struct spec s = good();
	s.arch_len = 1ull << 40;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "runs past the end");
	s.arch_len = UINT64_MAX;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "runs past the end");
}

static void test_unknown_metadata_types(void)
{
	struct spec s = good();
	s.kv_type = 13;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "unknown type 13");
	s = good();
	s.arr_type = FVL_GGUF_TYPE_ARRAY;
	T_REJECTS(s, FVL_STATUS_UNSUPPORTED, "array of arrays");
	s.arr_type = 77;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "array of unknown type 77");
}

static void test_bad_alignment(void)
{
	struct spec s = good();
	s.alignment = 48;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "not a power of two");
	s.alignment = 0;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "not a power of two");
}

static void test_offsets_past_the_end_or_overflowing(void)
{
	struct spec s = good();
	s.b_offset = 4096;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "past the end of the data section");
	s.b_offset = UINT64_MAX - 63; /* aligned, and offset + size overflows */
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "past the end of the data section");
}

static void test_misaligned_offset(void)
{
	struct spec s = good();
	s.b_offset = 100;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "not a multiple of the alignment");
}

static void test_unknown_tensor_types(void)
{
	struct spec s = good();
	s.w_type = 99;
	T_REJECTS(s, FVL_STATUS_UNSUPPORTED, "tensor type 99");
	s.w_type = 3; /* q4_1: a ggml type fvl does not read */
	T_REJECTS(s, FVL_STATUS_UNSUPPORTED, "tensor type 3");
}

static void test_bad_shapes(void)
{
	struct spec s = good();
	s.w_dims = 5;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "5 dimensions");
	s = good();
	s.w_ne0 = 33;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "not a multiple of the q8_0 block size");
	s.w_ne0 = 0;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "dimension 0 is 0");
	s.w_ne0 = 1ull << 62;
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "overflows");
}

static void test_duplicate_and_overlapping_tensors(void)
{
	struct spec s = good();
	s.b_name = "w";
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "appears twice");
	s = good();
	s.b_offset = 64; /* w occupies [0, 68) */
	T_REJECTS(s, FVL_STATUS_BAD_FILE, "overlap");
}

/* ---- writer -> reader ------------------------------------------------------------------------ */

static enum fvl_status write_sample(const char *path, int variant)
{
	struct fvl_gguf_writer *w = NULL;
	enum fvl_status st;
	FILE *f = NULL;
	static const char *const toks[] = {"<s>", "", "hello world", "\xe2\x96\x81tok"};
	static const int32_t ints[] = {-5, 0, 7, 2147483647};
	static const float floats[] = {0.5f, -1.25f, 3e-8f};
	static const uint8_t u8s[] = {1, 2, 255};
	uint64_t ne_q[2] = {64, 3}, ne_f[1] = {5}, ne_h[3] = {4, 2, 2};

	if ((st = fvl_gguf_writer_init(&w)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_gguf_writer_set_str(w, "general.architecture", "florence-vl")) ||
	    (st = fvl_gguf_writer_set_u32(w, "fvl.u32", 4000000000u)) ||
	    (st = fvl_gguf_writer_set_i32(w, "fvl.i32", -42)) ||
	    (st = fvl_gguf_writer_set_u64(w, "fvl.u64", 1ull << 40)) ||
	    (st = fvl_gguf_writer_set_f32(w, "fvl.f32", 1e-5f)) ||
	    (st = fvl_gguf_writer_set_bool(w, "fvl.bool", true)) ||
	    (st = fvl_gguf_writer_set_arr_str(w, "tokenizer.tokens", toks, NULL, 4)) ||
	    (st = fvl_gguf_writer_set_arr(w, "fvl.arr_i32", FVL_GGUF_TYPE_INT32, ints, 4)) ||
	    (st = fvl_gguf_writer_set_arr(w, "fvl.arr_f32", FVL_GGUF_TYPE_FLOAT32, floats, 3)) ||
	    (st = fvl_gguf_writer_set_arr(w, "fvl.arr_u8", FVL_GGUF_TYPE_UINT8, u8s,
	                                  variant ? 0 : 3)) ||
	    (st = fvl_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", FVL_TYPE_Q8_0, 2, ne_q,
	                                     NULL)) ||
	    (st = fvl_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", FVL_TYPE_F32, 1, ne_f,
	                                     NULL)) ||
	    (st = fvl_gguf_writer_add_tensor(w, "v.x", FVL_TYPE_F16, 3, ne_h, NULL)) ||
	    (st = fvl_gguf_writer_add_tensor(w, "q4", FVL_TYPE_Q4_0, 1, ne_q, NULL)) ||
	    (st = fvl_gguf_writer_add_tensor(w, "bf", FVL_TYPE_BF16, 1, ne_f, NULL)))
		goto done;
	if (!(f = fopen(path, "wb"))) {
		st = fvl_fail(FVL_STATUS_IO, "%s: %s", path, strerror(errno));
		goto done;
	}
	if ((st = fvl_gguf_writer_write_header(w, f)))
		goto done;
	/* Tensor i's bytes are (i * 31 + j) & 0xff. */
	uint8_t data[256];
	uint64_t sizes[] = {3 * 2 * 34, 20, 32, 2 * 18, 10};
	for (int i = 0; i < 5; i++) {
		for (uint64_t j = 0; j < sizes[i]; j++)
			data[j] = (uint8_t)(i * 31 + (int)j);
		/* in two pieces, to exercise streaming */
		if ((st = fvl_gguf_writer_write_data(w, f, data, sizes[i] / 2)) ||
		    (st = fvl_gguf_writer_write_data(w, f, data + sizes[i] / 2,
		                                     sizes[i] - sizes[i] / 2)) ||
		    (st = fvl_gguf_writer_end_tensor(w, f)))
			goto done;
	}
	st = fvl_gguf_writer_finish(w, f);
	if (st == FVL_STATUS_OK) {
		long at = ftell(f);
		if (at < 0 || (uint64_t)at != fvl_gguf_writer_file_size(w))
			st = fvl_fail(FVL_STATUS_IO, "wrote %ld bytes, writer predicted %llu", at,
			              (unsigned long long)fvl_gguf_writer_file_size(w));
	}
done:
	if (f && fclose(f) != 0 && st == FVL_STATUS_OK)
		st = fvl_fail(FVL_STATUS_IO, "close failed");
	fvl_gguf_writer_free(w);
	return st;
}

static void test_writer_reader_roundtrip(void)
{
	const char *path = t_tmppath("roundtrip.gguf");
	struct fvl_gguf *g;
	const struct fvl_gguf_kv *kv;
	struct fvl_str s;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;
	float f32;
	bool b;

	T_ASSERT(write_sample(path, 0) == FVL_STATUS_OK, "write: %s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(path, &g) == FVL_STATUS_OK, "open: %s", fvl_last_error());
	T_ASSERT(g->version == 3 && g->alignment == 64, "v%u align %u", g->version, g->alignment);
	T_ASSERT(fvl_gguf_get_str(g, "general.architecture", &s) == 0 &&
	                 fvl_str_eq(s, "florence-vl"),
	         "arch");
	T_ASSERT(fvl_gguf_get_u32(g, "fvl.u32", &u32) == 0 && u32 == 4000000000u, "u32");
	T_ASSERT(fvl_gguf_get_i64(g, "fvl.i32", &i64) == 0 && i64 == -42, "i32");
	T_ASSERT(fvl_gguf_get_u64(g, "fvl.i32", &u64) == FVL_STATUS_BAD_FILE, "negative as u64");
	T_ASSERT(fvl_gguf_get_u64(g, "fvl.u64", &u64) == 0 && u64 == 1ull << 40, "u64");
	T_ASSERT(fvl_gguf_get_u32(g, "fvl.u64", &u32) == FVL_STATUS_BAD_FILE, "u64 into u32");
	T_ASSERT(fvl_gguf_get_f32(g, "fvl.f32", &f32) == 0 && f32 == 1e-5f, "f32");
	T_ASSERT(fvl_gguf_get_bool(g, "fvl.bool", &b) == 0 && b, "bool");
	T_ASSERT(fvl_gguf_get_bool(g, "fvl.missing", &b) == FVL_STATUS_NOT_FOUND, "missing");
	T_ASSERT(fvl_gguf_get_str(g, "fvl.u32", &s) == FVL_STATUS_BAD_FILE &&
	                 strstr(fvl_last_error(), "expected str"),
	         "type mismatch: %s", fvl_last_error());
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.tokens", FVL_GGUF_TYPE_STRING, &kv) == 0 &&
	                 kv->n == 4,
	         "tokens");
	T_ASSERT(fvl_str_eq(fvl_gguf_arr_str(kv, 0), "<s>") && fvl_gguf_arr_str(kv, 1).n == 0 &&
	                 fvl_str_eq(fvl_gguf_arr_str(kv, 2), "hello world") &&
	                 fvl_str_eq(fvl_gguf_arr_str(kv, 3), "\xe2\x96\x81tok"),
	         "token strings");
	T_ASSERT(fvl_gguf_get_arr(g, "fvl.arr_i32", FVL_GGUF_TYPE_INT32, &kv) == 0 && kv->n == 4 &&
	                 fvl_gguf_arr_int(kv, 0) == -5 && fvl_gguf_arr_int(kv, 3) == 2147483647,
	         "i32 array");
	T_ASSERT(fvl_gguf_get_arr(g, "fvl.arr_f32", FVL_GGUF_TYPE_FLOAT32, &kv) == 0 &&
	                 (float)fvl_gguf_arr_float(kv, 2) == 3e-8f,
	         "f32 array");
	T_ASSERT(fvl_gguf_get_arr(g, "fvl.arr_u8", FVL_GGUF_TYPE_UINT8, &kv) == 0 &&
	                 fvl_gguf_arr_int(kv, 2) == 255,
	         "u8 array");
	T_ASSERT(fvl_gguf_get_arr(g, "fvl.arr_u8", FVL_GGUF_TYPE_INT32, &kv) == FVL_STATUS_BAD_FILE,
	         "array element type is checked");

	static const char *names[] = {"blk.0.attn_q.weight", "blk.0.attn_norm.weight", "v.x", "q4",
	                              "bf"};
	static const uint32_t types[] = {FVL_TYPE_Q8_0, FVL_TYPE_F32, FVL_TYPE_F16, FVL_TYPE_Q4_0,
	                                 FVL_TYPE_BF16};
	uint64_t sizes[] = {3 * 2 * 34, 20, 32, 2 * 18, 10};
	T_ASSERT(g->n_tensors == 5, "%llu tensors", (unsigned long long)g->n_tensors);
	for (int i = 0; i < 5; i++) {
		const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(g, names[i]);
		T_ASSERT(t == &g->tensors[i], "tensor %s not found in order", names[i]);
		T_ASSERT(t->type == types[i] && t->n_bytes == sizes[i], "tensor %s type/size",
		         names[i]);
		T_ASSERT(((uintptr_t)t->data - (uintptr_t)g->map) % 64 == 0, "%s not 64-aligned",
		         names[i]);
		const uint8_t *d = t->data;
		for (uint64_t j = 0; j < sizes[i]; j++)
			T_ASSERT(d[j] == (uint8_t)(i * 31 + (int)j), "%s byte %llu", names[i],
			         (unsigned long long)j);
	}
	T_ASSERT(g->tensors[2].n_dims == 3 && g->tensors[2].ne[0] == 4 &&
	                 g->tensors[2].ne[2] == 2 && g->tensors[2].ne[3] == 1,
	         "shape of v.x");
	fvl_gguf_free(g);
}

static void test_writer_refuses_misuse(void)
{
	struct fvl_gguf_writer *w;
	uint64_t ne[2] = {33, 1};
	T_ASSERT(fvl_gguf_writer_init(&w) == FVL_STATUS_OK, "init");
	T_ASSERT(fvl_gguf_writer_set_u32(w, "a", 1) == 0, "set");
	T_ASSERT(fvl_gguf_writer_set_u32(w, "a", 2) == FVL_STATUS_INVALID_ARGUMENT,
	         "duplicate key");
	T_ASSERT(fvl_gguf_writer_set_u32(w, "general.alignment", 32) == FVL_STATUS_INVALID_ARGUMENT,
	         "alignment is the writer's");
	T_ASSERT(fvl_gguf_writer_add_tensor(w, "t", FVL_TYPE_Q4_0, 2, ne, NULL) ==
	                 FVL_STATUS_INVALID_ARGUMENT,
	         "q4_0 row of 33");
	ne[0] = 32;
	T_ASSERT(fvl_gguf_writer_add_tensor(w, "t", FVL_TYPE_Q4_0, 2, ne, NULL) == 0, "add");
	T_ASSERT(fvl_gguf_writer_add_tensor(w, "t", FVL_TYPE_F32, 2, ne, NULL) ==
	                 FVL_STATUS_INVALID_ARGUMENT,
	         "duplicate tensor");
	char longname[80];
	memset(longname, 'x', 79);
	longname[79] = 0;
	T_ASSERT(fvl_gguf_writer_add_tensor(w, longname, FVL_TYPE_F32, 2, ne, NULL) ==
	                 FVL_STATUS_INVALID_ARGUMENT,
	         "name over 64 bytes");
	fvl_gguf_writer_free(w);
}

static void test_writer_reports_a_full_disk(void)
{
	struct fvl_gguf_writer *w;
	uint64_t ne[1] = {1024};
	FILE *f = fopen("/dev/full", "wb");
	if (!f)
		T_SKIP("/dev/full is not available");
	setvbuf(f, NULL, _IONBF, 0);
	T_ASSERT(fvl_gguf_writer_init(&w) == FVL_STATUS_OK, "init");
	T_ASSERT(fvl_gguf_writer_add_tensor(w, "t", FVL_TYPE_F32, 1, ne, NULL) == 0, "add");
	enum fvl_status st = fvl_gguf_writer_write_header(w, f);
	fclose(f);
	fvl_gguf_writer_free(w);
	T_ASSERT(st == FVL_STATUS_NO_SPACE, "status %s: %s", fvl_status_str(st), fvl_last_error());
}

static void test_model_load_and_errors(void)
{
	const char *path = t_tmppath("model.gguf");
	struct fvl_model *m = NULL;
	T_ASSERT(write_sample(path, 0) == FVL_STATUS_OK, "write: %s", fvl_last_error());
	/* A valid container fvl-quant did not write: refused, naming what is missing. */
	T_ASSERT(fvl_model_load(path, &m) == FVL_STATUS_BAD_FILE && m == NULL &&
	                 strstr(fvl_last_error(),
	                        "model.gguf: no fvl.format_version: not a file fvl-quant "
	                        "wrote"),
	         "incomplete model: %s", fvl_last_error());
	fvl_model_free(NULL);

	T_ASSERT(fvl_model_load(t_tmppath("nope.gguf"), &m) == FVL_STATUS_NOT_FOUND && m == NULL,
	         "missing file: %s", fvl_last_error());
	T_ASSERT(strstr(fvl_last_error(), "nope.gguf"), "message names the file: %s",
	         fvl_last_error());
	T_ASSERT(fvl_model_load(t_tmpdir(), &m) == FVL_STATUS_INVALID_ARGUMENT, "a directory");
	/* A corrupt file: the message carries the path and the reason. */
	FILE *f = fopen(path, "r+b");
	T_ASSERT(f && fseek(f, 0, SEEK_SET) == 0 && fwrite("GGML", 1, 4, f) == 4 && fclose(f) == 0,
	         "corrupt");
	T_ASSERT(fvl_model_load(path, &m) == FVL_STATUS_BAD_FILE, "corrupt accepted");
	T_ASSERT(strstr(fvl_last_error(), "model.gguf: not a GGUF file"), "message: %s",
	         fvl_last_error());
	T_ASSERT(truncate(path, 10) == 0, "truncate");
	T_ASSERT(fvl_model_load(path, &m) == FVL_STATUS_BAD_FILE &&
	                 strstr(fvl_last_error(), "truncated"),
	         "short file: %s", fvl_last_error());
}

int t_write_gguf_seeds(const char *dir)
{
	char p[512];
	struct spec s = good();
	struct buf b;
	mkdir(dir, 0755);
	for (int v = 0; v < 2; v++) {
		snprintf(p, sizeof(p), "%s/writer-%d.gguf", dir, v);
		if (write_sample(p, v) != FVL_STATUS_OK) {
			fprintf(stderr, "%s\n", fvl_last_error());
			return 1;
		}
	}
	build(&s, &b);
	snprintf(p, sizeof(p), "%s/handmade.gguf", dir);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0)
		return 1;
	return 0;
}

/* A converted model with one metadata value changed in place: a crafted file as an attacker
 * (or a broken converter) would write one. */
static enum fvl_status load_patched(const uint8_t *base, size_t n, uint8_t *work, const char *key,
                                    uint64_t elem, int64_t value)
{
	struct fvl_gguf *g;
	struct fvl_model *m = NULL;
	memcpy(work, base, n);
	if (fvl_gguf_parse(base, n, &g) != FVL_STATUS_OK)
		return FVL_STATUS_IO;
	const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(g, key);
	if (kv) {
		const uint32_t type = kv->type == FVL_GGUF_TYPE_ARRAY ? kv->arr_type : kv->type;
		const uint32_t es = fvl_gguf_value_size(type);
		memcpy(work + (kv->data - g->map) + elem * es, &value, es);
	}
	fvl_gguf_free(g);
	if (!kv)
		return FVL_STATUS_IO;
	enum fvl_status st = fvl_model_load_memory(work, n, &m);
	fvl_model_free(m);
	return st;
}

static void test_crafted_hyperparameters_are_refused_at_load(void)
{
	static const struct {
		const char *key;
		uint64_t elem;
		int64_t value;
		enum fvl_status want;
		const char *says;
	} cases[] = {
	        {"f2.text.encoder_heads", 0, 0, FVL_STATUS_BAD_FILE, "heads"},
	        {"f2.text.encoder_heads", 0, 1 << 20, FVL_STATUS_BAD_FILE, "head dim"},
	        {"f2.vision.window_size", 0, 0, FVL_STATUS_BAD_FILE, "window"},
	        {"f2.vision.num_heads", 0, 0, FVL_STATUS_BAD_FILE, "DaViT stage 0"},
	        {"f2.vision.patch_size", 3, 60, FVL_STATUS_BAD_FILE, "DaViT stage 3"},
	        {"f2.vision.pos_embed_max", 0, 1, FVL_STATUS_BAD_FILE, "position embeddings"},
	        {"llm.attention.key_length", 0, 1000, FVL_STATUS_BAD_FILE, "key_length"},
	        {"llm.attention.head_count_kv", 0, 3, FVL_STATUS_BAD_FILE, "attention shape"},
	        {"general.alignment", 0, 8, FVL_STATUS_BAD_FILE, "align"},
	        {"fvl.format_version", 0, 99, FVL_STATUS_UNSUPPORTED, "newer"},
	        {"fvl.format_version", 0, 0, FVL_STATUS_BAD_FILE, "not a version"},
	        {"f2.vision.layer_norm_eps", 0, 0x7fc00000, FVL_STATUS_BAD_FILE, "layer_norm_eps"},
	        {"fvl.image.token_id", 0, 5, FVL_STATUS_BAD_FILE, "negative id"},
	};
	char path[600];
	snprintf(path, sizeof(path), "%s", t_tmppath("crafted-base.gguf"));
	struct convert_opts o = {.ckpt_dir = t_datapath("fvl-tiny-phi3/checkpoint"),
	                         .out = path,
	                         .wtype = FVL_TYPE_Q8_0,
	                         .vision_wtype = FVL_TYPE_F16,
	                         .embed_wtype = FVL_TYPE_Q8_0,
	                         .no_florence_decoder = true,
	                         .quiet = true};
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	FILE *f = fopen(path, "rb");
	T_ASSERT(f && fseek(f, 0, SEEK_END) == 0, "open");
	const size_t n = (size_t)ftell(f);
	uint8_t *base = aligned_alloc(64, (n + 63) / 64 * 64),
	        *work = aligned_alloc(64, (n + 63) / 64 * 64);
	T_ASSERT(base && work && fseek(f, 0, SEEK_SET) == 0 && fread(base, 1, n, f) == n, "read");
	fclose(f);
	int ok = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const enum fvl_status st =
		        load_patched(base, n, work, cases[i].key, cases[i].elem, cases[i].value);
		const bool good = st == cases[i].want && strstr(fvl_last_error(), cases[i].says);
		ok += good;
		if (!good)
			t_note("%s = %lld: status %d, '%s'", cases[i].key,
			       (long long)cases[i].value, st, fvl_last_error());
	}
	free(base);
	free(work);
	t_note("%d of %zu crafted hyperparameters refused at load with a message naming them", ok,
	       sizeof(cases) / sizeof(cases[0]));
	T_ASSERT(ok == (int)(sizeof(cases) / sizeof(cases[0])), "see above");
}

void suite_gguf(void)
{
	T_RUN(test_handmade_file_parses);
	T_RUN(test_every_truncation_is_rejected);
	T_RUN(test_bad_magic);
	T_RUN(test_wrong_version);
	T_RUN(test_absurd_counts);
	T_RUN(test_string_past_the_end);
	T_RUN(test_unknown_metadata_types);
	T_RUN(test_bad_alignment);
	T_RUN(test_offsets_past_the_end_or_overflowing);
	T_RUN(test_misaligned_offset);
	T_RUN(test_unknown_tensor_types);
	T_RUN(test_bad_shapes);
	T_RUN(test_duplicate_and_overlapping_tensors);
	T_RUN(test_writer_reader_roundtrip);
	T_RUN(test_writer_refuses_misuse);
	T_RUN(test_writer_reports_a_full_disk);
	T_RUN(test_model_load_and_errors);
	T_RUN(test_crafted_hyperparameters_are_refused_at_load);
}
