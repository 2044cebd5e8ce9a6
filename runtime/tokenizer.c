/* tokenizer.c — BPE encode/decode from model-file metadata (layout: docs/model-file.md). Regex
 * pre-tokenization through PCRE2 (UTF + Unicode properties, JIT where available). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "common.h"
#include "tokenizer.h"

enum { PRE_NONE, PRE_BYTE_LEVEL, PRE_SPLIT_BYTE_LEVEL };
enum { DEC_BYTE_LEVEL, DEC_SENTENCEPIECE };
enum { POST_NONE, POST_TEMPLATE, POST_ROBERTA };
enum { TYPE_CONTROL = 3, TYPE_BYTE = 6 };

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

struct added {
	int32_t id;
	uint8_t flags; /* bit 1 special, 2 lstrip, 4 rstrip */
	const char *text;
	uint32_t len;
};

struct fvl_tok {
	size_t n;
	char **piece;          /* (n) NUL-terminated, in arena */
	uint32_t *len;         /* (n) */
	int32_t *type;         /* (n) */
	char *arena;
	uint32_t *table;       /* token hash: id + 1, 0 empty */
	size_t table_mask;
	uint64_t *mkeys;       /* merge hash: (a << 32 | b) + 1, 0 empty */
	uint32_t *mrank, *mres;
	size_t mmask;
	struct added *added;   /* sorted by length, longest first */
	size_t n_added;
	int pre, dec, post;
	bool add_prefix_space, byte_fallback, fuse_unk, ignore_merges, prepend_replace;
	int32_t bos, eos, unk;
	int32_t byte_id[256];  /* <0xXX> tokens (SentencePiece byte fallback) */
	char b2u[256][3];      /* byte-level: byte -> UTF-8 of its stand-in character */
	int16_t u2b[512];      /* stand-in code point -> byte, -1 none */
	pcre2_code *re;
	pcre2_match_data *md;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

int32_t fvl_tok_find(const struct fvl_tok *t, const char *s, size_t n)
{
	for (size_t i = hash_bytes(s, n) & t->table_mask;; i = (i + 1) & t->table_mask) {
		uint32_t v = t->table[i];
		if (!v)
			return -1;
		if (t->len[v - 1] == n && memcmp(t->piece[v - 1], s, n) == 0)
			return (int32_t)(v - 1);
	}
}

static bool merge_find(const struct fvl_tok *t, int32_t a, int32_t b, uint32_t *rank, int32_t *res)
{
	const uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
	for (size_t i = (key * 0x9e3779b97f4a7c15ull >> 20) & t->mmask;; i = (i + 1) & t->mmask) {
		if (!t->mkeys[i])
			return false;
		if (t->mkeys[i] == key) {
			*rank = t->mrank[i];
			*res = (int32_t)t->mres[i];
			return true;
		}
	}
}

static int cmp_added(const void *a, const void *b)
{
	const struct added *x = a, *y = b;
	return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

static void byte_tables(struct fvl_tok *t)
{
	int n = 0;
	memset(t->u2b, -1, sizeof(t->u2b));
	for (int b = 0; b < 256; b++) {
		int cp = b;
		if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)))
			cp = 256 + n++;
		if (cp < 0x80) {
			t->b2u[b][0] = (char)cp, t->b2u[b][1] = 0;
		} else {
			t->b2u[b][0] = (char)(0xc0 | (cp >> 6));
			t->b2u[b][1] = (char)(0x80 | (cp & 63));
			t->b2u[b][2] = 0;
		}
		t->u2b[cp] = (int16_t)b;
	}
}


