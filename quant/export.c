/* export.c — `fvl-quant export-llm`: the LLM of a Florence-VL model file as a GGUF llama.cpp
 * loads, so that a peer runs the very same weights (make bench-peers). fvl's LLM tensors already
 * carry llama.cpp's names and ggml's block layouts, and its llm.* keys llama.cpp's key suffixes:
 * tensors are copied byte for byte and keys re-prefixed with the architecture. What llama.cpp's
 * own converter adds is made the way it makes it (conversion/phi.py, conversion/llama.py): the
 * rope factor tensors, "[PAD<i>]" tokens up to the embedding's rows, the vocabulary keys, and for
 * Llama the row order of attn_q and attn_k that its interleaved rope expects (fvl, like
 * transformers, rotates halves; quantized blocks lie along a row, so the rows move whole). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "export.h"
#include "gguf.h"
#include "names.h"
#include "outfile.h"

#define COPY_CHUNK (64u << 20) /* bytes copied (and their source pages dropped) at a time */

/* llm.<suffix> in fvl's file is <arch>.<suffix> in llama.cpp's */
static const char *const u32_suffixes[] = {"embedding_length",        "block_count",
                                           "feed_forward_length",     "attention.head_count",
                                           "attention.head_count_kv", "attention.key_length",
                                           "rope.dimension_count"};
static const char *const f32_suffixes[] = {"attention.layer_norm_rms_epsilon", "rope.freq_base"};

/* Llama 3's pre-tokenizer pattern, which llama.cpp knows as "llama-bpe" */
static const char llama3_regex[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct exporter {
	const struct fvl_gguf *g;
	struct fvl_gguf_writer *w;
	const char *arch; /* "phi3" | "llama" */
	uint64_t n_vocab; /* token_embd rows */
	uint32_t n_rot, n_head, n_head_kv, head_dim;
	float *rope[2]; /* factor tensors' data, (n_rot / 2) each */
	const char *rope_name[2];
	int n_rope;
	bool quiet;
};

static const char *akey(const struct exporter *e, const char *suffix, char *buf, size_t n)
{
	snprintf(buf, n, "%s.%s", e->arch, suffix);
	return buf;
}

static bool str_is(struct fvl_str s, const char *c)
{
	return fvl_str_eq(s, c);
}

/* Names of the tensors that belong to the LLM (the vision side's start with v., fe., fd., mm.) */
static bool is_llm_tensor(struct fvl_str n)
{
	return (n.n > 4 && memcmp(n.p, "blk.", 4) == 0) || str_is(n, FVL_TN_TOKEN_EMBD) ||
	       str_is(n, FVL_TN_OUTPUT_NORM) || str_is(n, FVL_TN_OUTPUT);
}

/* An array of numbers (the getters take any element type). */
static bool numeric(const struct fvl_gguf_kv *kv)
{
	return kv->arr_type != FVL_GGUF_TYPE_STRING && kv->arr_type != FVL_GGUF_TYPE_ARRAY;
}

/* ---- hyperparameters ---------------------------------------------------------------------- */

static enum fvl_status copy_hparams(struct exporter *e)
{
	char src[96], dst[96];
	enum fvl_status st;
	for (size_t i = 0; i < sizeof(u32_suffixes) / sizeof(*u32_suffixes); i++) {
		uint32_t v;
		snprintf(src, sizeof(src), "llm.%s", u32_suffixes[i]);
		if ((st = fvl_gguf_get_u32(e->g, src, &v)) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_u32(e->w, akey(e, u32_suffixes[i], dst, sizeof(dst)),
		                                  v)) != FVL_STATUS_OK)
			return st;
		if (strcmp(u32_suffixes[i], "attention.key_length") == 0 &&
		    (st = fvl_gguf_writer_set_u32(
		             e->w, akey(e, "attention.value_length", dst, sizeof(dst)), v)) !=
		            FVL_STATUS_OK)
			return st;
		if (strcmp(u32_suffixes[i], "rope.dimension_count") == 0)
			e->n_rot = v;
		if (strcmp(u32_suffixes[i], "attention.head_count") == 0)
			e->n_head = v;
		if (strcmp(u32_suffixes[i], "attention.head_count_kv") == 0)
			e->n_head_kv = v;
		if (strcmp(u32_suffixes[i], "attention.key_length") == 0)
			e->head_dim = v;
	}
	for (size_t i = 0; i < sizeof(f32_suffixes) / sizeof(*f32_suffixes); i++) {
		float v;
		snprintf(src, sizeof(src), "llm.%s", f32_suffixes[i]);
		if ((st = fvl_gguf_get_f32(e->g, src, &v)) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_f32(e->w, akey(e, f32_suffixes[i], dst, sizeof(dst)),
		                                  v)) != FVL_STATUS_OK)
			return st;
	}
	if (e->n_rot < 2 || e->n_rot % 2)
		return fvl_fail(FVL_STATUS_BAD_FILE, "llm.rope.dimension_count %u is not even",
		                e->n_rot);
	/* llama.cpp's context_length is the trained one (max_position_embeddings); fvl's
	 * llm.context_length is Florence-VL's 2048 */
	uint32_t ctx;
	if (fvl_gguf_get_u32(e->g, FVL_KEY_LLM_MAX_POS, &ctx) != FVL_STATUS_OK &&
	    (st = fvl_gguf_get_u32(e->g, FVL_KEY_LLM_N_CTX, &ctx)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_gguf_writer_set_u32(e->w, akey(e, "context_length", dst, sizeof(dst)),
	                                  ctx)) != FVL_STATUS_OK)
		return st;
	return fvl_gguf_writer_set_u32(e->w, akey(e, "vocab_size", dst, sizeof(dst)),
	                               (uint32_t)e->n_vocab);
}

