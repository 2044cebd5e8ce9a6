/* test-export.c — fvl-quant export-llm: the converted Phi-3 and Llama-3 fixtures written as
 * llama.cpp GGUFs; every LLM tensor byte-identical to the fvl file's (Llama's attn_q / attn_k
 * rows in the order of llama.cpp's converter's permute), llama.cpp's key names with
 * the source's values, the rope factor tensors llama.cpp's converter writes (Llama 3's against
 * torch running that converter's formula), the vocabulary padded as it pads; bad inputs refused
 * with no output left behind. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"
#include "export.h"
#include "gguf.h"
#include "names.h"
#include "test.h"

#define PHI3   "fvl-tiny-phi3/checkpoint"
#define LLAMA3 "fvl-tiny-llama3/checkpoint"

static bool convert_fixture(const char *fixture, const char *out)
{
	struct convert_opts o = {.ckpt_dir = t_datapath(fixture),
	                         .out = out,
	                         .wtype = FVL_TYPE_Q4_0,
	                         .vision_wtype = FVL_TYPE_F16,
	                         .embed_wtype = FVL_TYPE_Q8_0,
	                         .quiet = true};
	return convert_run(&o) == FVL_STATUS_OK;
}

static bool export_file(const char *in, const char *out)
{
	struct export_opts o = {.in = in, .out = out, .quiet = true};
	return export_llm_run(&o) == FVL_STATUS_OK;
}

static bool starts(struct fvl_str s, const char *p)
{
	return s.n >= strlen(p) && memcmp(s.p, p, strlen(p)) == 0;
}

static int64_t u32_of(const struct fvl_gguf *g, const char *key)
{
	uint32_t v;
	return fvl_gguf_get_u32(g, key, &v) == FVL_STATUS_OK ? (int64_t)v : -1;
}

static bool ends(struct fvl_str s, const char *p)
{
	size_t n = strlen(p);
	return s.n >= n && memcmp(s.p + s.n - n, p, n) == 0;
}

/* Row r of an exported Llama attn_q / attn_k (heads of d rows): llama.cpp's converter's permute,
 * reshape(heads, 2, d / 2, in).swapaxes(1, 2), moves source row (h, s, j) to (h, j, s). */
static bool permuted_rows_equal(const struct fvl_gguf_tensor *s, const struct fvl_gguf_tensor *d,
                                uint64_t heads)
{
	uint64_t rows = s->ne[1], row = s->n_bytes / rows, hd = rows / heads;
	const uint8_t *a = s->data, *b = d->data;
	for (uint64_t r = 0; r < rows; r++) {
		uint64_t h = r / hd, j = r % hd / 2, k = r % 2;
		if (memcmp(b + r * row, a + (h * hd + k * (hd / 2) + j) * row, row) != 0)
			return false;
	}
	return true;
}

/* Every LLM tensor of src is in dst with its type, shape and bytes (for Llama, heads_q and
 * heads_kv > 0: attn_q and attn_k rows permuted); no vision tensor is. Returns the number of
 * tensors compared, or -1 after a failure. */
static int same_llm_tensors(const struct fvl_gguf *src, const struct fvl_gguf *dst,
                            uint64_t heads_q, uint64_t heads_kv)
{
	int n = 0;
	for (uint64_t i = 0; i < src->n_tensors; i++) {
		const struct fvl_gguf_tensor *s = &src->tensors[i];
		char name[FVL_GGUF_MAX_NAME + 1];
		snprintf(name, sizeof(name), "%.*s", (int)s->name.n, s->name.p);
		const struct fvl_gguf_tensor *d = fvl_gguf_find_tensor(dst, name);
		bool vision = starts(s->name, "v.") || starts(s->name, "fe.") ||
		              starts(s->name, "fd.") || starts(s->name, "mm.");
		if (vision) {
			if (d) {
				t_failf(__FILE__, __LINE__, "vision tensor %s exported", name);
				return -1;
			}
			continue;
		}
		uint64_t heads = !heads_q                          ? 0
		                 : ends(s->name, ".attn_q.weight") ? heads_q
		                 : ends(s->name, ".attn_k.weight") ? heads_kv
		                                                   : 0;
		if (!d || d->type != s->type || d->n_bytes != s->n_bytes ||
		    memcmp(d->ne, s->ne, sizeof(s->ne)) != 0 ||
		    (heads ? !permuted_rows_equal(s, d, heads)
		           : memcmp(d->data, s->data, s->n_bytes) != 0)) {
			t_failf(__FILE__, __LINE__, "%s: %s in the export", name,
			        d ? "other type, shape or bytes" : "missing");
			return -1;
		}
		n++;
	}
	return n;
}

