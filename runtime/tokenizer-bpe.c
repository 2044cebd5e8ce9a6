/* tokenizer-bpe.c — Hugging Face `tokenizers` BPE: merges by rank over a word's characters
 * (a heap of adjacent pairs, lowest rank then leftmost first, as `tokenizers` merges), byte
 * fallback, the GPT-2 byte-level alphabet and regex pre-tokenization through PCRE2. */
#include <string.h>

#include "common.h"
#include "names.h"
#include "tokenizer-impl.h"

#define GPT2_REGEX                                                                                 \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static size_t merge_slot(uint64_t key, size_t mask)
{
	return (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & mask;
}

static bool merge_find(const struct fvl_tok *t, int32_t a, int32_t b, uint32_t *rank, int32_t *res)
{
	const uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
	for (size_t i = merge_slot(key, t->mmask);; i = (i + 1) & t->mmask) {
		if (!t->mkeys[i])
			return false;
		if (t->mkeys[i] == key) {
			*rank = t->mrank[i];
			*res = (int32_t)t->mres[i];
			return true;
		}
	}
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

enum fvl_status tok_bpe_load(struct fvl_tok *t, const struct fvl_gguf *g, const char *prefix)
{
	char k[128], tmp[1024];
	const struct fvl_gguf_kv *merges;
	struct fvl_str s;
	enum fvl_status st;
#define KEY(x) (snprintf(k, sizeof(k), "%s.%s", prefix, x), k)
	if ((st = fvl_gguf_get_arr(g, KEY(FVL_TOK_MERGES), FVL_GGUF_TYPE_STRING, &merges)))
		return st;
	size_t msize = 1;
	while (msize < 2 * merges->n + 2)
		msize *= 2;
	t->mkeys = calloc(msize, sizeof(*t->mkeys));
	t->mrank = malloc(msize * sizeof(*t->mrank));
	t->mres = malloc(msize * sizeof(*t->mres));
	t->mmask = msize - 1;
	if (!t->mkeys || !t->mrank || !t->mres)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for merges");
	/* merges: "a b" -> rank, result */
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
		for (size_t i = merge_slot(key, t->mmask);; i = (i + 1) & t->mmask)
			if (!t->mkeys[i]) {
				t->mkeys[i] = key;
				t->mrank[i] = (uint32_t)r;
				t->mres[i] = (uint32_t)ir;
				break;
			}
	}
	bool flag;
	t->pre = TOK_PRE_NONE;
	if (fvl_gguf_get_str(g, KEY(FVL_TOK_PRE_TYPE), &s) == FVL_STATUS_OK) {
		if (fvl_str_eq(s, "byte_level"))
			t->pre = TOK_PRE_BYTE_LEVEL;
		else if (fvl_str_eq(s, "split_byte_level"))
			t->pre = TOK_PRE_SPLIT_BYTE_LEVEL;
		else if (!fvl_str_eq(s, "none"))
			return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: pre-tokenizer '%.*s'", prefix,
			                (int)s.n, s.p);
	}
	if ((st = fvl_gguf_get_str(g, KEY(FVL_TOK_NORMALIZER), &s)))
		return st;
	t->prepend_replace = fvl_str_eq(s, "prepend_replace");
	t->add_prefix_space =
	        fvl_gguf_get_bool(g, KEY(FVL_TOK_PRE_PREFIX_SPACE), &flag) == 0 && flag;
	t->fuse_unk = fvl_gguf_get_bool(g, KEY(FVL_TOK_FUSE_UNK), &flag) == 0 && flag;
	t->ignore_merges = fvl_gguf_get_bool(g, KEY(FVL_TOK_IGNORE_MERGES), &flag) == 0 && flag;
	byte_tables(t);
	if (t->pre != TOK_PRE_NONE) {
		struct fvl_str re = {GPT2_REGEX, strlen(GPT2_REGEX)};
		if (t->pre == TOK_PRE_SPLIT_BYTE_LEVEL &&
		    (st = fvl_gguf_get_str(g, KEY(FVL_TOK_PRE_REGEX), &re)))
			return st;
		int err;
		PCRE2_SIZE at;
		/* The input is checked UTF-8 by then (fvl_tok_encode replaces anything invalid). */
		t->re = pcre2_compile((PCRE2_SPTR)re.p, re.n, PCRE2_UTF | PCRE2_UCP, &err, &at,
		                      NULL);
		if (!t->re)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: pre-tokenizer regex does not compile at "
			                "offset %zu",
			                prefix, (size_t)at);
		pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
	}
#undef KEY
	return FVL_STATUS_OK;
}

void tok_bpe_free(struct fvl_tok *t)
{
	free(t->mkeys);
	free(t->mrank);
	free(t->mres);
	if (t->re)
		pcre2_code_free(t->re);
}

/* ---- merging ---------------------------------------------------------------------------------- */

struct sym {
	uint32_t start, len;
	int32_t id, prev, next;
};

