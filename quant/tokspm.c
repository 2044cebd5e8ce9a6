/* tokspm.c — a SentencePiece tokenizer.model (its ModelProto, read by a small protobuf reader:
 * pieces, scores, types, trainer and normalizer flags) plus tokenizer_config.json into model-file
 * metadata with the semantics of transformers' slow LlamaTokenizer, which is what Florence-VL
 * loads (use_fast=False). Anything the runtime would not reproduce is refused by name. */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "common.h"
#include "names.h"
#include "tokjson.h"

#define KEY(buf, prefix, suffix) (snprintf(buf, sizeof(buf), "%s.%s", prefix, suffix), buf)
#define MAX_PIECES               (1u << 24)

/* ---- protobuf ------------------------------------------------------------------------------- */

struct pb {
	const uint8_t *p, *end;
};

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

static bool pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return false;
		const uint8_t c = *b->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* The next field's number and wire type; false at the end or on garbage. */
static bool pb_key(struct pb *b, uint32_t *field, uint32_t *wire)
{
	uint64_t k;
	if (b->p >= b->end || !pb_varint(b, &k) || (k >> 3) == 0 || (k >> 3) > 0x1fffffff)
		return false;
	*field = (uint32_t)(k >> 3);
	*wire = (uint32_t)(k & 7);
	return true;
}

/* A length-delimited field's bytes as a sub-reader. */
static bool pb_len(struct pb *b, struct pb *sub)
{
	uint64_t n;
	if (!pb_varint(b, &n) || n > (uint64_t)(b->end - b->p))
		return false;
	sub->p = b->p;
	sub->end = b->p + n;
	b->p += n;
	return true;
}

static bool pb_skip(struct pb *b, uint32_t wire)
{
	uint64_t v;
	struct pb sub;
	switch (wire) {
	case PB_VARINT: return pb_varint(b, &v);
	case PB_I64:
		if (b->end - b->p < 8)
			return false;
		b->p += 8;
		return true;
	case PB_LEN: return pb_len(b, &sub);
	case PB_I32:
		if (b->end - b->p < 4)
			return false;
		b->p += 4;
		return true;
	default: return false; /* groups (3, 4) and unknown wire types */
	}
}

/* ---- ModelProto -------------------------------------------------------------------------------- */

struct spm_piece {
	const uint8_t *s;
	uint32_t n;
	float score;
	int32_t type;
};

struct spm_model {
	struct spm_piece *pieces;
	uint32_t n, cap;
	int64_t model_type; /* TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char */
	bool byte_fallback, ws_suffix;
	bool add_dummy_prefix, remove_extra_ws, escape_ws; /* NormalizerSpec */
	char norm_name[64];
	uint64_t charsmap_n, rule_tsv_n;
};

static enum fvl_status bad(const char *path, const char *what)
{
	return fvl_fail(FVL_STATUS_BAD_FILE, "%s: not a SentencePiece model (%s)", path, what);
}

static enum fvl_status read_piece(const char *path, struct pb *b, struct spm_piece *out)
{
	uint32_t f, w;
	uint64_t v;
	bool have = false;
	*out = (struct spm_piece){.type = FVL_TOK_TYPE_NORMAL};
	while (b->p < b->end) {
		if (!pb_key(b, &f, &w))
			return bad(path, "a piece is truncated");
		if (f == 1 && w == PB_LEN) {
			struct pb s;
			if (!pb_len(b, &s))
				return bad(path, "a piece's text is truncated");
			out->s = s.p;
			out->n = (uint32_t)(s.end - s.p);
			have = true;
		} else if (f == 2 && w == PB_I32) {
			if (b->end - b->p < 4)
				return bad(path, "a score is truncated");
			memcpy(&out->score, b->p, 4);
			b->p += 4;
		} else if (f == 3 && w == PB_VARINT) {
			if (!pb_varint(b, &v))
				return bad(path, "a type is truncated");
			if (v < 1 || v > 6)
				return fvl_fail(FVL_STATUS_BAD_FILE,
				                "%s: piece type %llu (SentencePiece "
				                "knows 1..6)",
				                path, (unsigned long long)v);
			out->type = (int32_t)v;
		} else if ((f <= 3) || !pb_skip(b, w)) {
			return bad(path, "a piece field has the wrong wire type");
		}
	}
	if (!have || out->n == 0)
		return bad(path, "a piece without text");
	return FVL_STATUS_OK;
}