/* Converts the fixture, exports its LLM, maps both (*s, *d; the files are removed, the mappings
 * stay) and compares their LLM tensors (same_llm_tensors). Returns the count, or -1 after a
 * failure; the caller frees *s and *d either way. */
static int convert_export_compare(const char *fixture, const char *tag, uint64_t heads_q,
                                  uint64_t heads_kv, struct fvl_gguf **s, struct fvl_gguf **d)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s.gguf", tag);
	snprintf(b, sizeof(b), "%s.llama.gguf", tag);
	char fvl[4096], out[4096];
	snprintf(fvl, sizeof(fvl), "%s", t_tmppath(a));
	snprintf(out, sizeof(out), "%s", t_tmppath(b));
	*s = *d = NULL;
	bool ok = convert_fixture(fixture, fvl) && export_file(fvl, out) &&
	          fvl_gguf_open(fvl, s) == FVL_STATUS_OK && fvl_gguf_open(out, d) == FVL_STATUS_OK;
	unlink(fvl);
	unlink(out);
	if (!ok) {
		t_failf(__FILE__, __LINE__, "%s: %s", fixture, fvl_last_error());
		return -1;
	}
	return same_llm_tensors(*s, *d, heads_q, heads_kv);
}

static void test_export_phi3_keeps_the_tensors_and_names_llama_cpp_keys(void)
{
	struct fvl_gguf *s, *d;
	int n = convert_export_compare(PHI3, "x-phi3", 0, 0, &s, &d);
	if (n < 0)
		goto done;
	T_CHECK(d->n_tensors == (uint64_t)n + 2, "%llu tensors for %d LLM ones + 2 rope factors",
	        (unsigned long long)d->n_tensors, n);
	struct fvl_str arch = {0};
	fvl_gguf_get_str(d, FVL_KEY_ARCH, &arch);
	T_CHECK(fvl_str_eq(arch, "phi3"), "general.architecture '%.*s'", (int)arch.n, arch.p);
	static const char *const same[][2] = {
	        {"phi3.block_count", FVL_KEY_LLM_N_LAYER},
	        {"phi3.embedding_length", FVL_KEY_LLM_N_EMBD},
	        {"phi3.feed_forward_length", FVL_KEY_LLM_N_FF},
	        {"phi3.attention.head_count", FVL_KEY_LLM_N_HEAD},
	        {"phi3.attention.head_count_kv", FVL_KEY_LLM_N_HEAD_KV},
	        {"phi3.attention.value_length", FVL_KEY_LLM_N_EMBD_HEAD},
	        {"phi3.rope.dimension_count", FVL_KEY_ROPE_N_ROT},
	        {"phi3.rope.scaling.original_context_length", FVL_KEY_ROPE_N_CTX_ORIG},
	        {"phi3.context_length", FVL_KEY_LLM_MAX_POS}};
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
		T_CHECK(u32_of(d, same[i][0]) == u32_of(s, same[i][1]) && u32_of(d, same[i][0]) > 0,
		        "%s = %lld, %s = %lld", same[i][0], (long long)u32_of(d, same[i][0]),
		        same[i][1], (long long)u32_of(s, same[i][1]));
	/* the fixture's config: max_position_embeddings 131072, original 4096 */
	T_CHECK(u32_of(d, "phi3.context_length") == 131072, "context_length %lld",
	        (long long)u32_of(d, "phi3.context_length"));
	float fa = 0, fb = -1;
	fvl_gguf_get_f32(d, "phi3.rope.scaling.attn_factor", &fa);
	fvl_gguf_get_f32(s, FVL_KEY_ROPE_ATTN_FACTOR, &fb);
	T_CHECK(fa == fb, "attn_factor %g, source %g", (double)fa, (double)fb);

	/* rope factors: the config's lists, as tensors */
	const char *const rope[][2] = {{"rope_factors_short.weight", FVL_KEY_ROPE_SHORT_FACTOR},
	                               {"rope_factors_long.weight", FVL_KEY_ROPE_LONG_FACTOR}};
	for (int k = 0; k < 2; k++) {
		const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(d, rope[k][0]);
		const struct fvl_gguf_kv *kv = fvl_gguf_find_kv(s, rope[k][1]);
		T_ASSERT(t && kv && t->type == FVL_TYPE_F32 && t->ne[0] == kv->n, "%s", rope[k][0]);
		for (uint64_t i = 0; i < kv->n; i++)
			T_ASSERT(((const float *)t->data)[i] == (float)fvl_gguf_arr_float(kv, i),
			         "%s[%llu]", rope[k][0], (unsigned long long)i);
	}

	/* vocabulary: 32011 tokens padded to the 32064 embedding rows as llama.cpp pads them */
	const struct fvl_gguf_kv *tok = fvl_gguf_find_kv(d, "tokenizer.ggml.tokens");
	const struct fvl_gguf_kv *typ = fvl_gguf_find_kv(d, "tokenizer.ggml.token_type");
	const struct fvl_gguf_kv *src = fvl_gguf_find_kv(s, FVL_TOK_LLM "." FVL_TOK_TOKENS);
	T_ASSERT(tok && typ && src && tok->n == 32064 && typ->n == 32064 && src->n == 32011,
	         "tokens %llu", tok ? (unsigned long long)tok->n : 0ull);
	T_CHECK(fvl_str_eq(fvl_gguf_arr_str(tok, 32011), "[PAD32011]") &&
	                fvl_gguf_arr_int(typ, 32011) == FVL_TOK_TYPE_UNUSED,
	        "token 32011 '%.*s'", (int)fvl_gguf_arr_str(tok, 32011).n,
	        fvl_gguf_arr_str(tok, 32011).p);
	T_CHECK(fvl_str_eq(fvl_gguf_arr_str(tok, 32007), "<|end|>"), "token 32007");
	/* a tokenizer.json BPE with SentencePiece conventions: llama vocabulary, merge-rank
	 * scores (the fixture's first merges are "▁ t" and "i n") */
	struct fvl_str model = {0};
	fvl_gguf_get_str(d, "tokenizer.ggml.model", &model);
	T_CHECK(fvl_str_eq(model, "llama"), "tokenizer.ggml.model '%.*s'", (int)model.n, model.p);
	const struct fvl_gguf_kv *sc = fvl_gguf_find_kv(d, "tokenizer.ggml.scores");
	T_ASSERT(sc && sc->n == 32064, "scores");
	for (uint64_t i = 0; i < src->n; i++) {
		struct fvl_str t = fvl_gguf_arr_str(src, i);
		if (fvl_str_eq(t, "\xe2\x96\x81t"))
			T_CHECK(fvl_gguf_arr_float(sc, i) == -1.0, "score of '_t' %g",
			        fvl_gguf_arr_float(sc, i));
		if (fvl_str_eq(t, "in"))
			T_CHECK(fvl_gguf_arr_float(sc, i) == -2.0, "score of 'in' %g",
			        fvl_gguf_arr_float(sc, i));
	}
	bool add_bos = false;
	fvl_gguf_get_bool(d, "tokenizer.ggml.add_bos_token", &add_bos);
	T_CHECK(add_bos && u32_of(d, "tokenizer.ggml.bos_token_id") == 1 &&
	                u32_of(d, "tokenizer.ggml.eos_token_id") == 32007,
	        "bos %lld eos %lld", (long long)u32_of(d, "tokenizer.ggml.bos_token_id"),
	        (long long)u32_of(d, "tokenizer.ggml.eos_token_id"));
	t_note("%d LLM tensors byte-identical, 53 [PAD] tokens, rope factors as tensors", n);
done:
	fvl_gguf_free(s);
	fvl_gguf_free(d);
}