enum fvl_status fvl_tok_load(const struct fvl_gguf *g, const char *prefix, struct fvl_tok **out)
{
	char k[128];
	const struct fvl_gguf_kv *tokens, *types, *merges, *aids, *aflags;
	struct fvl_str s;
	enum fvl_status st;
	struct fvl_tok *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
#define KEY(x) (snprintf(k, sizeof(k), "%s.%s", prefix, x), k)
	if ((st = fvl_gguf_get_arr(g, KEY("tokens"), FVL_GGUF_STRING, &tokens)) ||
	    (st = fvl_gguf_get_arr(g, KEY("token_type"), FVL_GGUF_INT32, &types)) ||
	    (st = fvl_gguf_get_arr(g, KEY("merges"), FVL_GGUF_STRING, &merges)) ||
	    (st = fvl_gguf_get_arr(g, KEY("added.ids"), FVL_GGUF_INT32, &aids)) ||
	    (st = fvl_gguf_get_arr(g, KEY("added.flags"), FVL_GGUF_UINT8, &aflags)))
		goto error;
	if (tokens->n == 0 || tokens->n > (1u << 24) || types->n != tokens->n || aids->n != aflags->n) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: inconsistent token tables", prefix);
		goto error;
	}
	t->n = tokens->n;
	size_t bytes = 0;
	for (size_t i = 0; i < t->n; i++)
		bytes += fvl_gguf_arr_str(tokens, i).n + 1;
	t->arena = malloc(bytes);
	t->piece = malloc(t->n * sizeof(*t->piece));
	t->len = malloc(t->n * sizeof(*t->len));
	t->type = malloc(t->n * sizeof(*t->type));
	size_t tsize = 1;
	while (tsize < 2 * t->n)
		tsize *= 2;
	t->table = calloc(tsize, sizeof(*t->table));
	t->table_mask = tsize - 1;
	if (!t->arena || !t->piece || !t->len || !t->type || !t->table) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for %zu tokens", t->n);
		goto error;
	}
	char *a = t->arena;
	for (size_t i = 0; i < t->n; i++) {
		struct fvl_str p = fvl_gguf_arr_str(tokens, i);
		memcpy(a, p.p, p.n);
		a[p.n] = 0;
		t->piece[i] = a;
		t->len[i] = (uint32_t)p.n;
		t->type[i] = (int32_t)fvl_gguf_arr_int(types, i);
		a += p.n + 1;
		if (fvl_tok_find(t, p.p, p.n) >= 0)
			continue; /* duplicate text: the first id wins, as in a vocab map */
		for (size_t h = hash_bytes(p.p, p.n) & t->table_mask;; h = (h + 1) & t->table_mask)
			if (!t->table[h]) {
				t->table[h] = (uint32_t)i + 1;
				break;
			}
	}
	/* merges: "a b" -> rank, result */
	size_t msize = 1;
	while (msize < 2 * merges->n + 2)
		msize *= 2;
	t->mkeys = calloc(msize, sizeof(*t->mkeys));
	t->mrank = malloc(msize * sizeof(*t->mrank));
	t->mres = malloc(msize * sizeof(*t->mres));
	t->mmask = msize - 1;
	if (!t->mkeys || !t->mrank || !t->mres) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for merges");
		goto error;
	}
	char tmp[1024];
	for (size_t r = 0; r < merges->n; r++) {
		struct fvl_str m = fvl_gguf_arr_str(merges, r);
		const char *sp = memchr(m.p, ' ', m.n);
		if (!sp || m.n >= sizeof(tmp))
			continue;
		const size_t la = (size_t)(sp - m.p), lb = m.n - la - 1;
		int32_t ia = fvl_tok_find(t, m.p, la), ib = fvl_tok_find(t, sp + 1, lb);
		memcpy(tmp, m.p, la);
		memcpy(tmp + la, sp + 1, lb);
		int32_t ir = fvl_tok_find(t, tmp, la + lb);
		if (ia < 0 || ib < 0 || ir < 0)
			continue;
		uint32_t rank;
		int32_t res;
		if (merge_find(t, ia, ib, &rank, &res))
			continue; /* the first (lowest) rank of a pair counts */
		const uint64_t key = ((uint64_t)(uint32_t)ia << 32 | (uint32_t)ib) + 1;
		for (size_t i = (key * 0x9e3779b97f4a7c15ull >> 20) & t->mmask;; i = (i + 1) & t->mmask)
			if (!t->mkeys[i]) {
				t->mkeys[i] = key;
				t->mrank[i] = (uint32_t)r;
				t->mres[i] = (uint32_t)ir;
				break;
			}
	}
	/* added tokens */
	t->added = calloc(aids->n + 1, sizeof(*t->added));
	if (!t->added) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	for (size_t i = 0; i < aids->n; i++) {
		int64_t id = fvl_gguf_arr_int(aids, i);
		if (id < 0 || (size_t)id >= t->n || t->len[id] == 0)
			continue;
		t->added[t->n_added++] = (struct added){(int32_t)id, (uint8_t)fvl_gguf_arr_int(aflags, i),
		                                        t->piece[id], t->len[id]};
	}
	qsort(t->added, t->n_added, sizeof(*t->added), cmp_added);
	/* components */
	bool flag;
	t->pre = PRE_NONE;
	if (fvl_gguf_get_str(g, KEY("pre.type"), &s) == FVL_STATUS_OK) {
		if (fvl_str_eq(s, "byte_level"))
			t->pre = PRE_BYTE_LEVEL;
		else if (fvl_str_eq(s, "split_byte_level"))
			t->pre = PRE_SPLIT_BYTE_LEVEL;
		else if (!fvl_str_eq(s, "none")) {
			st = fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: pre-tokenizer '%.*s'", prefix, (int)s.n, s.p);
			goto error;
		}
	}
	if ((st = fvl_gguf_get_str(g, KEY("decoder"), &s)))
		goto error;
	t->dec = fvl_str_eq(s, "sentencepiece") ? DEC_SENTENCEPIECE : DEC_BYTE_LEVEL;
	if ((st = fvl_gguf_get_str(g, KEY("normalizer"), &s)))
		goto error;
	t->prepend_replace = fvl_str_eq(s, "prepend_replace");
	if ((st = fvl_gguf_get_str(g, KEY("post.type"), &s)))
		goto error;
	t->post = fvl_str_eq(s, "roberta") ? POST_ROBERTA : fvl_str_eq(s, "template") ? POST_TEMPLATE :
	          POST_NONE;
	int64_t v;
	t->bos = fvl_gguf_get_i64(g, KEY("post.bos_id"), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->eos = fvl_gguf_get_i64(g, KEY("post.eos_id"), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->unk = fvl_gguf_get_i64(g, KEY("unk_id"), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->add_prefix_space = fvl_gguf_get_bool(g, KEY("pre.add_prefix_space"), &flag) == 0 && flag;
	t->byte_fallback = fvl_gguf_get_bool(g, KEY("byte_fallback"), &flag) == 0 && flag;
	t->fuse_unk = fvl_gguf_get_bool(g, KEY("fuse_unk"), &flag) == 0 && flag;
	t->ignore_merges = fvl_gguf_get_bool(g, KEY("ignore_merges"), &flag) == 0 && flag;
	for (int b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof(name), "<0x%02X>", b);
		t->byte_id[b] = fvl_tok_find(t, name, 6);
	}
	byte_tables(t);
	if (t->pre != PRE_NONE) {
		struct fvl_str re = {GPT2_REGEX, strlen(GPT2_REGEX)};
		if (t->pre == PRE_SPLIT_BYTE_LEVEL && (st = fvl_gguf_get_str(g, KEY("pre.regex"), &re)))
			goto error;
		int err;
		PCRE2_SIZE at;
		t->re = pcre2_compile((PCRE2_SPTR)re.p, re.n, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK,
		                      &err, &at, NULL);
		if (!t->re) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: pre-tokenizer regex does not compile at "
			              "offset %zu", prefix, (size_t)at);
			goto error;
		}
		pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
		t->md = pcre2_match_data_create_from_pattern(t->re, NULL);
		if (!t->md) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			goto error;
		}
	}