/* A float array of exactly n values, copied out (malloc'd). */
static enum fvl_status
get_floats(const struct fvl_gguf *g, const char *key, uint64_t n, float **out)
{
	const struct fvl_gguf_kv *kv;
	enum fvl_status st = fvl_gguf_get_arr(g, key, -1, &kv);
	if (st != FVL_STATUS_OK)
		return st;
	if (!numeric(kv) || kv->n != n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "'%s' should hold %llu numbers", key,
		                (unsigned long long)n);
	if (!(*out = malloc(n * sizeof(float))))
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (uint64_t i = 0; i < n; i++)
		(*out)[i] = (float)fvl_gguf_arr_float(kv, i);
	return FVL_STATUS_OK;
}

/* Llama 3's frequency divisors, as llama.cpp's converter computes them (in float32, as torch) */
static enum fvl_status llama3_factors(struct exporter *e, float **out)
{
	float base, factor, lo, hi;
	uint32_t orig;
	enum fvl_status st;
	if ((st = fvl_gguf_get_f32(e->g, FVL_KEY_ROPE_FREQ_BASE, &base)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_f32(e->g, FVL_KEY_ROPE_FACTOR, &factor)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_f32(e->g, FVL_KEY_ROPE_LOW_FREQ, &lo)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_f32(e->g, FVL_KEY_ROPE_HIGH_FREQ, &hi)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_u32(e->g, FVL_KEY_ROPE_SCALING_N_CTX, &orig)) != FVL_STATUS_OK)
		return st;
	if (!(hi > lo))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "llama3 rope: high_freq_factor %g is not above "
		                "low_freq_factor %g",
		                (double)hi, (double)lo);
	uint32_t half = e->n_rot / 2;
	float *f = malloc(half * sizeof(float));
	if (!f)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	float lo_wavelen = (float)orig / lo, hi_wavelen = (float)orig / hi;
	for (uint32_t i = 0; i < half; i++) {
		float freq = 1.0f / powf(base, (float)(2 * i) / (float)e->n_rot);
		float wavelen = (float)(2.0 * M_PI) / freq;
		if (wavelen < hi_wavelen) {
			f[i] = 1.0f;
		} else if (wavelen > lo_wavelen) {
			f[i] = factor;
		} else {
			float smooth = ((float)orig / wavelen - lo) / (hi - lo);
			f[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
		}
	}
	*out = f;
	return FVL_STATUS_OK;
}

