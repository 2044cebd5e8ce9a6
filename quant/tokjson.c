/* tokjson.c — tokenizer.json (BPE models: byte-level as GPT-2/BART/Llama-3, SentencePiece-style
 * with byte fallback as Llama-2/Phi-3) into model-file metadata. Unknown components are refused
 * by name rather than guessed at. */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "common.h"
#include "names.h"
#include "tokjson.h"

#define KEY(buf, prefix, suffix) (snprintf(buf, sizeof(buf), "%s.%s", prefix, suffix), buf)

static const char *type_of(const cJSON *j)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
	return cJSON_IsString(t) ? t->valuestring : "";
}

static bool is_type(const cJSON *j, const char *type)
{
	return strcmp(type_of(j), type) == 0;
}

/* The string of {"String": s} or {"Regex": s} patterns. */
static const char *pattern_of(const cJSON *j, const char *kind)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pattern");
	const cJSON *s = p ? cJSON_GetObjectItemCaseSensitive(p, kind) : NULL;
	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static const char *str_of(const cJSON *j, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static bool bool_of(const cJSON *j, const char *key, bool def)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsBool(b) ? cJSON_IsTrue(b) : def;
}

static enum fvl_status unsupported(const char *path, const char *what, const char *type)
{
	return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: %s '%s' is not supported", path, what, type);
}

struct tok_out {
	const char *prefix;
	const char *pre_type, *pre_regex, *normalizer, *decoder, *post_type;
	bool add_prefix_space;
	int32_t bos_id, eos_id;
};

static enum fvl_status read_pre(const char *path, const cJSON *pre, struct tok_out *o)
{
	o->pre_type = "none";
	if (!pre || cJSON_IsNull(pre))
		return FVL_STATUS_OK;
	if (is_type(pre, "ByteLevel")) {
		o->pre_type = bool_of(pre, "use_regex", true) ? "byte_level" : "bytes_only";
		o->add_prefix_space = bool_of(pre, "add_prefix_space", false);
		return FVL_STATUS_OK;
	}
	if (is_type(pre, "Sequence")) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
		const cJSON *a = cJSON_GetArrayItem(list, 0), *b = cJSON_GetArrayItem(list, 1);
		if (cJSON_GetArraySize(list) == 2 && is_type(a, "Split") &&
		    is_type(b, "ByteLevel") && !bool_of(b, "use_regex", true) &&
		    pattern_of(a, "Regex") && !bool_of(a, "invert", false) &&
		    str_of(a, "behavior") && strcmp(str_of(a, "behavior"), "Isolated") == 0) {
			o->pre_type = "split_byte_level";
			o->pre_regex = pattern_of(a, "Regex");
			o->add_prefix_space = bool_of(b, "add_prefix_space", false);
			return FVL_STATUS_OK;
		}
	}
	return unsupported(path, "pre_tokenizer", type_of(pre));
}

static enum fvl_status read_normalizer(const char *path, const cJSON *n, struct tok_out *o)
{
	o->normalizer = "none";
	if (!n || cJSON_IsNull(n))
		return FVL_STATUS_OK;
	if (is_type(n, "Sequence")) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
		const cJSON *a = cJSON_GetArrayItem(list, 0), *b = cJSON_GetArrayItem(list, 1);
		const char *prep = a ? str_of(a, "prepend") : NULL,
		           *with = b ? str_of(b, "content") : NULL;
		const char *what = b ? pattern_of(b, "String") : NULL;
		if (cJSON_GetArraySize(list) == 2 && is_type(a, "Prepend") &&
		    is_type(b, "Replace") && prep && strcmp(prep, "\xe2\x96\x81") == 0 && what &&
		    strcmp(what, " ") == 0 && with && strcmp(with, "\xe2\x96\x81") == 0) {
			o->normalizer = "prepend_replace";
			return FVL_STATUS_OK;
		}
	}
	return unsupported(path, "normalizer", type_of(n));
}