#undef KEY
	*out = t;
	return FVL_STATUS_OK;
error:
	fvl_tok_free(t);
	return st;
}

void fvl_tok_free(struct fvl_tok *t)
{
	if (!t)
		return;
	free(t->piece);
	free(t->len);
	free(t->type);
	free(t->arena);
	free(t->table);
	free(t->mkeys);
	free(t->mrank);
	free(t->mres);
	free(t->added);
	if (t->md)
		pcre2_match_data_free(t->md);
	if (t->re)
		pcre2_code_free(t->re);
	free(t);
}

size_t fvl_tok_n_vocab(const struct fvl_tok *t)
{
	return t->n;
}

const char *fvl_tok_piece(const struct fvl_tok *t, int32_t id, size_t *n)
{
	if (id < 0 || (size_t)id >= t->n) {
		*n = 0;
		return "";
	}
	*n = t->len[id];
	return t->piece[id];
}

int32_t fvl_tok_bos(const struct fvl_tok *t)
{
	return t->bos;
}

bool fvl_tok_is_special(const struct fvl_tok *t, int32_t id)
{
	return id >= 0 && (size_t)id < t->n && t->type[id] == TYPE_CONTROL;
}

/* ---- encoding ------------------------------------------------------------------------------- */

struct ids {
	int32_t *v;
	size_t n, cap;
	bool oom;
};