static enum fvl_status add_rope(struct exporter *e)
{
	struct fvl_str type = {"none", 4};
	char dst[96];
	enum fvl_status st;
	if (fvl_gguf_find_kv(e->g, FVL_KEY_ROPE_SCALING_TYPE) &&
	    (st = fvl_gguf_get_str(e->g, FVL_KEY_ROPE_SCALING_TYPE, &type)) != FVL_STATUS_OK)
		return st;
	uint64_t half = e->n_rot / 2;
	if (str_is(type, "longrope")) {
		uint32_t orig;
		float attn;
		if ((st = fvl_gguf_get_u32(e->g, FVL_KEY_ROPE_N_CTX_ORIG, &orig)) !=
		            FVL_STATUS_OK ||
		    (st = fvl_gguf_get_f32(e->g, FVL_KEY_ROPE_ATTN_FACTOR, &attn)) !=
		            FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_u32(
		             e->w,
		             akey(e, "rope.scaling.original_context_length", dst, sizeof(dst)),
		             orig)) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_f32(
		             e->w, akey(e, "rope.scaling.attn_factor", dst, sizeof(dst)), attn)) !=
		            FVL_STATUS_OK ||
		    (st = get_floats(e->g, FVL_KEY_ROPE_LONG_FACTOR, half, &e->rope[0])) !=
		            FVL_STATUS_OK ||
		    (st = get_floats(e->g, FVL_KEY_ROPE_SHORT_FACTOR, half, &e->rope[1])) !=
		            FVL_STATUS_OK)
			return st;
		e->rope_name[0] = "rope_factors_long.weight";
		e->rope_name[1] = "rope_factors_short.weight";
		e->n_rope = 2;
	} else if (str_is(type, "llama3")) {
		if ((st = llama3_factors(e, &e->rope[0])) != FVL_STATUS_OK)
			return st;
		e->rope_name[0] = "rope_freqs.weight";
		e->n_rope = 1;
	} else if (!str_is(type, "none")) {
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "rope scaling '%.*s' has no llama.cpp form here", (int)type.n,
		                type.p);
	}
	for (int i = 0; i < e->n_rope; i++)
		if ((st = fvl_gguf_writer_add_tensor(e->w, e->rope_name[i], FVL_TYPE_F32, 1, &half,
		                                     NULL)) != FVL_STATUS_OK)
			return st;
	return FVL_STATUS_OK;
}

/* ---- vocabulary --------------------------------------------------------------------------- */

/* An open-addressing map from token text to id, for the merge-rank scores. */
struct tokmap {
	uint64_t cap;
	int64_t *slot; /* id + 1; 0: empty */
};