static enum fvl_status read_decoder(const char *path, const cJSON *d, struct tok_out *o)
{
	if (d && is_type(d, "ByteLevel")) {
		o->decoder = "byte_level";
		return FVL_STATUS_OK;
	}
	if (d && is_type(d, "Sequence")) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders"), *e;
		const char *want[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
		int i = 0;
		bool ok = cJSON_GetArraySize(list) == 4;
		cJSON_ArrayForEach (e, list) {
			if (i < 4 && !is_type(e, want[i]))
				ok = false;
			i++;
		}
		if (ok) {
			o->decoder = "sentencepiece";
			return FVL_STATUS_OK;
		}
	}
	return unsupported(path, "decoder", d ? type_of(d) : "null");
}

static int32_t token_id(const cJSON *vocab, const cJSON *added, const char *content)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(vocab, content), *e;
	if (cJSON_IsNumber(v))
		return (int32_t)v->valuedouble;
	cJSON_ArrayForEach (e, added) {
		const char *c = str_of(e, "content");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
		if (c && strcmp(c, content) == 0 && cJSON_IsNumber(id))
			return (int32_t)id->valuedouble;
	}
	return -1;
}

static enum fvl_status read_post(const char *path, const cJSON *p, const cJSON *vocab,
                                 const cJSON *added, struct tok_out *o)
{
	o->bos_id = o->eos_id = -1;
	o->post_type = "none";
	if (!p || cJSON_IsNull(p))
		return FVL_STATUS_OK;
	if (is_type(p, "Sequence")) {
		const cJSON *e;
		cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(p, "processors")) {
			if (is_type(e, "ByteLevel"))
				continue; /* offsets only */
			enum fvl_status st = read_post(path, e, vocab, added, o);
			if (st != FVL_STATUS_OK)
				return st;
		}
		return FVL_STATUS_OK;
	}
	if (is_type(p, "RobertaProcessing")) {
		const cJSON *cls = cJSON_GetObjectItemCaseSensitive(p, "cls");
		const cJSON *sep = cJSON_GetObjectItemCaseSensitive(p, "sep");
		const cJSON *ci = cJSON_GetArrayItem(cls, 1), *si = cJSON_GetArrayItem(sep, 1);
		if (!cJSON_IsNumber(ci) || !cJSON_IsNumber(si))
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: RobertaProcessing without cls/sep ids", path);
		o->post_type = "roberta";
		o->bos_id = (int32_t)ci->valuedouble;
		o->eos_id = (int32_t)si->valuedouble;
		return FVL_STATUS_OK;
	}
	if (is_type(p, "TemplateProcessing")) {
		const cJSON *e;
		bool seen_a = false;
		o->post_type = "template";
		cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(p, "single")) {
			const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
			if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) {
				seen_a = true;
				continue;
			}
			const char *id = sp ? str_of(sp, "id") : NULL;
			int32_t tid = id ? token_id(vocab, added, id) : -1;
			if (tid < 0)
				return fvl_fail(FVL_STATUS_BAD_FILE,
				                "%s: TemplateProcessing names a token "
				                "that is not in the vocabulary",
				                path);
			if (!seen_a && o->bos_id < 0)
				o->bos_id = tid;
			else if (seen_a && o->eos_id < 0)
				o->eos_id = tid;
			else
				return unsupported(path, "post_processor template with",
				                   "several specials");
		}
		return FVL_STATUS_OK;
	}
	return unsupported(path, "post_processor", type_of(p));
}

static bool is_byte_token(const char *s)
{
	return strlen(s) == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>';
}

/* A set of the token texts a tokenizer.json already holds (vocab keys, added tokens). */
struct textset {
	const char **v;
	size_t mask;
};

static uint64_t text_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static bool textset_has(const struct textset *ts, const char *s)
{
	for (size_t i = text_hash(s) & ts->mask; ts->v[i]; i = (i + 1) & ts->mask)
		if (strcmp(ts->v[i], s) == 0)
			return true;
	return false;
}

static void textset_add(struct textset *ts, const char *s)
{
	size_t i = text_hash(s) & ts->mask;
	while (ts->v[i] && strcmp(ts->v[i], s) != 0)
		i = (i + 1) & ts->mask;
	ts->v[i] = s;
}