static enum fvl_status read_spec(const char *path, struct pb *b, bool trainer, struct spm_model *m)
{
	uint32_t f, w;
	uint64_t v;
	while (b->p < b->end) {
		if (!pb_key(b, &f, &w))
			return bad(path, trainer ? "the trainer spec is truncated"
			                         : "the normalizer spec is truncated");
		if (w == PB_VARINT) {
			if (!pb_varint(b, &v))
				return bad(path, "a flag is truncated");
			if (trainer && f == 3)
				m->model_type = (int64_t)v;
			else if (trainer && f == 35)
				m->byte_fallback = v != 0;
			else if (trainer && f == 24)
				m->ws_suffix = v != 0;
			else if (!trainer && f == 3)
				m->add_dummy_prefix = v != 0;
			else if (!trainer && f == 4)
				m->remove_extra_ws = v != 0;
			else if (!trainer && f == 5)
				m->escape_ws = v != 0;
			continue;
		}
		if (!trainer && w == PB_LEN && (f == 1 || f == 2 || f == 6)) {
			struct pb s;
			if (!pb_len(b, &s))
				return bad(path, "the normalizer spec is truncated");
			const size_t n = (size_t)(s.end - s.p);
			if (f == 1)
				snprintf(m->norm_name, sizeof(m->norm_name), "%.*s",
				         (int)(n < 63 ? n : 63), (const char *)s.p);
			else if (f == 2)
				m->charsmap_n = n;
			else
				m->rule_tsv_n = n;
			continue;
		}
		if (!pb_skip(b, w))
			return bad(path, "a spec field has an unknown wire type");
	}
	return FVL_STATUS_OK;
}

static enum fvl_status
spm_parse(const char *path, const uint8_t *data, size_t size, struct spm_model *m)
{
	struct pb b = {data, data + size};
	uint32_t f, w;
	enum fvl_status st;
	memset(m, 0, sizeof(*m));
	/* proto2 defaults */
	m->model_type = 1;
	m->add_dummy_prefix = m->remove_extra_ws = m->escape_ws = true;
	while (b.p < b.end) {
		struct pb sub;
		if (!pb_key(&b, &f, &w))
			return bad(path, "garbage between fields");
		if (f >= 1 && f <= 3 && w != PB_LEN)
			return bad(path, "a field has the wrong wire type");
		if (f == 1) {
			if (!pb_len(&b, &sub))
				return bad(path, "a piece is truncated");
			if (m->n >= MAX_PIECES)
				return fvl_fail(FVL_STATUS_BAD_FILE, "%s: more than %u pieces",
				                path, MAX_PIECES);
			if (m->n == m->cap) {
				uint32_t cap = m->cap ? 2 * m->cap : 1024;
				struct spm_piece *p = realloc(m->pieces, cap * sizeof(*p));
				if (!p)
					return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
				m->pieces = p;
				m->cap = cap;
			}
			if ((st = read_piece(path, &sub, &m->pieces[m->n])))
				return st;
			m->n++;
		} else if (f == 2 || f == 3) {
			if (!pb_len(&b, &sub))
				return bad(path, "a spec is truncated");
			if ((st = read_spec(path, &sub, f == 2, m)))
				return st;
		} else if (!pb_skip(&b, w)) {
			return bad(path, "an unknown field with an unknown wire type");
		}
	}
	if (m->n == 0)
		return bad(path, "no pieces");
	return FVL_STATUS_OK;
}