static uint64_t hash_bytes(const char *p, uint64_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

static int64_t
tokmap_find(const struct tokmap *m, const struct fvl_gguf_kv *tokens, const char *p, uint64_t n)
{
	for (uint64_t h = hash_bytes(p, n) & (m->cap - 1);; h = (h + 1) & (m->cap - 1)) {
		int64_t id = m->slot[h] - 1;
		if (id < 0)
			return -1;
		struct fvl_str t = fvl_gguf_arr_str(tokens, (uint64_t)id);
		if (t.n == n && memcmp(t.p, p, n) == 0)
			return id;
	}
}

/* SentencePiece-style scores for a tokenizers BPE vocabulary with SentencePiece conventions:
 * the token a merge makes scores -(rank + 1), so llama.cpp's highest-score-first merging follows
 * the merge order; tokens no merge makes score below all of them. */
static enum fvl_status
merge_scores(const struct fvl_gguf *g, const struct fvl_gguf_kv *tokens, float *scores)
{
	const struct fvl_gguf_kv *merges;
	enum fvl_status st =
	        fvl_gguf_get_arr(g, FVL_TOK_LLM "." FVL_TOK_MERGES, FVL_GGUF_TYPE_STRING, &merges);
	if (st != FVL_STATUS_OK)
		return st;
	struct tokmap m = {.cap = 1};
	while (m.cap < 2 * tokens->n)
		m.cap *= 2;
	if (!(m.slot = calloc(m.cap, sizeof(*m.slot))))
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (uint64_t i = 0; i < tokens->n; i++) {
		struct fvl_str t = fvl_gguf_arr_str(tokens, i);
		uint64_t h = hash_bytes(t.p, t.n) & (m.cap - 1);
		while (m.slot[h])
			h = (h + 1) & (m.cap - 1);
		m.slot[h] = (int64_t)i + 1;
		scores[i] = -1e9f;
	}
	char buf[1024];
	for (uint64_t r = 0; r < merges->n; r++) {
		struct fvl_str s = fvl_gguf_arr_str(merges, r);
		const char *sp = memchr(s.p, ' ', s.n);
		if (!sp || s.n > sizeof(buf))
			continue;
		uint64_t a = (uint64_t)(sp - s.p);
		memcpy(buf, s.p, a);
		memcpy(buf + a, sp + 1, s.n - a - 1);
		int64_t id = tokmap_find(&m, tokens, buf, s.n - 1);
		if (id >= 0 && scores[id] == -1e9f)
			scores[id] = -(float)(r + 1);
	}
	free(m.slot);
	return FVL_STATUS_OK;
}

static int64_t get_int_or(const struct fvl_gguf *g, const char *key, int64_t dflt)
{
	int64_t v;
	return fvl_gguf_get_i64(g, key, &v) == FVL_STATUS_OK ? v : dflt;
}

/* A string array of the input, written under key. */
static enum fvl_status
copy_strings(struct fvl_gguf_writer *w, const char *key, const struct fvl_gguf_kv *kv)
{
	const char **v = malloc((kv->n + 1) * sizeof(*v));
	uint64_t *len = malloc((kv->n + 1) * sizeof(*len));
	enum fvl_status st = FVL_STATUS_OK;
	if (!v || !len)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for '%s'", key);
	for (uint64_t i = 0; st == FVL_STATUS_OK && i < kv->n; i++) {
		struct fvl_str s = fvl_gguf_arr_str(kv, i);
		v[i] = s.p;
		len[i] = s.n;
	}
	if (st == FVL_STATUS_OK)
		st = fvl_gguf_writer_set_arr_str(w, key, v, len, kv->n);
	free(v);
	free(len);
	return st;
}

static enum fvl_status add_vocab(struct exporter *e)
{
	const struct fvl_gguf *g = e->g;
	const struct fvl_gguf_kv *tokens, *types, *kv;
	struct fvl_str model, decoder = {"", 0};
	enum fvl_status st;
	if ((st = fvl_gguf_get_str(g, FVL_TOK_LLM "." FVL_TOK_MODEL, &model)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_arr(g, FVL_TOK_LLM "." FVL_TOK_TOKENS, FVL_GGUF_TYPE_STRING,
	                           &tokens)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_get_arr(g, FVL_TOK_LLM "." FVL_TOK_TOKEN_TYPE, -1, &types)) !=
	            FVL_STATUS_OK)
		return st;
	fvl_gguf_get_str(g, FVL_TOK_LLM "." FVL_TOK_DECODER, &decoder);
	uint64_t n_tok = tokens->n, n = e->n_vocab;
	if (n_tok > n || types->n != n_tok || !numeric(types))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "the LLM tokenizer has %llu tokens (%llu types) for %llu embedding "
		                "rows",
		                (unsigned long long)n_tok, (unsigned long long)types->n,
		                (unsigned long long)n);
	bool spm = str_is(model, "spm"),
	     gpt2 = str_is(model, "bpe") && str_is(decoder, "byte_level");
	bool spm_like = str_is(model, "bpe") && str_is(decoder, "sentencepiece");
	if (!spm && !gpt2 && !spm_like)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "LLM tokenizer '%.*s' with decoder '%.*s' has no llama.cpp form",
		                (int)model.n, model.p, (int)decoder.n, decoder.p);

	const char **tok = malloc(n * sizeof(*tok));
	uint64_t *len = malloc(n * sizeof(*len));
	int32_t *type = malloc(n * sizeof(*type));
	float *score = malloc(n * sizeof(*score));
	char *pads = malloc((n - n_tok) * 32 + 1); /* "[PAD<id>]" and its NUL */
	if (!tok || !len || !type || !score || !pads) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the vocabulary");
		goto done;
	}
	char *pp = pads;
	for (uint64_t i = 0; i < n; i++) {
		if (i < n_tok) {
			struct fvl_str t = fvl_gguf_arr_str(tokens, i);
			tok[i] = t.p;
			len[i] = t.n;
			type[i] = (int32_t)fvl_gguf_arr_int(types, i);
		} else { /* what llama.cpp's converter writes for ids past the tokenizer */
			tok[i] = pp;
			len[i] = (uint64_t)sprintf(pp, "[PAD%llu]", (unsigned long long)i);
			pp += len[i] + 1;
			type[i] = FVL_TOK_TYPE_UNUSED;
		}
		score[i] = i < n_tok ? 0.0f : -10000.0f;
	}
	if (spm) {
		if ((st = fvl_gguf_get_arr(g, FVL_TOK_LLM "." FVL_TOK_SCORES, -1, &kv)) !=
		    FVL_STATUS_OK)
			goto done;
		for (uint64_t i = 0; i < n_tok && i < kv->n && numeric(kv); i++)
			score[i] = (float)fvl_gguf_arr_float(kv, i);
	} else if (spm_like && (st = merge_scores(g, tokens, score)) != FVL_STATUS_OK) {
		goto done;
	}

	struct fvl_gguf_writer *w = e->w;
	if ((st = fvl_gguf_writer_set_str(w, "tokenizer.ggml.model", gpt2 ? "gpt2" : "llama")) !=
	            FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, len, n)) !=
	            FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FVL_GGUF_TYPE_INT32, type,
	                                  n)) != FVL_STATUS_OK)
		goto done;
	if (gpt2) {
		struct fvl_str regex = {"", 0};
		fvl_gguf_get_str(g, FVL_TOK_LLM "." FVL_TOK_PRE_REGEX, &regex);
		bool llama3 = str_is(regex, llama3_regex);
		if (!llama3 && !e->quiet)
			fprintf(stderr,
			        "fvl-quant: the LLM tokenizer's pre-tokenizer is not Llama 3's: "
			        "written as llama.cpp's \"default\"\n");
		if ((st = fvl_gguf_get_arr(g, FVL_TOK_LLM "." FVL_TOK_MERGES, FVL_GGUF_TYPE_STRING,
		                           &kv)) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_str(w, "tokenizer.ggml.pre",
		                                  llama3 ? "llama-bpe" : "default")) !=
		            FVL_STATUS_OK)
			goto done;
		if ((st = copy_strings(w, "tokenizer.ggml.merges", kv)) != FVL_STATUS_OK)
			goto done;
	} else {
		bool prefix = false;
		if (spm)
			fvl_gguf_get_bool(g, FVL_TOK_LLM "." FVL_TOK_SPM_DUMMY_PREFIX, &prefix);
		else {
			struct fvl_str norm = {"", 0};
			fvl_gguf_get_str(g, FVL_TOK_LLM "." FVL_TOK_NORMALIZER, &norm);
			prefix = str_is(norm, "prepend_replace");
		}
		if ((st = fvl_gguf_writer_set_str(w, "tokenizer.ggml.pre", "default")) !=
		            FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", FVL_GGUF_TYPE_FLOAT32,
		                                  score, n)) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", prefix)) !=
		            FVL_STATUS_OK)
			goto done;
	}
	/* special tokens */
	int64_t bos = get_int_or(g, FVL_KEY_LLM_BOS_ID, -1);
	int64_t unk = get_int_or(g, FVL_TOK_LLM "." FVL_TOK_UNK_ID, -1);
	int64_t add_bos = get_int_or(g, FVL_TOK_LLM "." FVL_TOK_POST_BOS, -1);
	int64_t add_eos = get_int_or(g, FVL_TOK_LLM "." FVL_TOK_POST_EOS, -1);
	int64_t eos = -1;
	if (fvl_gguf_get_arr(g, FVL_KEY_LLM_EOS_IDS, -1, &kv) == FVL_STATUS_OK && kv->n > 0 &&
	    numeric(kv))
		eos = fvl_gguf_arr_int(kv, 0);
	const struct {
		const char *key;
		int64_t id;
	} ids[] = {{"tokenizer.ggml.bos_token_id", bos},
	           {"tokenizer.ggml.eos_token_id", eos},
	           {"tokenizer.ggml.unknown_token_id", unk}};
	for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++)
		if (ids[i].id >= 0 && (uint64_t)ids[i].id < n &&
		    (st = fvl_gguf_writer_set_u32(w, ids[i].key, (uint32_t)ids[i].id)) !=
		            FVL_STATUS_OK)
			goto done;
	if ((st = fvl_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos >= 0)) !=
	            FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", add_eos >= 0)) !=
	            FVL_STATUS_OK)
		goto done;