static void test_export_llama3_rope_freqs_as_llama_cpp_computes_them(void)
{
	struct fvl_gguf *s, *d;
	/* the fixture: 4 query heads, 2 key/value heads */
	int n = convert_export_compare(LLAMA3, "x-l3", 4, 2, &s, &d);
	if (n < 0)
		goto done;
	/* llama.cpp's conversion/llama.py generate_extra_tensors, run with torch 1.13 on this
	 * fixture's rope (head 8, theta 500000, factor 8, low 1, high 4, original 8192) */
	static const float want[4] = {1.0f, 1.0f, 0x1.58e65cp+1f, 8.0f};
	const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(d, "rope_freqs.weight");
	T_ASSERT(t && t->type == FVL_TYPE_F32 && t->ne[0] == 4, "rope_freqs.weight");
	for (int i = 0; i < 4; i++)
		T_CHECK(((const float *)t->data)[i] == want[i], "rope_freqs[%d] = %a, want %a", i,
		        (double)((const float *)t->data)[i], (double)want[i]);
	struct fvl_str model = {0}, pre = {0};
	fvl_gguf_get_str(d, "tokenizer.ggml.model", &model);
	fvl_gguf_get_str(d, "tokenizer.ggml.pre", &pre);
	T_CHECK(fvl_str_eq(model, "gpt2") && fvl_str_eq(pre, "llama-bpe"),
	        "model '%.*s' pre '%.*s'", (int)model.n, model.p, (int)pre.n, pre.p);
	const struct fvl_gguf_kv *m = fvl_gguf_find_kv(d, "tokenizer.ggml.merges");
	const struct fvl_gguf_kv *sm = fvl_gguf_find_kv(s, FVL_TOK_LLM "." FVL_TOK_MERGES);
	T_ASSERT(m && sm && m->n == sm->n, "merges");
	for (uint64_t i = 0; i < m->n; i += 997) {
		struct fvl_str a = fvl_gguf_arr_str(m, i), b = fvl_gguf_arr_str(sm, i);
		T_ASSERT(a.n == b.n && memcmp(a.p, b.p, a.n) == 0, "merge %llu",
		         (unsigned long long)i);
	}
	T_CHECK(u32_of(d, "llama.attention.head_count_kv") == 2 &&
	                u32_of(d, "llama.vocab_size") ==
	                        (int64_t)fvl_gguf_find_tensor(s, FVL_TN_TOKEN_EMBD)->ne[1],
	        "GQA heads / vocab");
	t_note("%d LLM tensors byte-identical (attn_q/k rows permuted), rope_freqs equal to "
	       "llama.cpp's converter",
	       n);
done:
	fvl_gguf_free(s);
	fvl_gguf_free(d);
}