enum fvl_status tok_write_json(struct fvl_gguf_writer *w, const char *prefix, const char *path,
                               const char *const *extra, uint32_t n_extra, uint32_t pad_to,
                               uint32_t *n_tokens, uint32_t *n_appended)
{
	struct cfg c;
	struct tok_out o = {.prefix = prefix};
	uint32_t n = 0;
	char k[160];
	const char **tokens = NULL, **merges = NULL;
	int32_t *types = NULL, *added_ids = NULL;
	uint8_t *added_flags = NULL;
	char *merge_buf = NULL, **holes = NULL;
	struct textset have = {0};
	const char **fresh = NULL;
	uint32_t n_new = 0, n_real = 0;
	enum fvl_status st = cfg_load(&c, path);
	if (st != FVL_STATUS_OK)
		return st;

	const cJSON *model = cfg_get(c.root, "model");
	const cJSON *vocab = cfg_get(model, "vocab");
	const cJSON *jmerges = cfg_get(model, "merges");
	const cJSON *added = cfg_get(c.root, "added_tokens");
	const cJSON *e;
	/* Older files leave out model.type; a vocab with merges is BPE. */
	if (!cJSON_IsObject(model) ||
	    !(is_type(model, "BPE") || (!cfg_get(model, "type") && cfg_get(model, "merges")))) {
		st = unsupported(path, "tokenizer model", model ? type_of(model) : "(none)");
		goto done;
	}
	if (!cJSON_IsObject(vocab) || !cJSON_IsArray(jmerges)) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: model.vocab or model.merges is missing",
		              path);
		goto done;
	}
	const char *csp = str_of(model, "continuing_subword_prefix"),
	           *eow = str_of(model, "end_of_word_suffix");
	if ((csp && *csp) || (eow && *eow)) {
		st = unsupported(path, "BPE option",
		                 "continuing_subword_prefix/end_of_word_suffix");
		goto done;
	}
	if ((st = read_pre(path, cfg_get(c.root, "pre_tokenizer"), &o)) ||
	    (st = read_normalizer(path, cfg_get(c.root, "normalizer"), &o)) ||
	    (st = read_decoder(path, cfg_get(c.root, "decoder"), &o)) ||
	    (st = read_post(path, cfg_get(c.root, "post_processor"), vocab, added, &o)))
		goto done;

	/* Token table: vocab ids, added tokens, then the extra tokens after the highest id. */
	int64_t max_id = -1;
	cJSON_ArrayForEach (e, vocab) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 16777216) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: vocab entry '%s' has a bad id",
			              path, e->string);
			goto done;
		}
		if ((int64_t)e->valuedouble > max_id)
			max_id = (int64_t)e->valuedouble;
	}
	int n_added = cJSON_GetArraySize(added);
	cJSON_ArrayForEach (e, added) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
		if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 16777216 ||
		    !str_of(e, "content")) {
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "%s: an added token without id or content", path);
			goto done;
		}
		if ((int64_t)id->valuedouble > max_id)
			max_id = (int64_t)id->valuedouble;
	}
	/* The processor's tokens a processor-saved file already holds are matched by content. */
	size_t hsize = 16;
	while (hsize < 2 * ((size_t)cJSON_GetArraySize(vocab) + (size_t)n_added + 1))
		hsize *= 2;
	if (!(have.v = calloc(hsize, sizeof(*have.v)))) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	have.mask = hsize - 1;
	cJSON_ArrayForEach (e, vocab)
		textset_add(&have, e->string);
	cJSON_ArrayForEach (e, added)
		textset_add(&have, str_of(e, "content"));
	if (!(fresh = calloc(n_extra + 1, sizeof(*fresh)))) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	for (uint32_t i = 0; i < n_extra; i++)
		if (!textset_has(&have, extra[i]))
			fresh[n_new++] = extra[i];
	extra = fresh;
	n_real = (uint32_t)(max_id + 1) + n_new;
	n = n_real > pad_to ? n_real : pad_to;
	tokens = calloc(n, sizeof(*tokens));
	types = calloc(n, sizeof(*types));
	added_ids = calloc((size_t)n_added + n_new + 1, sizeof(*added_ids));
	added_flags = calloc((size_t)n_added + n_new + 1, sizeof(*added_flags));
	holes = calloc(n, sizeof(*holes));
	if (!tokens || !types || !added_ids || !added_flags || !holes) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	bool byte_fallback = bool_of(model, "byte_fallback", false);
	cJSON_ArrayForEach (e, vocab) {
		uint32_t id = (uint32_t)e->valuedouble;
		if (tokens[id]) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: id %u is used twice in the vocab",
			              path, id);
			goto done;
		}
		tokens[id] = e->string;
		types[id] = byte_fallback && is_byte_token(e->string) ? FVL_TOK_TYPE_BYTE
		                                                      : FVL_TOK_TYPE_NORMAL;
	}
	uint32_t na = 0;
	cJSON_ArrayForEach (e, added) {
		uint32_t id = (uint32_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
		bool special = bool_of(e, "special", false);
		tokens[id] = str_of(e, "content");
		types[id] = special ? FVL_TOK_TYPE_CONTROL : FVL_TOK_TYPE_USER_DEFINED;
		added_ids[na] = (int32_t)id;
		added_flags[na++] =
		        (uint8_t)((special ? FVL_TOK_ADDED_SPECIAL : 0) |
		                  (bool_of(e, "lstrip", false) ? FVL_TOK_ADDED_LSTRIP : 0) |
		                  (bool_of(e, "rstrip", false) ? FVL_TOK_ADDED_RSTRIP : 0) |
		                  (bool_of(e, "normalized", false) ? FVL_TOK_ADDED_NORMALIZED : 0) |
		                  (bool_of(e, "single_word", false) ? FVL_TOK_ADDED_SINGLE_WORD
		                                                    : 0));
	}
	for (uint32_t i = 0; i < n_new; i++) {
		uint32_t id = (uint32_t)(max_id + 1) + i;
		tokens[id] = extra[i];
		types[id] = FVL_TOK_TYPE_CONTROL;
		added_ids[na] = (int32_t)id;
		added_flags[na++] = FVL_TOK_ADDED_SPECIAL;
	}

	if ((st = tok_fill_holes(tokens, NULL, types, holes, n)))
		goto done;

	/* Merges: "a b" strings, or ["a", "b"] pairs in newer files. */
	int n_merges = cJSON_GetArraySize(jmerges);
	size_t buf_n = 0, at = 0;
	cJSON_ArrayForEach (e, jmerges) {
		if (cJSON_IsString(e))
			buf_n += strlen(e->valuestring) + 1;
		else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
		         cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
		         cJSON_IsString(cJSON_GetArrayItem(e, 1)))
			buf_n += strlen(cJSON_GetArrayItem(e, 0)->valuestring) +
			         strlen(cJSON_GetArrayItem(e, 1)->valuestring) + 2;
		else {
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "%s: a merge is neither \"a b\" nor [a, b]", path);
			goto done;
		}
	}
	merges = calloc((size_t)n_merges + 1, sizeof(*merges));
	merge_buf = malloc(buf_n + 1);
	if (!merges || !merge_buf) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	int m = 0;
	cJSON_ArrayForEach (e, jmerges) {
		merges[m++] = merge_buf + at;
		if (cJSON_IsString(e)) {
			if (!strchr(e->valuestring, ' ')) {
				st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: merge '%s' has no space",
				              path, e->valuestring);
				goto done;
			}
			at += (size_t)sprintf(merge_buf + at, "%s", e->valuestring) + 1;
		} else {
			const char *a = cJSON_GetArrayItem(e, 0)->valuestring;
			const char *b = cJSON_GetArrayItem(e, 1)->valuestring;
			if (strchr(a, ' ') || strchr(b, ' ')) {
				st = fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: merge part with a space",
				              path);
				goto done;
			}
			at += (size_t)sprintf(merge_buf + at, "%s %s", a, b) + 1;
		}
	}

	const char *unk = str_of(model, "unk_token");
	int32_t unk_id = unk ? token_id(vocab, added, unk) : -1;
	if ((st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_MODEL), "bpe")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_SEMANTICS), "fast")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_SOURCE), "tokenizer.json")) ||
	    (st = fvl_gguf_writer_set_arr_str(w, KEY(k, prefix, FVL_TOK_TOKENS), tokens, NULL,
	                                      n)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_TOKEN_TYPE),
	                                  FVL_GGUF_TYPE_INT32, types, n)) ||
	    (st = fvl_gguf_writer_set_arr_str(w, KEY(k, prefix, FVL_TOK_MERGES), merges, NULL,
	                                      (uint64_t)n_merges)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_ADDED_IDS), FVL_GGUF_TYPE_INT32,
	                                  added_ids, na)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_ADDED_FLAGS),
	                                  FVL_GGUF_TYPE_UINT8, added_flags, na)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_PRE_TYPE), o.pre_type)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_PRE_REGEX),
	                                  o.pre_regex ? o.pre_regex : "")) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_PRE_PREFIX_SPACE),
	                                   o.add_prefix_space)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_NORMALIZER), o.normalizer)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_DECODER), o.decoder)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_POST_TYPE), o.post_type)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_POST_BOS), o.bos_id)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_POST_EOS), o.eos_id)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_UNK_ID), unk_id)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_BYTE_FALLBACK),
	                                   byte_fallback)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_FUSE_UNK),
	                                   bool_of(model, "fuse_unk", false))) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_IGNORE_MERGES),
	                                   bool_of(model, "ignore_merges", false))))
		goto done;
	if (n_tokens)
		*n_tokens = n_real;
	if (n_appended)
		*n_appended = n_new;