/* What the runtime reproduces: BPE, identity normalization, one unknown piece. */
static enum fvl_status spm_check(const char *path, const struct spm_model *m, int32_t *unk_id)
{
	static const char *const kinds[] = {"?", "unigram", "BPE", "word", "char"};
	if (m->model_type != 2)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: a %s SentencePiece model (fvl runs BPE "
		                "ones, as Llama-2 and Phi-3 have)",
		                path,
		                m->model_type >= 1 && m->model_type <= 4 ? kinds[m->model_type]
		                                                         : "?");
	if (m->charsmap_n || m->rule_tsv_n)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: normalization rules '%s' (fvl implements "
		                "the identity normalizer only)",
		                path, m->norm_name);
	*unk_id = -1;
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->pieces[i].type == FVL_TOK_TYPE_UNKNOWN) {
			if (*unk_id >= 0)
				return fvl_fail(FVL_STATUS_BAD_FILE,
				                "%s: two unknown pieces (%d and %u)", path, *unk_id,
				                i);
			*unk_id = (int32_t)i;
		}
		if (m->pieces[i].type == FVL_TOK_TYPE_BYTE && !m->byte_fallback)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: byte piece %u without byte_fallback", path, i);
	}
	if (*unk_id < 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: no unknown piece", path);
	return FVL_STATUS_OK;
}

/* ---- tokenizer_config.json ------------------------------------------------------------------- */

struct added {
	char *text;
	int32_t id;
	uint8_t flags;
};

struct slow_cfg {
	bool add_bos, add_eos, legacy, add_prefix_space;
	const char *role[7];     /* bos, eos, unk, pad, sep, cls, mask */
	const cJSON *additional; /* additional_special_tokens, or NULL */
	struct added *added;
	uint32_t n_added, cap_added;
};

static const char *const role_keys[7] = {"bos_token", "eos_token", "unk_token", "pad_token",
                                         "sep_token", "cls_token", "mask_token"};

/* A token as tokenizer_config.json spells it: a string or an AddedToken object. */
static const char *token_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
	return cJSON_IsString(c) ? c->valuestring : NULL;
}

static bool flag_of(const cJSON *o, const char *key, bool def)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsBool(b) ? cJSON_IsTrue(b) : def;
}

static enum fvl_status push_added(struct slow_cfg *c, const char *text, int32_t id, uint8_t flags)
{
	for (uint32_t i = 0; i < c->n_added; i++)
		if (strcmp(c->added[i].text, text) == 0)
			return FVL_STATUS_OK; /* the first definition wins */
	uint64_t cap = c->cap_added;
	enum fvl_status st = FVL_GROW(c->added, cap, c->n_added, 32);
	if (st != FVL_STATUS_OK)
		return st;
	c->cap_added = (uint32_t)cap;
	if (!(c->added[c->n_added].text = strdup(text)))
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	c->added[c->n_added].id = id;
	c->added[c->n_added++].flags = flags;
	return FVL_STATUS_OK;
}

static enum fvl_status read_added_decoder(const struct cfg *cf, struct slow_cfg *c, uint32_t max_id)
{
	const cJSON *dec = cfg_get(cf->root, "added_tokens_decoder"), *e;
	enum fvl_status st;
	cJSON_ArrayForEach (e, dec) {
		char *end;
		const long id = strtol(e->string, &end, 10);
		const char *text = token_text(e);
		if (*end || id < 0 || (unsigned long)id >= max_id || !text || !*text)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: added_tokens_decoder['%s'] is not an id "
			                "with a token",
			                cf->path, e->string);
		const bool special = flag_of(e, "special", false);
		const uint8_t flags =
		        (uint8_t)((special ? FVL_TOK_ADDED_SPECIAL : 0) |
		                  (flag_of(e, "lstrip", false) ? FVL_TOK_ADDED_LSTRIP : 0) |
		                  (flag_of(e, "rstrip", false) ? FVL_TOK_ADDED_RSTRIP : 0) |
		                  (flag_of(e, "normalized", !special) ? FVL_TOK_ADDED_NORMALIZED
		                                                      : 0) |
		                  (flag_of(e, "single_word", false) ? FVL_TOK_ADDED_SINGLE_WORD
		                                                    : 0));
		if ((st = push_added(c, text, (int32_t)id, flags)))
			return st;
	}
	return FVL_STATUS_OK;
}

