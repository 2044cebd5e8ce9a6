/* test-tokenizer.c — every case of tokenizer_goldens.json (ids with the post-processor, decoded
 * text with and without special tokens) for the Florence-2, the SentencePiece-style Phi-3 and the
 * Llama-3.1 tokenizers, each rebuilt from model-file metadata; and streaming detokenization. */
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "cfg.h"
#include "gguf.h"
#include "test.h"
#include "tokenizer.h"
#include "tokjson.h"

/* Writes the tokenizer.json at path as metadata of a small GGUF, opens it, loads the tokenizer. */
static struct fvl_tok *load_tok(const char *json, bool florence, struct fvl_gguf **g)
{
	const char *out = t_tmppath(florence ? "tok-florence.gguf" : "tok.gguf");
	struct fvl_gguf_writer *w;
	const char **extra = NULL;
	uint32_t n_extra = florence ? tok_florence2_extra(&extra) : 0;
	struct fvl_tok *t = NULL;
	FILE *f = NULL;
	*g = NULL;
	if (fvl_gguf_writer_init(&w) != FVL_STATUS_OK)
		return NULL;
	bool ok = tok_write_json(w, "tokenizer.x", json, extra, n_extra, 0, NULL, NULL) ==
	                  FVL_STATUS_OK &&
	          (f = fopen(out, "wb")) && fvl_gguf_writer_write_header(w, f) == FVL_STATUS_OK &&
	          fvl_gguf_writer_finish(w, f) == FVL_STATUS_OK;
	if (f)
		ok = fclose(f) == 0 && ok;
	fvl_gguf_writer_free(w);
	tok_florence2_extra_free(extra);
	if (ok && fvl_gguf_open(out, g) == FVL_STATUS_OK &&
	    fvl_tok_load(*g, "tokenizer.x", &t) == 0)
		return t;
	t_failf(__FILE__, __LINE__, "%s: %s", json, fvl_last_error());
	return NULL;
}

static void check_goldens(const char *name, const char *json, bool florence)
{
	struct fvl_gguf *g;
	char *raw;
	T_ASSERT(cfg_read_file(t_datapath("tokenizers/tokenizer_goldens.json"), &raw, NULL) == 0,
	         "goldens");
	cJSON *root = cJSON_Parse(raw);
	free(raw);
	T_ASSERT(cJSON_IsArray(root), "goldens are not a JSON array");
	struct fvl_tok *t = load_tok(json, florence, &g);
	const cJSON *set = NULL, *e;
	cJSON_ArrayForEach (e, root)
		if (strcmp(cJSON_GetObjectItem(e, "tokenizer")->valuestring, name) == 0)
			set = e;
	int n_cases = 0, ok_ids = 0, ok_text = 0;
	char why[400] = "";
	if (t && set) {
		const cJSON *k;
		cJSON_ArrayForEach (k, cJSON_GetObjectItem(set, "cases")) {
			const char *text = cJSON_GetObjectItem(k, "text")->valuestring;
			const cJSON *want = cJSON_GetObjectItem(k, "ids"), *v;
			int32_t *ids;
			size_t n;
			n_cases++;
			if (fvl_tok_encode(t, text, strlen(text), true, &ids, &n) != FVL_STATUS_OK)
				continue;
			bool same = (int)n == cJSON_GetArraySize(want);
			size_t i = 0;
			cJSON_ArrayForEach (v, want)
				if (same && ids[i++] != (int32_t)v->valuedouble)
					same = false;
			if (same)
				ok_ids++;
			else if (!why[0])
				snprintf(why, sizeof(why), "ids of %.60s differ", text);
			char *d1 = NULL, *d2 = NULL;
			if (fvl_tok_decode(t, ids, n, false, &d1, NULL) == 0 &&
			    fvl_tok_decode(t, ids, n, true, &d2, NULL) == 0 &&
			    strcmp(d1, cJSON_GetObjectItem(k, "decoded")->valuestring) == 0 &&
			    strcmp(d2,
			           cJSON_GetObjectItem(k, "decoded_skip_special")->valuestring) ==
			            0)
				ok_text++;
			else if (!why[0])
				snprintf(why, sizeof(why), "decode of %.40s: '%.60s'", text,
				         d1 ? d1 : "?");
			/* streaming gives the same text, whole characters only */
			struct fvl_tok_stream s;
			char buf[4096];
			size_t w = 0;
			fvl_tok_stream_init(&s, t, true);
			for (size_t j = 0; j < n; j++)
				w += fvl_tok_stream_push(&s, ids[j], buf + w, sizeof(buf) - w - 8);
			w += fvl_tok_stream_flush(&s, buf + w, 8);
			buf[w] = 0;
			if (d2 && strcmp(buf, d2) != 0 && !why[0])
				snprintf(why, sizeof(why), "stream of %.40s: '%.60s'", text, buf);
			free(d1);
			free(d2);
			free(ids);
		}
	}
	fvl_tok_free(t);
	fvl_gguf_free(g);
	cJSON_Delete(root);
	t_note("%s: %d/%d cases with identical ids, %d/%d identical decoded text (both modes)",
	       name, ok_ids, n_cases, ok_text, n_cases);
	T_ASSERT(set && n_cases == 28 && ok_ids == n_cases && ok_text == n_cases && !why[0], "%s",
	         why);
}