static void try_pair(const struct fvl_tok *t, const struct sym *sy, int32_t l, struct tok_heap *h)
{
	uint32_t rank;
	int32_t res;
	if (l < 0 || sy[l].next < 0)
		return;
	const struct sym *a = &sy[l], *b = &sy[a->next];
	if (a->id >= 0 && b->id >= 0 && merge_find(t, a->id, b->id, &rank, &res))
		tok_heap_push(h, (struct tok_heap_item){rank, (uint32_t)l, (uint32_t)res, 0});
}

/* BPE over one word (its symbols are its UTF-8 characters): O(n log n) in the word's length. */
static void bpe_word(const struct fvl_tok *t, const char *w, size_t n, struct tok_ids *o)
{
	if (n == 0)
		return;
	if (t->ignore_merges) {
		int32_t id = fvl_tok_find(t, w, n);
		if (id >= 0) {
			tok_push(o, id);
			return;
		}
	}
	struct sym *sy = malloc(n * sizeof(*sy));
	/* n - 1 first pairs, and each of at most n - 1 merges pushes two more: under 3n entries. */
	struct tok_heap h = {malloc((3 * n + 1) * sizeof(*h.v)), 0};
	size_t ns = 0;
	if (!sy || !h.v) {
		free(sy);
		free(h.v);
		o->oom = true;
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t l = tok_utf8_len((unsigned char)w[i]);
		if (i + l > n)
			l = n - i;
		sy[ns] = (struct sym){(uint32_t)i, (uint32_t)l, fvl_tok_find(t, w + i, l),
		                      (int32_t)ns - 1, (int32_t)ns + 1};
		ns++;
		i += l;
	}
	sy[ns - 1].next = -1;
	for (size_t i = 0; i + 1 < ns; i++)
		try_pair(t, sy, (int32_t)i, &h);
	while (h.n) {
		struct tok_heap_item p = tok_heap_pop(&h);
		struct sym *a = &sy[p.pos];
		if (a->len == 0 || a->next < 0)
			continue;
		struct sym *b = &sy[a->next];
		uint32_t rank;
		int32_t res;
		if (a->id < 0 || b->id < 0 || !merge_find(t, a->id, b->id, &rank, &res) ||
		    (uint32_t)res != p.a)
			continue; /* stale: one side changed since the pair was pushed */
		a->len += b->len;
		a->id = res;
		a->next = b->next;
		if (b->next >= 0)
			sy[b->next].prev = (int32_t)p.pos;
		b->len = 0;
		try_pair(t, sy, a->prev, &h);
		try_pair(t, sy, (int32_t)p.pos, &h);
	}
	bool last_unk = false;
	for (int32_t i = 0; i >= 0; i = sy[i].next) {
		if (sy[i].id >= 0) {
			tok_push(o, sy[i].id);
			last_unk = false;
			continue;
		}
		if (t->byte_fallback) {
			bool all = true;
			for (uint32_t b = 0; b < sy[i].len; b++)
				all = all && t->byte_id[(uint8_t)w[sy[i].start + b]] >= 0;
			if (all) {
				for (uint32_t b = 0; b < sy[i].len; b++)
					tok_push(o, t->byte_id[(uint8_t)w[sy[i].start + b]]);
				last_unk = false;
				continue;
			}
		}
		if (t->unk >= 0 && !(t->fuse_unk && last_unk))
			tok_push(o, t->unk);
		last_unk = true;
	}
	free(sy);
	free(h.v);
}

/* Byte-level: the word's bytes as their stand-in characters, then BPE. */
static void bpe_bytes(const struct fvl_tok *t, const char *w, size_t n, struct tok_ids *o)
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
static void encode_regex(const struct fvl_tok *t, pcre2_match_data *md, const char *s, size_t n,
                         struct tok_ids *o)
{
	size_t at = 0;
	while (at < n) {
		int rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
		if (rc < 0) {
			bpe_bytes(t, s + at, n - at, o);
			return;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (ov[0] > at)
			bpe_bytes(t, s + at, ov[0] - at, o);
		if (ov[1] == ov[0]) { /* empty match: step one character */
			size_t l = tok_utf8_len((unsigned char)s[ov[0]]);
			if (ov[0] + l > n)
				l = n - ov[0];
			bpe_bytes(t, s + ov[0], l, o);
			at = ov[0] + l;
			continue;
		}
		bpe_bytes(t, s + ov[0], ov[1] - ov[0], o);
		at = ov[1];
	}
}

void tok_bpe_encode(const struct fvl_tok *t, pcre2_match_data *md, const char *s, size_t n,
                    struct tok_ids *o)
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
		if (t->pre == TOK_PRE_NONE)
			bpe_word(t, m, k, o);
		else
			encode_regex(t, md, m, k, o);
		free(m);
		return;
	}
	if (t->pre == TOK_PRE_NONE) {
		bpe_word(t, s, n, o);
	} else if (t->add_prefix_space && s[0] != ' ') {
		char *m = malloc(n + 1);
		if (!m) {
			o->oom = true;
			return;
		}
		m[0] = ' ';
		memcpy(m + 1, s, n);
		encode_regex(t, md, m, n + 1, o);
		free(m);
	} else {
		encode_regex(t, md, s, n, o);
	}
}