done:
	free(tok);
	free(len);
	free(type);
	free(score);
	free(pads);
	return st;
}

/* ---- the file ----------------------------------------------------------------------------- */

/* llama.cpp's general.file_type for the type most LLM weight bytes have */
static uint32_t file_type(const struct fvl_gguf *g)
{
	static const struct {
		uint32_t type, ftype;
	} map[] = {{FVL_TYPE_F32, 0},
	           {FVL_TYPE_F16, 1},
	           {FVL_TYPE_Q4_0, 2},
	           {FVL_TYPE_Q8_0, 7},
	           {FVL_TYPE_BF16, 32}};
	uint64_t bytes[5] = {0};
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct fvl_gguf_tensor *t = &g->tensors[i];
		if (t->n_dims >= 2 && t->name.n > 4 && memcmp(t->name.p, "blk.", 4) == 0)
			for (int k = 0; k < 5; k++)
				if (t->type == map[k].type)
					bytes[k] += t->n_bytes;
	}
	int best = 0;
	for (int k = 1; k < 5; k++)
		if (bytes[k] > bytes[best])
			best = k;
	return map[best].ftype;
}

static enum fvl_status plan(struct exporter *e, uint64_t *n_tensors)
{
	const struct fvl_gguf *g = e->g;
	const struct fvl_gguf_tensor *embd = fvl_gguf_find_tensor(g, FVL_TN_TOKEN_EMBD);
	struct fvl_str arch;
	enum fvl_status st;
	if (!fvl_gguf_find_kv(g, FVL_KEY_LLM_ARCH) || !embd)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "it has no LLM (no %s or %s): export-llm takes a Florence-VL "
		                "model file, not a Florence-2 one",
		                FVL_KEY_LLM_ARCH, FVL_TN_TOKEN_EMBD);
	if ((st = fvl_gguf_get_str(g, FVL_KEY_LLM_ARCH, &arch)) != FVL_STATUS_OK)
		return st;
	if (str_is(arch, "phi3"))
		e->arch = "phi3";
	else if (str_is(arch, "llama"))
		e->arch = "llama";
	else
		return fvl_fail(FVL_STATUS_BAD_FILE, "LLM architecture '%.*s' is not phi3 or llama",
		                (int)arch.n, arch.p);
	if (embd->n_dims != 2 || embd->ne[1] < 1 || embd->ne[1] > (1u << 24))
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s is not a matrix of 1..2^24 token rows",
		                FVL_TN_TOKEN_EMBD);
	e->n_vocab = embd->ne[1];
	if ((st = fvl_gguf_writer_set_str(e->w, FVL_KEY_ARCH, e->arch)) != FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_str(e->w, "general.name", "fvl-quant export-llm")) !=
	            FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_u32(e->w, "general.file_type", file_type(g))) !=
	            FVL_STATUS_OK ||
	    (st = fvl_gguf_writer_set_u32(e->w, "general.quantization_version", 2)) !=
	            FVL_STATUS_OK ||
	    (st = copy_hparams(e)) != FVL_STATUS_OK || (st = add_rope(e)) != FVL_STATUS_OK ||
	    (st = add_vocab(e)) != FVL_STATUS_OK)
		return st;
	*n_tensors = (uint64_t)e->n_rope;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct fvl_gguf_tensor *t = &g->tensors[i];
		char name[FVL_GGUF_MAX_NAME + 1];
		if (!is_llm_tensor(t->name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)t->name.n, t->name.p);
		if ((st = fvl_gguf_writer_add_tensor(e->w, name, (enum fvl_type)t->type, t->n_dims,
		                                     t->ne, NULL)) != FVL_STATUS_OK)
			return st;
		++*n_tensors;
	}
	return FVL_STATUS_OK;
}