static void test_florence2_tokenizer_goldens(void)
{
	check_goldens("florence2", t_datapath("tokenizers/florence2-tokenizer.json"), true);
}

static void test_phi3_style_tokenizer_goldens(void)
{
	check_goldens("sp-bpe-32k-with-phi3-specials",
	              t_datapath("tokenizers/sp-bpe-32k-with-phi3-specials.tokenizer.json"), false);
}

/* The Llama-3.1 tokenizer.json of the fvl-tiny-llama3 fixture (the real one, with Florence-VL's
 * <pad> at 128256). */
static void test_llama3_tokenizer_goldens(void)
{
	check_goldens("llama3.1", t_datapath("fvl-tiny-llama3/checkpoint/tokenizer.json"), false);
}

/* The slow tokenizer of tokenizers/phi3-spm (the real Phi-3 SentencePiece model, Phi-3.5's
 * tokenizer_config.json) as model-file metadata. */
static struct fvl_tok *load_spm(struct fvl_gguf **g)
{
	const char *out = t_tmppath("tok-spm.gguf");
	struct fvl_gguf_writer *w;
	struct fvl_tok *t = NULL;
	FILE *f = NULL;
	*g = NULL;
	if (fvl_gguf_writer_init(&w) != FVL_STATUS_OK)
		return NULL;
	bool ok = tok_write_spm(w, "tokenizer.x", t_datapath("tokenizers/phi3-spm/tokenizer.model"),
	                        t_datapath("tokenizers/phi3-spm"), NULL) == FVL_STATUS_OK &&
	          (f = fopen(out, "wb")) && fvl_gguf_writer_write_header(w, f) == FVL_STATUS_OK &&
	          fvl_gguf_writer_finish(w, f) == FVL_STATUS_OK;
	if (f)
		ok = fclose(f) == 0 && ok;
	fvl_gguf_writer_free(w);
	if (ok && fvl_gguf_open(out, g) == FVL_STATUS_OK &&
	    fvl_tok_load(*g, "tokenizer.x", &t) == 0)
		return t;
	t_failf(__FILE__, __LINE__, "phi3-spm: %s", fvl_last_error());
	return NULL;
}

/* The probes of kind plain and special: tokenizer(text).input_ids of transformers 4.43's slow
 * LlamaTokenizer(legacy=False) (no BOS: add_bos_token is false). The whole-prompt probes are in
 * test-layouts.c, through a session. */
static void test_phi3_slow_tokenizer_probes(void)
{
	struct fvl_gguf *g;
	char *raw;
	T_ASSERT(cfg_read_file(t_datapath("tokenizers/phi3-spm/probes.json"), &raw, NULL) == 0,
	         "probes");
	cJSON *root = cJSON_Parse(raw);
	free(raw);
	struct fvl_tok *t = load_spm(&g);
	int n_cases = 0, ok = 0;
	char why[512] = "";
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItem(root, "probes")) {
		const cJSON *text = cJSON_GetObjectItem(e, "text"),
		            *want = cJSON_GetObjectItem(e, "slow_ids"), *v;
		if (!t || !cJSON_IsString(text))
			continue;
		int32_t *ids;
		size_t n;
		n_cases++;
		if (fvl_tok_encode(t, text->valuestring, strlen(text->valuestring), true, &ids,
		                   &n) != 0)
			continue;
		bool same = (int)n == cJSON_GetArraySize(want);
		size_t i = 0;
		cJSON_ArrayForEach (v, want)
			if (same && ids[i++] != (int32_t)v->valuedouble)
				same = false;
		if (same) {
			ok++;
		} else if (!why[0]) {
			int w = snprintf(why, sizeof(why), "'%.40s': got", text->valuestring);
			for (size_t j = 0; j < n && j < 12 && w < 400; j++)
				w += snprintf(why + w, sizeof(why) - (size_t)w, " %d", ids[j]);
			w += snprintf(why + w, sizeof(why) - (size_t)w, ", want");
			i = 0;
			cJSON_ArrayForEach (v, want)
				if (i++ < 12 && w < 500)
					w += snprintf(why + w, sizeof(why) - (size_t)w, " %d",
					              (int)v->valuedouble);
		}
		free(ids);
	}
	T_CHECK(t && fvl_tok_is_slow(t), "not loaded as the slow tokenizer");
	fvl_tok_free(t);
	fvl_gguf_free(g);
	cJSON_Delete(root);
	t_note("phi3-spm slow: %d/%d plain and special probes with identical ids", ok, n_cases);
	T_ASSERT(n_cases == 29 && ok == n_cases, "%s", why);
}