done:
	free(have.v);
	free(fresh);
	if (holes)
		for (uint32_t i = 0; i < n; i++)
			free(holes[i]);
	free(holes);
	free(tokens);
	free(types);
	free(added_ids);
	free(added_flags);
	free(merges);
	free(merge_buf);
	cfg_free(&c);
	return st;
}

enum fvl_status
tok_fill_holes(const char **tokens, uint64_t *lens, int32_t *types, char **holes, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (tokens[i])
			continue;
		char buf[32];
		snprintf(buf, sizeof(buf), "[UNUSED_%u]", i);
		if (!(holes[i] = strdup(buf)))
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		tokens[i] = holes[i];
		if (lens)
			lens[i] = strlen(buf);
		types[i] = FVL_TOK_TYPE_UNUSED;
	}
	return FVL_STATUS_OK;
}

uint32_t tok_florence2_extra(const char ***out)
{
	static const char *const head[] = {"<od>", "</od>", "<ocr>", "</ocr>"};
	static const char *const tail[] = {
	        "<cap>",
	        "</cap>",
	        "<ncap>",
	        "</ncap>",
	        "<dcap>",
	        "</dcap>",
	        "<grounding>",
	        "</grounding>",
	        "<seg>",
	        "</seg>",
	        "<sep>",
	        "<region_cap>",
	        "</region_cap>",
	        "<region_to_desciption>",
	        "</region_to_desciption>",
	        "<proposal>",
	        "</proposal>",
	        "<poly>",
	        "</poly>",
	        "<and>",
	};
	const uint32_t n = 4 + 1000 + 20;
	const char **v = calloc(n, sizeof(*v));
	*out = v;
	if (!v)
		return 0;
	for (uint32_t i = 0; i < 4; i++)
		v[i] = head[i];
	for (uint32_t i = 0; i < 1000; i++) {
		char *s = malloc(16);
		if (!s)
			return 0;
		snprintf(s, 16, "<loc_%u>", i);
		v[4 + i] = s;
	}
	for (uint32_t i = 0; i < 20; i++)
		v[1004 + i] = tail[i];
	return n;
}

void tok_florence2_extra_free(const char **v)
{
	if (!v)
		return;
	for (uint32_t i = 4; i < 1004; i++)
		free((char *)v[i]);
	free(v);
}