/* Heads whose rows a Llama tensor's export reorders: n_head for attn_q, n_head_kv for attn_k,
 * 0 for every other tensor. */
static uint32_t permuted_heads(const struct exporter *e, struct fvl_str name)
{
	if (strcmp(e->arch, "llama") != 0 || name.n < 14)
		return 0;
	struct fvl_str tail = {name.p + name.n - 14, 14};
	return fvl_str_eq(tail, ".attn_q.weight")   ? e->n_head
	       : fvl_str_eq(tail, ".attn_k.weight") ? e->n_head_kv
	                                            : 0;
}

static void drop_pages(const struct exporter *e, const uint8_t *p, uint64_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	if (!e->g->mapped || page <= 0)
		return;
	uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	uintptr_t b = (uintptr_t)(p + n) & ~((uintptr_t)page - 1);
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Copies a tensor's bytes, dropping the source pages behind it (peak memory: one chunk). With
 * heads > 0, row (h, j, s) of the export is row (h, s, j) of the source, h < heads, j < d / 2,
 * s < 2: llama.cpp's converter's permute for its interleaved rope. */
static enum fvl_status copy_tensor(struct exporter *e, FILE *f, const struct fvl_gguf_tensor *t)
{
	const uint8_t *p = t->data;
	uint32_t heads = permuted_heads(e, t->name);
	enum fvl_status st;
	if (heads) {
		uint64_t rows = t->ne[1], d = rows / heads;
		if (t->n_dims != 2 || rows == 0 || rows % heads || d % 2 || d != e->head_dim)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "'%.*s': %llu rows are not %u heads of %u", (int)t->name.n,
			                t->name.p, (unsigned long long)rows, heads, e->head_dim);
		uint64_t row = t->n_bytes / rows;
		for (uint64_t r = 0; r < rows; r++) {
			uint64_t h = r / d, j = r % d / 2, s = r % 2;
			if ((st = fvl_gguf_writer_write_data(e->w, f,
			                                     p + (h * d + s * (d / 2) + j) * row,
			                                     row)) != FVL_STATUS_OK)
				return st;
		}
		drop_pages(e, p, t->n_bytes);
		return fvl_gguf_writer_end_tensor(e->w, f);
	}
	for (uint64_t off = 0; off < t->n_bytes; off += COPY_CHUNK) {
		uint64_t n = t->n_bytes - off < COPY_CHUNK ? t->n_bytes - off : COPY_CHUNK;
		if ((st = fvl_gguf_writer_write_data(e->w, f, p + off, n)) != FVL_STATUS_OK)
			return st;
		drop_pages(e, p + off, n);
	}
	return fvl_gguf_writer_end_tensor(e->w, f);
}