static void push(struct ids *o, int32_t id)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		int32_t *p = realloc(o->v, cap * sizeof(*p));
		if (!p) {
			o->oom = true;
			return;
		}
		o->v = p;
		o->cap = cap;
	}
	o->v[o->n++] = id;
}

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

struct sym {
	uint32_t start, len;
	int32_t id;
};

/* BPE over one word (its symbols are its UTF-8 characters). */
static void bpe_word(const struct fvl_tok *t, const char *w, size_t n, struct ids *o)
{
	if (n == 0)
		return;
	if (t->ignore_merges) {
		int32_t id = fvl_tok_find(t, w, n);
		if (id >= 0) {
			push(o, id);
			return;
		}
	}
	struct sym stack_syms[64], *sy = n <= 64 ? stack_syms : malloc(n * sizeof(*sy));
	size_t ns = 0;
	if (!sy) {
		o->oom = true;
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((unsigned char)w[i]);
		if (i + l > n)
			l = n - i;
		sy[ns].start = (uint32_t)i, sy[ns].len = (uint32_t)l;
		sy[ns].id = fvl_tok_find(t, w + i, l);
		ns++;
		i += l;
	}
	for (;;) {
		uint32_t best = UINT32_MAX, rank;
		size_t at = 0;
		int32_t res = -1, r;
		for (size_t i = 0; i + 1 < ns; i++)
			if (sy[i].id >= 0 && sy[i + 1].id >= 0 && merge_find(t, sy[i].id, sy[i + 1].id, &rank, &r) &&
			    rank < best)
				best = rank, at = i, res = r;
		if (best == UINT32_MAX)
			break;
		sy[at].len += sy[at + 1].len;
		sy[at].id = res;
		memmove(&sy[at + 1], &sy[at + 2], (ns - at - 2) * sizeof(*sy));
		ns--;
	}
	bool last_unk = false;
	for (size_t i = 0; i < ns; i++) {
		if (sy[i].id >= 0) {
			push(o, sy[i].id);
			last_unk = false;
			continue;
		}
		if (t->byte_fallback) {
			bool all = true;
			for (uint32_t b = 0; b < sy[i].len; b++)
				all = all && t->byte_id[(uint8_t)w[sy[i].start + b]] >= 0;
			if (all) {
				for (uint32_t b = 0; b < sy[i].len; b++)
					push(o, t->byte_id[(uint8_t)w[sy[i].start + b]]);
				last_unk = false;
				continue;
			}
		}
		if (t->unk >= 0 && !(t->fuse_unk && last_unk))
			push(o, t->unk);
		last_unk = true;
	}
	if (sy != stack_syms)
		free(sy);
}