/* Every tokenizer takes any bytes: an ill-formed UTF-8 sequence reads as U+FFFD, each maximal
 * subpart once (Python's decode(errors="replace"), what the reference would be given). */
static void test_any_bytes_in_every_tokenizer(void)
{
	static const struct {
		const char *bad, *as;
	} cases[] = {
	        {"x\xff", "x\xef\xbf\xbd"},
	        {"\xf8\x88\x80\x80\x80",
	         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	        {"\xe4\xbb"
	         "a",
	         "\xef\xbf\xbd"
	         "a"},
	        {"<|user|>\xed\xa0\x80", "<|user|>\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	        {"\xc0\xaf end \xf4\x90\x80\x80",
	         "\xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	};
	struct fvl_gguf *g[4] = {NULL};
	struct fvl_tok *t[4] = {
	        load_tok(t_datapath("tokenizers/florence2-tokenizer.json"), true, &g[0]),
	        load_tok(t_datapath("tokenizers/sp-bpe-32k-with-phi3-specials.tokenizer.json"),
	                 false, &g[1]),
	        NULL, load_spm(&g[3])};
	t[2] = load_tok(t_datapath("fvl-tiny-llama3/checkpoint/tokenizer.json"), false, &g[2]);
	int ok = 0, n = 0;
	for (int k = 0; k < 4; k++)
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]) && t[k]; c++) {
			int32_t *a = NULL, *b = NULL;
			size_t na = 0, nb = 0;
			n++;
			if (fvl_tok_encode(t[k], cases[c].bad, strlen(cases[c].bad), true, &a,
			                   &na) == 0 &&
			    fvl_tok_encode(t[k], cases[c].as, strlen(cases[c].as), true, &b, &nb) ==
			            0 &&
			    na == nb && memcmp(a, b, na * sizeof(*a)) == 0)
				ok++;
			else
				t_note("tokenizer %d, case %zu differs", k, c);
			free(a);
			free(b);
		}
	for (int k = 0; k < 4; k++) {
		fvl_tok_free(t[k]);
		fvl_gguf_free(g[k]);
	}
	t_note("%d/%d ill-formed inputs give the ids of their U+FFFD reading (4 tokenizers)", ok,
	       n);
	T_ASSERT(n == 20 && ok == n, "%d of %d", ok, n);
}

/* Merges are O(n log n): 125 KB in one word and a 125 KB prompt encode, and byte-level BPE
 * decodes back to the input. */