/* added_tokens.json (older saves): {"text": id}, default AddedToken flags. */
static enum fvl_status read_added_json(const char *path, struct slow_cfg *c, uint32_t max_id)
{
	struct cfg a;
	const cJSON *e;
	enum fvl_status st = cfg_load(&a, path);
	if (st == FVL_STATUS_NOT_FOUND) {
		fvl_error_clear();
		return FVL_STATUS_OK;
	}
	if (st != FVL_STATUS_OK)
		return st;
	cJSON_ArrayForEach (e, a.root) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= max_id ||
		    !*e->string) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' has no valid id", path,
			              e->string);
			break;
		}
		if ((st = push_added(c, e->string, (int32_t)e->valuedouble,
		                     FVL_TOK_ADDED_NORMALIZED)))
			break;
	}
	cfg_free(&a);
	return st;
}

static void slow_cfg_free(struct slow_cfg *c)
{
	for (uint32_t i = 0; i < c->n_added; i++)
		free(c->added[i].text);
	free(c->added);
}

/* ---- the writer -------------------------------------------------------------------------------- */

static int32_t find_id(const struct spm_model *m, const struct slow_cfg *c, const char *text)
{
	for (uint32_t i = 0; i < c->n_added; i++)
		if (strcmp(c->added[i].text, text) == 0)
			return c->added[i].id;
	const size_t n = strlen(text);
	for (uint32_t i = 0; i < m->n; i++)
		if (m->pieces[i].n == n && memcmp(m->pieces[i].s, text, n) == 0)
			return (int32_t)i;
	return -1;
}