/* Byte-level: the word's bytes as their stand-in characters, then BPE. */
static void bpe_bytes(const struct fvl_tok *t, const char *w, size_t n, struct ids *o)
{
	char *m = malloc(n * 2 + 1);
	size_t k = 0;
	if (!m) {
		o->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		for (const char *c = t->b2u[(uint8_t)w[i]]; *c; c++)
			m[k++] = *c;
	m[k] = 0;
	bpe_word(t, m, k, o);
	free(m);
}

/* Pre-tokenizes a segment with the regex (matches and the gaps between them are words). */
static void encode_regex(const struct fvl_tok *t, const char *s, size_t n, struct ids *o)
{
	size_t at = 0;
	while (at < n) {
		int rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, t->md, NULL);
		if (rc < 0) {
			bpe_bytes(t, s + at, n - at, o);
			return;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
		if (ov[0] > at)
			bpe_bytes(t, s + at, ov[0] - at, o);
		if (ov[1] == ov[0]) { /* empty match: step one character */
			size_t l = utf8_len((unsigned char)s[ov[0]]);
			bpe_bytes(t, s + ov[0], l, o);
			at = ov[0] + l;
			continue;
		}
		bpe_bytes(t, s + ov[0], ov[1] - ov[0], o);
		at = ov[1];
	}
}

static void encode_segment(const struct fvl_tok *t, const char *s, size_t n, struct ids *o)
{
	if (n == 0)
		return;
	if (t->prepend_replace) { /* Prepend("▁") then Replace(" ", "▁") */
		char *m = malloc(3 * n + 3);
		size_t k = 0;
		if (!m) {
			o->oom = true;
			return;
		}
		memcpy(m, "\xe2\x96\x81", 3), k = 3;
		for (size_t i = 0; i < n; i++) {
			if (s[i] == ' ')
				memcpy(m + k, "\xe2\x96\x81", 3), k += 3;
			else
				m[k++] = s[i];
		}
		if (t->pre == PRE_NONE)
			bpe_word(t, m, k, o);
		else
			encode_regex(t, m, k, o);
		free(m);
		return;
	}
	if (t->pre == PRE_NONE) {
		bpe_word(t, s, n, o);
	} else if (t->add_prefix_space && s[0] != ' ') {
		char *m = malloc(n + 1);
		if (!m) {
			o->oom = true;
			return;
		}
		m[0] = ' ';
		memcpy(m + 1, s, n);
		encode_regex(t, m, n + 1, o);
		free(m);
	} else {
		encode_regex(t, s, n, o);
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum fvl_status fvl_tok_encode(const struct fvl_tok *t, const char *text, size_t len,
                               bool add_special, int32_t **ids, size_t *n_ids)
{
	struct ids o = {0};
	size_t seg = 0, i = 0;
	*ids = NULL;
	*n_ids = 0;
	if (add_special && t->bos >= 0 && t->post != POST_NONE)
		push(&o, t->bos);
	while (i < len) {
		const struct added *hit = NULL;
		for (size_t a = 0; a < t->n_added; a++) {
			const struct added *d = &t->added[a];
			if (d->len <= len - i && d->text[0] == text[i] && memcmp(text + i, d->text, d->len) == 0) {
				hit = d; /* longest first */
				break;
			}
		}
		if (!hit) {
			i += utf8_len((unsigned char)text[i]);
			if (i > len)
				i = len;
			continue;
		}
		size_t end = i;
		if (hit->flags & 2) /* lstrip: whitespace before it goes with it */
			while (end > seg && is_space(text[end - 1]))
				end--;
		encode_segment(t, text + seg, end - seg, &o);
		push(&o, hit->id);
		i += hit->len;
		if (hit->flags & 4) /* rstrip */
			while (i < len && is_space(text[i]))
				i++;
		seg = i;
	}
	encode_segment(t, text + seg, len - seg, &o);
	if (add_special && t->eos >= 0 && (t->post == POST_ROBERTA || t->post == POST_TEMPLATE))
		push(&o, t->eos);
	if (o.oom) {
		free(o.v);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory tokenizing");
	}
	*ids = o.v;
	*n_ids = o.n;
	return FVL_STATUS_OK;
}

/* ---- decoding ------------------------------------------------------------------------------- */

struct text {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct text *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->n + n + 1)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = 0;
}

/* The bytes one token contributes (before the leading-space strip). */
static void token_bytes(const struct fvl_tok *t, int32_t id, struct text *o)
{
	const char *p = t->piece[id];
	const size_t n = t->len[id];
	if (t->dec == DEC_SENTENCEPIECE) {
		if (t->type[id] == TYPE_BYTE && n == 6) {
			char b = (char)strtol(p + 3, NULL, 16);
			put(o, &b, 1);
			return;
		}
		for (size_t i = 0; i < n;) {
			if (i + 3 <= n && memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
				put(o, " ", 1);
				i += 3;
			} else {
				put(o, p + i, 1);
				i++;
			}
		}
		return;
	}
	for (size_t i = 0; i < n;) { /* byte-level: stand-in characters back to bytes */
		size_t l = utf8_len((unsigned char)p[i]);
		unsigned cp = (unsigned char)p[i];
		if (l == 2 && i + 1 < n)
			cp = ((cp & 0x1f) << 6) | ((unsigned char)p[i + 1] & 0x3f);
		if (l <= 2 && cp < 512 && t->u2b[cp] >= 0) {
			char b = (char)t->u2b[cp];
			put(o, &b, 1);
		} else {
			put(o, p + i, l > n - i ? n - i : l);
		}
		i += l;
	}
}

enum fvl_status fvl_tok_decode(const struct fvl_tok *t, const int32_t *ids, size_t n,
                               bool skip_special, char **text, size_t *len)
{
	struct text o = {0};
	put(&o, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (size_t)ids[i] >= t->n) {
			free(o.p);
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "token id %d outside the vocabulary",
			                ids[i]);
		}
		if (skip_special && t->type[ids[i]] == TYPE_CONTROL)
			continue;
		token_bytes(t, ids[i], &o);
	}
	if (o.oom) {
		free(o.p);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory decoding");
	}
	if (t->dec == DEC_SENTENCEPIECE && o.n && o.p[0] == ' ') /* Strip(start = 1) */
		memmove(o.p, o.p + 1, o.n--);
	*text = o.p;
	if (len)
		*len = o.n;
	return FVL_STATUS_OK;
}