static enum fvl_status write_all(struct exporter *e, FILE *f, uint64_t n_tensors)
{
	enum fvl_status st;
	uint64_t done = 0;
	bool tty = !e->quiet && isatty(2);
	if ((st = fvl_gguf_writer_write_header(e->w, f)) != FVL_STATUS_OK)
		return st;
	for (int i = 0; i < e->n_rope; i++)
		if ((st = fvl_gguf_writer_write_data(
		             e->w, f, e->rope[i], e->n_rot / 2 * sizeof(float))) != FVL_STATUS_OK ||
		    (st = fvl_gguf_writer_end_tensor(e->w, f)) != FVL_STATUS_OK)
			return st;
	done = (uint64_t)e->n_rope;
	for (uint64_t i = 0; i < e->g->n_tensors; i++) {
		const struct fvl_gguf_tensor *t = &e->g->tensors[i];
		if (!is_llm_tensor(t->name))
			continue;
		if ((st = copy_tensor(e, f, t)) != FVL_STATUS_OK) {
			char ctx[FVL_GGUF_MAX_NAME + 16];
			snprintf(ctx, sizeof(ctx), "writing '%.*s'", (int)t->name.n, t->name.p);
			fvl_error_prefix(ctx);
			return st;
		}
		if (tty)
			fprintf(stderr, "\r%llu/%llu tensors", (unsigned long long)++done,
			        (unsigned long long)n_tensors);
	}
	if (tty)
		fputc('\n', stderr);
	return fvl_gguf_writer_finish(e->w, f);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

enum fvl_status export_llm_run(const struct export_opts *o)
{
	struct fvl_gguf *g = NULL;
	struct exporter e = {.quiet = o->quiet};
	FILE *f = NULL;
	uint64_t n_tensors = 0;
	enum fvl_status st;