enum fvl_status tok_write_spm(struct fvl_gguf_writer *w, const char *prefix, const char *model_path,
                              const char *dir, uint32_t *n_tokens)
{
	char path[1024], k[160];
	char *raw = NULL;
	size_t raw_n = 0;
	struct spm_model m = {0};
	struct slow_cfg sc = {0};
	struct cfg cf = {0}, sm = {0};
	bool have_cf = false, have_sm = false;
	const char **tokens = NULL;
	char **holes = NULL;
	float *scores = NULL;
	int32_t *types = NULL, *aids = NULL;
	uint8_t *aflags = NULL;
	uint64_t *lens = NULL;
	uint32_t n = 0;
	int32_t unk_id = -1;
	enum fvl_status st;

	if ((st = cfg_read_file(model_path, &raw, &raw_n)) ||
	    (st = spm_parse(model_path, (const uint8_t *)raw, raw_n, &m)) ||
	    (st = spm_check(model_path, &m, &unk_id)))
		goto done;
	/* tokenizer_config.json, special_tokens_map.json (optional) */
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
	if ((st = cfg_load(&cf, path)) == FVL_STATUS_OK)
		have_cf = true;
	else if (st != FVL_STATUS_NOT_FOUND)
		goto done;
	snprintf(path, sizeof(path), "%s/special_tokens_map.json", dir);
	if ((st = cfg_load(&sm, path)) == FVL_STATUS_OK)
		have_sm = true;
	else if (st != FVL_STATUS_NOT_FOUND)
		goto done;
	fvl_error_clear();
	st = FVL_STATUS_OK;
	const cJSON *root = have_cf ? cf.root : NULL;
	/* LlamaTokenizer's defaults (transformers 4.43): add_bos_token true, add_eos_token false,
	 * legacy unset = true, add_prefix_space true */
	sc.add_bos = flag_of(root, "add_bos_token", true);
	sc.add_eos = flag_of(root, "add_eos_token", false);
	sc.legacy = flag_of(root, "legacy", true);
	sc.add_prefix_space = flag_of(root, "add_prefix_space", true);
	static const char *const role_default[7] = {"<s>", "</s>", "<unk>", NULL, NULL, NULL, NULL};
	for (int r = 0; r < 7; r++) {
		const cJSON *v = root ? cJSON_GetObjectItemCaseSensitive(root, role_keys[r]) : NULL;
		if (!v && have_sm)
			v = cJSON_GetObjectItemCaseSensitive(sm.root, role_keys[r]);
		sc.role[r] = v ? (cJSON_IsNull(v) ? NULL : token_text(v)) : role_default[r];
		if (v && !cJSON_IsNull(v) && !sc.role[r]) {
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "%s: '%s' is neither a string nor a token",
			              have_cf ? cf.path : sm.path, role_keys[r]);
			goto done;
		}
	}
	sc.additional =
	        root ? cJSON_GetObjectItemCaseSensitive(root, "additional_special_tokens") : NULL;
	if (!sc.additional && have_sm)
		sc.additional =
		        cJSON_GetObjectItemCaseSensitive(sm.root, "additional_special_tokens");
	if (have_cf && (st = read_added_decoder(&cf, &sc, MAX_PIECES)))
		goto done;
	if (!(have_cf && cfg_get(cf.root, "added_tokens_decoder"))) {
		snprintf(path, sizeof(path), "%s/added_tokens.json", dir);
		if ((st = read_added_json(path, &sc, MAX_PIECES)))
			goto done;
	}
	/* Every special token is an added token too (transformers adds the ones the config does not
	 * list, with default flags), and marks its role. */
	const char *roles[64];
	uint32_t n_roles = 0;
	for (int r = 0; r < 7; r++)
		if (sc.role[r])
			roles[n_roles++] = sc.role[r];
	const cJSON *e;
	cJSON_ArrayForEach (e, sc.additional) {
		const char *txt = token_text(e);
		if (txt && n_roles < 64)
			roles[n_roles++] = txt;
	}
	for (uint32_t r = 0; r < n_roles; r++) {
		int32_t id = find_id(&m, &sc, roles[r]);
		if (id < 0) {
			st = fvl_fail(FVL_STATUS_UNSUPPORTED,
			              "%s: special token '%s' is neither a piece "
			              "nor an added token",
			              have_cf ? cf.path : model_path, roles[r]);
			goto done;
		}
		if ((st = push_added(&sc, roles[r], id, FVL_TOK_ADDED_SPECIAL)))
			goto done;
		for (uint32_t i = 0; i < sc.n_added; i++)
			if (strcmp(sc.added[i].text, roles[r]) == 0)
				sc.added[i].flags |= FVL_TOK_ADDED_ROLE;
	}
	/* token table: the pieces, then added tokens past them, holes marked unused */
	n = m.n;
	for (uint32_t i = 0; i < sc.n_added; i++) {
		const struct added *a = &sc.added[i];
		if ((uint32_t)a->id < m.n &&
		    (m.pieces[a->id].n != strlen(a->text) ||
		     memcmp(m.pieces[a->id].s, a->text, m.pieces[a->id].n))) {
			st = fvl_fail(FVL_STATUS_UNSUPPORTED,
			              "%s: added token '%s' has id %d, which is "
			              "piece '%.*s' of the model",
			              have_cf ? cf.path : model_path, a->text, a->id,
			              (int)m.pieces[a->id].n, (const char *)m.pieces[a->id].s);
			goto done;
		}
		if ((uint32_t)a->id + 1 > n)
			n = (uint32_t)a->id + 1;
	}
	tokens = calloc(n, sizeof(*tokens));
	holes = calloc(n, sizeof(*holes));
	scores = calloc(n, sizeof(*scores));
	types = calloc(n, sizeof(*types));
	aids = calloc(sc.n_added + 1, sizeof(*aids));
	aflags = calloc(sc.n_added + 1, sizeof(*aflags));
	lens = calloc(n, sizeof(*lens));
	if (!tokens || !holes || !scores || !types || !aids || !aflags || !lens) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	for (uint32_t i = 0; i < m.n; i++) {
		tokens[i] = (const char *)m.pieces[i].s;
		lens[i] = m.pieces[i].n;
		scores[i] = m.pieces[i].score;
		types[i] = m.pieces[i].type;
	}
	for (uint32_t i = 0; i < sc.n_added; i++) {
		const struct added *a = &sc.added[i];
		aids[i] = a->id;
		aflags[i] = a->flags;
		if ((uint32_t)a->id >= m.n) {
			tokens[a->id] = a->text;
			lens[a->id] = strlen(a->text);
			types[a->id] = (a->flags & FVL_TOK_ADDED_ROLE) ? FVL_TOK_TYPE_CONTROL
			                                               : FVL_TOK_TYPE_USER_DEFINED;
		}
	}
	if ((st = tok_fill_holes(tokens, lens, types, holes, n)))
		goto done;
	const int32_t bos = sc.role[0] ? find_id(&m, &sc, sc.role[0]) : -1;
	const int32_t eos = sc.role[1] ? find_id(&m, &sc, sc.role[1]) : -1;
	const char *unk_text = sc.role[2] ? sc.role[2] : (const char *)"<unk>";
	st = FVL_STATUS_OK;
	if ((st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_MODEL), "spm")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_SEMANTICS), "slow")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_SOURCE), "tokenizer.model")) ||
	    (st = fvl_gguf_writer_set_arr_str(w, KEY(k, prefix, FVL_TOK_TOKENS), tokens, lens,
	                                      n)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_SCORES), FVL_GGUF_TYPE_FLOAT32,
	                                  scores, n)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_TOKEN_TYPE),
	                                  FVL_GGUF_TYPE_INT32, types, n)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_ADDED_IDS), FVL_GGUF_TYPE_INT32,
	                                  aids, sc.n_added)) ||
	    (st = fvl_gguf_writer_set_arr(w, KEY(k, prefix, FVL_TOK_ADDED_FLAGS),
	                                  FVL_GGUF_TYPE_UINT8, aflags, sc.n_added)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_SPM_DUMMY_PREFIX),
	                                   m.add_dummy_prefix)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_SPM_REMOVE_WS),
	                                   m.remove_extra_ws)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_SPM_ESCAPE_WS),
	                                   m.escape_ws)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_SPM_WS_SUFFIX),
	                                   m.ws_suffix)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_BYTE_FALLBACK),
	                                   m.byte_fallback)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_UNK_ID), unk_id)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_HF_LEGACY), sc.legacy)) ||
	    (st = fvl_gguf_writer_set_bool(w, KEY(k, prefix, FVL_TOK_HF_PREFIX_SPACE),
	                                   sc.add_prefix_space)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_HF_UNK_TOKEN), unk_text)) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_PRE_TYPE), "none")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_NORMALIZER), "none")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_DECODER), "sentencepiece")) ||
	    (st = fvl_gguf_writer_set_str(w, KEY(k, prefix, FVL_TOK_POST_TYPE), "template")) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_POST_BOS),
	                                  sc.add_bos ? bos : -1)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_POST_EOS),
	                                  sc.add_eos ? eos : -1)) ||
	    (st = fvl_gguf_writer_set_i32(w, KEY(k, prefix, FVL_TOK_BOS_ID), bos)))
		goto done;
	if (n_tokens)
		*n_tokens = n;
done:
	free(lens);
	if (holes)
		for (uint32_t i = 0; i < n; i++)
			free(holes[i]);
	free(holes);
	free(tokens);
	free(scores);
	free(types);
	free(aids);
	free(aflags);
	free(m.pieces);
	free(raw);
	slow_cfg_free(&sc);
	if (have_cf)
		cfg_free(&cf);
	if (have_sm)
		cfg_free(&sm);
	return st;
}