static bool no_file(const char *p)
{
	char tmp[4096];
	struct stat sb;
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	return stat(p, &sb) != 0 && stat(tmp, &sb) != 0;
}

static void test_export_refuses_what_it_cannot_write(void)
{
	const char *f2 = t_tmppath("x-f2.gguf"), *out = t_tmppath("x-none.gguf");
	struct convert_opts o = {.ckpt_dir = t_datapath("florence2-tiny"),
	                         .out = f2,
	                         .wtype = FVL_TYPE_F16,
	                         .vision_wtype = FVL_TYPE_F16,
	                         .embed_wtype = FVL_TYPE_F16,
	                         .quiet = true};
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	struct export_opts e = {.in = f2, .out = out, .quiet = true};
	T_CHECK(export_llm_run(&e) == FVL_STATUS_BAD_FILE &&
	                strstr(fvl_last_error(), "takes a Florence-VL model file") && no_file(out),
	        "Florence-2 file: %s", fvl_last_error());
	e.out = f2;
	T_CHECK(export_llm_run(&e) == FVL_STATUS_INVALID_ARGUMENT &&
	                strstr(fvl_last_error(), "is the input"),
	        "output = input: %s", fvl_last_error());
	e.in = t_tmppath("x-missing.gguf");
	e.out = out;
	T_CHECK(export_llm_run(&e) == FVL_STATUS_NOT_FOUND && no_file(out), "missing input: %s",
	        fvl_last_error());
	/* a Florence-VL file cut short: refused by the reader, nothing written */
	const char *vl = t_tmppath("x-vl.gguf"), *cut = t_tmppath("x-cut.gguf");
	T_ASSERT(convert_fixture(PHI3, vl), "%s", fvl_last_error());
	struct stat sb;
	T_ASSERT(stat(vl, &sb) == 0 && truncate(vl, sb.st_size / 2) == 0 && rename(vl, cut) == 0,
	         "truncate");
	e.in = cut;
	T_CHECK(export_llm_run(&e) != FVL_STATUS_OK && no_file(out), "truncated input accepted");
	e.in = f2;
	e.out = t_tmpdir();
	T_CHECK(export_llm_run(&e) == FVL_STATUS_INVALID_ARGUMENT &&
	                strstr(fvl_last_error(), "is a directory"),
	        "directory output: %s", fvl_last_error());
	unlink(f2);
	unlink(cut);
}

void suite_export(void)
{
	T_RUN(test_export_phi3_keeps_the_tensors_and_names_llama_cpp_keys);
	T_RUN(test_export_llama3_rope_freqs_as_llama_cpp_computes_them);
	T_RUN(test_export_refuses_what_it_cannot_write);
}