	if (o->out && same_file(o->in, o->out))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "-o %s is the input: the export would destroy it", o->out);
	if (o->out && (st = outfile_check(o->out)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_gguf_open(o->in, &g)) != FVL_STATUS_OK) /* a device or folder: bad input */
		return st == FVL_STATUS_INVALID_ARGUMENT ? FVL_STATUS_BAD_FILE : st;
	e.g = g;
	if ((st = fvl_gguf_writer_init(&e.w)) != FVL_STATUS_OK)
		goto done;
	if ((st = plan(&e, &n_tensors)) != FVL_STATUS_OK) {
		fvl_error_prefix(o->in);
		goto done;
	}
	uint64_t size = fvl_gguf_writer_file_size(e.w);
	if (!o->quiet)
		fprintf(stderr, "fvl-quant: %s %s: %s LLM, %llu tensors, %llu tokens, %.1f MB\n",
		        o->dry_run ? "would write" : "writing", o->out ? o->out : "the export",
		        e.arch, (unsigned long long)n_tensors, (unsigned long long)e.n_vocab,
		        (double)size / 1e6);
	if (o->dry_run)
		goto done;
	if ((st = outfile_open(o->out, &f)) != FVL_STATUS_OK ||
	    (st = write_all(&e, f, n_tensors)) != FVL_STATUS_OK ||
	    (st = outfile_commit(&f)) != FVL_STATUS_OK)
		goto done;
	if (!o->quiet)
		fprintf(stderr, "fvl-quant: wrote %s (%.1f MB)\n", o->out, (double)size / 1e6);
done:
	outfile_abort(f, st);
	for (int i = 0; i < 2; i++)
		free(e.rope[i]);
	fvl_gguf_writer_free(e.w);
	fvl_gguf_free(g);
	return st;
}