void fvl_tok_stream_init(struct fvl_tok_stream *s, const struct fvl_tok *t, bool skip_special)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->skip_special = skip_special;
	s->first = true;
}

/* Complete, valid UTF-8 characters of pending + bytes go out; an incomplete tail stays pending;
 * anything invalid goes out as U+FFFD, so the text is always valid UTF-8. */
static size_t put_out(char *out, size_t w, size_t cap, const char *p, size_t n)
{
	if (w + n <= cap)
		memcpy(out + w, p, n);
	return w + n <= cap ? n : 0;
}

static size_t emit(struct fvl_tok_stream *s, const char *b, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char c = (unsigned char)b[i];
		if (s->n_pending > 0 && (c & 0xc0) != 0x80) { /* the pending sequence broke off */
			w += put_out(out, w, cap, "\xef\xbf\xbd", 3);
			s->n_pending = 0;
		}
		if (s->n_pending == 0 && ((c >= 0x80 && c < 0xc2) || c >= 0xf5)) {
			w += put_out(out, w, cap, "\xef\xbf\xbd", 3); /* not a lead byte */
			continue;
		}
		s->pending[s->n_pending++] = (char)c;
		if (s->n_pending < utf8_len((unsigned char)s->pending[0]))
			continue;
		w += put_out(out, w, cap, s->pending, s->n_pending);
		s->n_pending = 0;
	}
	return w;
}

size_t fvl_tok_stream_push(struct fvl_tok_stream *s, int32_t id, char *out, size_t cap)
{
	const struct fvl_tok *t = s->t;
	if (id < 0 || (size_t)id >= t->n || (s->skip_special && t->type[id] == TYPE_CONTROL))
		return 0;
	struct text o = {0};
	token_bytes(t, id, &o);
	const char *b = o.p ? o.p : "";
	size_t n = o.n;
	if (s->first && n) { /* the decoder strips one leading space of the whole text */
		if (t->dec == DEC_SENTENCEPIECE && b[0] == ' ')
			b++, n--;
		s->first = false;
	}
	size_t w = emit(s, b, n, out, cap);
	free(o.p);
	return w;
}

size_t fvl_tok_stream_flush(struct fvl_tok_stream *s, char *out, size_t cap)
{
	if (!s->n_pending)
		return 0;
	s->n_pending = 0;
	if (cap < 3)
		return 0;
	memcpy(out, "\xef\xbf\xbd", 3);
	return 3;
}