static void test_long_input(void)
{
	struct fvl_gguf *g[2] = {NULL};
	struct fvl_tok *t[2] = {
	        load_tok(t_datapath("tokenizers/florence2-tokenizer.json"), true, &g[0]),
	        load_spm(&g[1])};
	const size_t n = 125000;
	char *word = malloc(n + 1), *prose = malloc(n + 1);
	T_ASSERT(t[0] && t[1] && word && prose, "load");
	static const char *const words[] = {"the ",    "image ", "shows ",     "a ",    "large ",
	                                    "orange ", "cat, ",  "sleeping. ", "Über ", "東京 "};
	size_t at = 0;
	for (size_t i = 0; at < n; i++) {
		const char *w = words[i % 10];
		size_t l = strlen(w);
		if (at + l > n)
			l = n - at;
		memcpy(prose + at, w, l);
		at += l;
	}
	prose[n] = 0;
	for (size_t i = 0; i < n; i++)
		word[i] = (char)('a' + (i * 7 + i / 3) % 26);
	word[n] = 0;
	double ms[2][2];
	bool round = true;
	for (int k = 0; k < 2; k++)
		for (int w = 0; w < 2; w++) {
			const char *text = w ? prose : word;
			struct timespec a, b;
			int32_t *ids;
			size_t ni;
			clock_gettime(CLOCK_MONOTONIC, &a);
			T_ASSERT(fvl_tok_encode(t[k], text, strlen(text), false, &ids, &ni) == 0,
			         "encode");
			clock_gettime(CLOCK_MONOTONIC, &b);
			ms[k][w] = (double)(b.tv_sec - a.tv_sec) * 1e3 +
			           (double)(b.tv_nsec - a.tv_nsec) / 1e6;
			if (k == 0) { /* byte-level: lossless */
				char *d;
				size_t dl;
				round = round &&
				        fvl_tok_decode(t[k], ids, ni, false, &d, &dl) == 0 &&
				        dl == strlen(text) && memcmp(d, text, dl) == 0;
				free(d);
			}
			free(ids);
		}
	for (int k = 0; k < 2; k++) {
		fvl_tok_free(t[k]);
		fvl_gguf_free(g[k]);
	}
	free(word);
	free(prose);
	t_note("125 KB: Florence-2 BPE one word %.0f ms, prose %.0f ms; SentencePiece one word "
	       "%.0f ms, "
	       "prose %.0f ms (wall time, not asserted)",
	       ms[0][0], ms[0][1], ms[1][0], ms[1][1]);
	T_ASSERT(round, "byte-level round trip of 125 KB");
}

static void test_stream_never_splits_a_character(void)
{
	struct fvl_gguf *g;
	struct fvl_tok *t = load_tok(
	        t_datapath("tokenizers/sp-bpe-32k-with-phi3-specials.tokenizer.json"), false, &g);
	T_ASSERT(t, "load");
	/* 🦄 is not in the vocabulary: "▁" then four byte tokens; nothing of it comes out until the
	 * fourth. */
	const char *text = "\xf0\x9f\xa6\x84";
	int32_t *ids;
	size_t n;
	T_ASSERT(fvl_tok_encode(t, text, 4, false, &ids, &n) == 0, "encode");
	struct fvl_tok_stream s;
	char out[64];
	size_t w = 0, seen[8] = {0};
	fvl_tok_stream_init(&s, t, true);
	for (size_t i = 0; i < n && i < 8; i++) {
		w += fvl_tok_stream_push(&s, ids[i], out + w, sizeof(out) - w);
		seen[i] = w;
	}
	T_ASSERT(n == 5 && seen[0] == 0 && seen[1] == 0 && seen[3] == 0 && w == 4 &&
	                 memcmp(out, text, 4) == 0,
	         "%zu tokens, bytes out after each: %zu %zu %zu %zu %zu", n, seen[0], seen[1],
	         seen[2], seen[3], seen[4]);
	/* an incomplete sequence at the end becomes U+FFFD */
	fvl_tok_stream_init(&s, t, true);
	w = fvl_tok_stream_push(&s, ids[n - 4], out, sizeof(out));
	w += fvl_tok_stream_flush(&s, out + w, sizeof(out) - w);
	T_ASSERT(w == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0, "flush");
	/* invalid sequences come out as U+FFFD, never as raw bytes: 0xC3 then 'A' (not a
	 * continuation), and a stray continuation byte 0x80 */
	fvl_tok_stream_init(&s, t, true);
	w = fvl_tok_stream_push(&s, fvl_tok_find(t, "<0xC3>", 6), out, sizeof(out));
	w += fvl_tok_stream_push(&s, fvl_tok_find(t, "<0x41>", 6), out + w, sizeof(out) - w);
	w += fvl_tok_stream_push(&s, fvl_tok_find(t, "<0x80>", 6), out + w, sizeof(out) - w);
	T_ASSERT(w == 7 && memcmp(out,
	                          "\xef\xbf\xbd"
	                          "A"
	                          "\xef\xbf\xbd",
	                          7) == 0,
	         "invalid UTF-8: %zu "
	         "bytes",
	         w);
	free(ids);
	fvl_tok_free(t);
	fvl_gguf_free(g);
}

void suite_tokenizer(void)
{
	T_RUN(test_florence2_tokenizer_goldens);
	T_RUN(test_phi3_style_tokenizer_goldens);
	T_RUN(test_llama3_tokenizer_goldens);
	T_RUN(test_phi3_slow_tokenizer_probes);
	T_RUN(test_any_bytes_in_every_tokenizer);
	T_RUN(test_long_input);
	T_RUN(test_stream_never_splits_a_character);
}
