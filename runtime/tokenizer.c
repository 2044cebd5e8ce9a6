/* tokenizer.c — tokenizers rebuilt from model-file metadata (layout: docs/model-file.md), with the
 * semantics of the Hugging Face class the checkpoint was used with: `tokenizers` (fast: added
 * tokens split out leftmost-longest, then normalizer, pre-tokenizer, BPE, post-processor) or
 * transformers' slow LlamaTokenizer over SentencePiece (legacy=False: its prefix "▁", added-token
 * split with lstrip/rstrip, the leading "▁" dropped before special tokens, chunks that start with
 * a space encoded behind the unk token). Any input bytes are accepted: invalid UTF-8 becomes
 * U+FFFD first, as Python's decode(errors="replace") gives the reference. */
#include <string.h>

#include "common.h"
#include "names.h"
#include "tokenizer-impl.h"

#define SPACE "\xe2\x96\x81" /* U+2581 */

uint64_t tok_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

int32_t
tok_table_find(const struct fvl_tok *t, const uint32_t *table, size_t mask, const char *s, size_t n)
{
	for (size_t i = tok_hash(s, n) & mask;; i = (i + 1) & mask) {
		uint32_t v = table[i];
		if (!v)
			return -1;
		if (t->len[v - 1] == n && memcmp(t->piece[v - 1], s, n) == 0)
			return (int32_t)(v - 1);
	}
}

void tok_table_add(const struct fvl_tok *t, uint32_t *table, size_t mask, uint32_t id)
{
	for (size_t h = tok_hash(t->piece[id], t->len[id]) & mask;; h = (h + 1) & mask)
		if (!table[h]) {
			table[h] = id + 1;
			return;
		}
}

int32_t fvl_tok_find(const struct fvl_tok *t, const char *s, size_t n)
{
	return tok_table_find(t, t->table, t->table_mask, s, n);
}

/* ---- small structures ------------------------------------------------------------------------ */

enum fvl_status tok_trie_add(struct tok_trie *tr, const char *s, size_t n, int32_t value)
{
	if (n == 0)
		return FVL_STATUS_OK;
	if (!tr->node) {
		tr->cap = 64;
		tr->node = calloc(tr->cap, sizeof(*tr->node));
		if (!tr->node)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		tr->node[0].value = -1;
		tr->n = 1;
	}
	uint32_t at = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t b = (uint8_t)s[i];
		uint32_t c = at == 0 ? tr->root[b] : tr->node[at].child;
		while (c && tr->node[c].byte != b)
			c = tr->node[c].sibling;
		if (!c) {
			if (FVL_GROW(tr->node, tr->cap, tr->n, 64) != FVL_STATUS_OK)
				return FVL_STATUS_OUT_OF_MEMORY;
			c = (uint32_t)tr->n++;
			tr->node[c] = (struct tok_trie_node){0, 0, -1, b};
			if (at == 0) {
				tr->root[b] = c;
			} else {
				tr->node[c].sibling = tr->node[at].child;
				tr->node[at].child = c;
			}
		}
		at = c;
	}
	if (tr->node[at].value < 0) /* the first string added wins */
		tr->node[at].value = value;
	return FVL_STATUS_OK;
}

int32_t tok_trie_longest(const struct tok_trie *tr, const char *s, size_t n, size_t *len)
{
	int32_t best = -1;
	*len = 0;
	if (!tr->node || n == 0)
		return -1;
	uint32_t c = tr->root[(uint8_t)s[0]];
	for (size_t i = 0; c;) {
		if (tr->node[c].value >= 0)
			best = tr->node[c].value, *len = i + 1;
		if (++i == n)
			break;
		c = tr->node[c].child;
		while (c && tr->node[c].byte != (uint8_t)s[i])
			c = tr->node[c].sibling;
	}
	return best;
}

void tok_trie_free(struct tok_trie *tr)
{
	free(tr->node);
	memset(tr, 0, sizeof(*tr));
}

static bool heap_before(const struct tok_heap_item *a, const struct tok_heap_item *b)
{
	return a->key < b->key || (a->key == b->key && a->pos < b->pos);
}

void tok_heap_push(struct tok_heap *h, struct tok_heap_item x)
{
	size_t i = h->n++;
	while (i > 0 && heap_before(&x, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

struct tok_heap_item tok_heap_pop(struct tok_heap *h)
{
	struct tok_heap_item top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && heap_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!heap_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

void tok_push(struct tok_ids *o, int32_t id)
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

/* ---- loading ---------------------------------------------------------------------------------- */

enum fvl_status fvl_tok_load(const struct fvl_gguf *g, const char *prefix, struct fvl_tok **out)
{
	char k[128];
	const struct fvl_gguf_kv *tokens, *types, *aids, *aflags;
	struct fvl_str s;
	enum fvl_status st;
	struct fvl_tok *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
#define KEY(x) (snprintf(k, sizeof(k), "%s.%s", prefix, x), k)
	if ((st = fvl_gguf_get_arr(g, KEY(FVL_TOK_TOKENS), FVL_GGUF_TYPE_STRING, &tokens)) ||
	    (st = fvl_gguf_get_arr(g, KEY(FVL_TOK_TOKEN_TYPE), FVL_GGUF_TYPE_INT32, &types)) ||
	    (st = fvl_gguf_get_arr(g, KEY(FVL_TOK_ADDED_IDS), FVL_GGUF_TYPE_INT32, &aids)) ||
	    (st = fvl_gguf_get_arr(g, KEY(FVL_TOK_ADDED_FLAGS), FVL_GGUF_TYPE_UINT8, &aflags)))
		goto error;
	if (tokens->n == 0 || tokens->n > (1u << 24) || types->n != tokens->n ||
	    aids->n != aflags->n) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: inconsistent token tables", prefix);
		goto error;
	}
	bool spm = false;
	if (fvl_gguf_get_str(g, KEY(FVL_TOK_MODEL), &s) == FVL_STATUS_OK) {
		spm = fvl_str_eq(s, "spm");
		if (!spm && !fvl_str_eq(s, "bpe")) {
			st = fvl_fail(FVL_STATUS_UNSUPPORTED,
			              "%s: tokenizer model '%.*s' (fvl knows bpe "
			              "and spm)",
			              prefix, (int)s.n, s.p);
			goto error;
		}
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
	t->added = calloc(aids->n + 1, sizeof(*t->added));
	if (!t->arena || !t->piece || !t->len || !t->type || !t->table || !t->added) {
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
		if (fvl_tok_find(t, p.p, p.n) < 0) /* duplicate text: the first id wins */
			tok_table_add(t, t->table, t->table_mask, (uint32_t)i);
	}
	/* added tokens, split out of the text before anything else */
	for (size_t i = 0; i < aids->n; i++) {
		int64_t id = fvl_gguf_arr_int(aids, i);
		if (id < 0 || (size_t)id >= t->n || t->len[id] == 0)
			continue;
		t->added[t->n_added] =
		        (struct tok_added){(int32_t)id, (uint8_t)fvl_gguf_arr_int(aflags, i)};
		if ((st = tok_trie_add(&t->added_trie, t->piece[id], t->len[id],
		                       (int32_t)t->n_added)))
			goto error;
		t->n_added++;
	}
	if ((st = fvl_gguf_get_str(g, KEY(FVL_TOK_DECODER), &s)))
		goto error;
	t->dec =
	        fvl_str_eq(s, "sentencepiece") ? TOK_DECODER_SENTENCEPIECE : TOK_DECODER_BYTE_LEVEL;
	if ((st = fvl_gguf_get_str(g, KEY(FVL_TOK_POST_TYPE), &s)))
		goto error;
	t->post = fvl_str_eq(s, "roberta")    ? TOK_POST_ROBERTA
	          : fvl_str_eq(s, "template") ? TOK_POST_TEMPLATE
	                                      : TOK_POST_NONE;
	int64_t v;
	bool flag;
	t->bos = fvl_gguf_get_i64(g, KEY(FVL_TOK_POST_BOS), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->eos = fvl_gguf_get_i64(g, KEY(FVL_TOK_POST_EOS), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->unk = fvl_gguf_get_i64(g, KEY(FVL_TOK_UNK_ID), &v) == FVL_STATUS_OK ? (int32_t)v : -1;
	t->bos_token =
	        fvl_gguf_get_i64(g, KEY(FVL_TOK_BOS_ID), &v) == FVL_STATUS_OK ? (int32_t)v : t->bos;
	if (t->bos >= (int32_t)t->n || t->eos >= (int32_t)t->n || t->unk >= (int32_t)t->n ||
	    t->bos_token >= (int32_t)t->n) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "%s: a special token id is outside the %zu tokens", prefix, t->n);
		goto error;
	}
	t->byte_fallback = fvl_gguf_get_bool(g, KEY(FVL_TOK_BYTE_FALLBACK), &flag) == 0 && flag;
	for (int b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof(name), "<0x%02X>", b);
		t->byte_id[b] = fvl_tok_find(t, name, 6);
	}
	if ((st = spm ? tok_spm_load(t, g, prefix) : tok_bpe_load(t, g, prefix)))
		goto error;
	if (spm && fvl_gguf_get_str(g, KEY(FVL_TOK_SEMANTICS), &s) == FVL_STATUS_OK &&
	    fvl_str_eq(s, "slow")) {
		t->slow = true;
		t->legacy = fvl_gguf_get_bool(g, KEY(FVL_TOK_HF_LEGACY), &flag) == 0 && flag;
		t->add_prefix_space =
		        !(fvl_gguf_get_bool(g, KEY(FVL_TOK_HF_PREFIX_SPACE), &flag) == 0 && !flag);
		if ((st = fvl_gguf_get_str(g, KEY(FVL_TOK_HF_UNK_TOKEN), &s)))
			goto error;
		if (!(t->unk_text = malloc(s.n + 1))) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			goto error;
		}
		memcpy(t->unk_text, s.p, s.n);
		t->unk_text[s.n] = 0;
		struct tok_ids o = {0};
		tok_spm_encode(t, t->unk_text, s.n, t->legacy && t->spm.add_dummy_prefix, &o);
		t->unk_len = o.n;
		free(o.v);
		t->space_id = fvl_tok_find(t, SPACE, 3);
	} else if (spm) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED,
		              "%s: a SentencePiece tokenizer without the slow "
		              "semantics",
		              prefix);
		goto error;
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
	tok_bpe_free(t);
	tok_spm_free(t);
	tok_trie_free(&t->added_trie);
	free(t->piece);
	free(t->len);
	free(t->type);
	free(t->arena);
	free(t->table);
	free(t->added);
	free(t->unk_text);
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
	return t->bos_token;
}

bool fvl_tok_is_special(const struct fvl_tok *t, int32_t id)
{
	return id >= 0 && (size_t)id < t->n && t->type[id] == FVL_TOK_TYPE_CONTROL;
}

bool fvl_tok_is_slow(const struct fvl_tok *t)
{
	return t->slow;
}

/* ---- text ------------------------------------------------------------------------------------- */

char *fvl_utf8_clean(const char *s, size_t n, size_t *out_n, bool *oom)
{
	char *out = NULL;
	size_t k = 0, i = 0, copied = 0;
	*out_n = n;
	while (i < n) {
		const unsigned char c = (unsigned char)s[i];
		size_t need = 0, ok = 0;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		for (size_t j = 1; j <= need && i + j < n; j++) {
			const unsigned char d = (unsigned char)s[i + j];
			if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xbf))
				break;
			ok = j;
		}
		if (need && ok == need) {
			i += need + 1;
			continue;
		}
		if (!out && !(out = malloc(3 * n + 1))) {
			*oom = true;
			return NULL;
		}
		memcpy(out + k, s + copied, i - copied);
		k += i - copied;
		memcpy(out + k, "\xef\xbf\xbd", 3);
		k += 3;
		i += need ? ok + 1 : 1;
		copied = i;
	}
	if (!out)
		return NULL;
	memcpy(out + k, s + copied, n - copied);
	*out_n = k + n - copied;
	return out;
}

/* The code point of the valid UTF-8 character at s (l bytes). */
static uint32_t code_point(const char *s, size_t l)
{
	const unsigned char *u = (const unsigned char *)s;
	if (l == 1)
		return u[0];
	if (l == 2)
		return (u[0] & 0x1fu) << 6 | (u[1] & 0x3fu);
	if (l == 3)
		return (u[0] & 0x0fu) << 12 | (u[1] & 0x3fu) << 6 | (u[2] & 0x3fu);
	return (u[0] & 0x07u) << 18 | (u[1] & 0x3fu) << 12 | (u[2] & 0x3fu) << 6 | (u[3] & 0x3fu);
}

/* Unicode White_Space (Rust's char::is_whitespace); python adds U+001C..U+001F (str.isspace). */
static bool is_ws(uint32_t c, bool python)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000 || (python && c >= 0x1c && c <= 0x1f);
}

/* Bytes of whitespace at the start / the end of s[0..n). */
static size_t ws_head(const char *s, size_t n, bool python)
{
	size_t i = 0;
	while (i < n) {
		size_t l = tok_utf8_len((unsigned char)s[i]);
		if (i + l > n || !is_ws(code_point(s + i, l), python))
			break;
		i += l;
	}
	return i;
}

static size_t ws_tail(const char *s, size_t n, bool python)
{
	size_t e = n;
	while (e > 0) {
		size_t b = e - 1;
		while (b > 0 && ((unsigned char)s[b] & 0xc0) == 0x80 && e - b < 4)
			b--;
		if (!is_ws(code_point(s + b, e - b), python))
			break;
		e = b;
	}
	return n - e;
}

/* Where special tokens are not split out of the text (a user's question), in the text's bytes. */
struct plain {
	size_t b, e;
};

/* The added token that s[at..n) starts with, longest first (-1: none); *len its length. A special
 * token overlapping the plain range does not count. */
static int32_t added_at(const struct fvl_tok *t, const char *s, size_t at, size_t n, size_t *len,
                        const struct plain *pl)
{
	const int32_t a = tok_trie_longest(&t->added_trie, s + at, n - at, len);
	if (a >= 0 && pl && (t->added[a].flags & FVL_TOK_ADDED_SPECIAL) && at < pl->e &&
	    at + *len > pl->b)
		return -1;
	return a;
}

/* ---- fast semantics (`tokenizers`) -------------------------------------------------------------- */

static void encode_fast(const struct fvl_tok *t, const char *text, size_t len, bool add_special,
                        const struct plain *pl, struct tok_ids *o)
{
	pcre2_match_data *md = t->re ? pcre2_match_data_create_from_pattern(t->re, NULL) : NULL;
	size_t seg = 0, i = 0;
	if (t->re && !md) {
		o->oom = true;
		return;
	}
	if (add_special && t->bos >= 0 && t->post != TOK_POST_NONE)
		tok_push(o, t->bos);
	while (i < len) {
		size_t n;
		const int32_t a = added_at(t, text, i, len, &n, pl);
		if (a < 0) {
			i++;
			continue;
		}
		const struct tok_added *hit = &t->added[a];
		size_t end = i;
		if (hit->flags & FVL_TOK_ADDED_LSTRIP) /* whitespace before it goes with it */
			end -= ws_tail(text + seg, i - seg, false);
		tok_bpe_encode(t, md, text + seg, end - seg, o);
		tok_push(o, hit->id);
		i += n;
		if (hit->flags & FVL_TOK_ADDED_RSTRIP)
			i += ws_head(text + i, len - i, false);
		seg = i;
	}
	tok_bpe_encode(t, md, text + seg, len - seg, o);
	if (add_special && t->eos >= 0 &&
	    (t->post == TOK_POST_ROBERTA || t->post == TOK_POST_TEMPLATE))
		tok_push(o, t->eos);
	if (md)
		pcre2_match_data_free(md);
}

/* ---- slow semantics (transformers' LlamaTokenizer) ----------------------------------------------- */

/* A piece of the text as PreTrainedTokenizer.tokenize sees it: a slice, or an owned string after a
 * single_word join. */
struct chunk {
	const char *p;
	size_t n;
	char *own;
	bool plain; /* text that must stay text even if it spells a token */
};

static bool chunk_join(struct chunk *c, const char *p, size_t n, bool front)
{
	char *s = malloc(c->n + n + 1);
	if (!s)
		return false;
	if (front) {
		memcpy(s, p, n);
		memcpy(s + n, c->p, c->n);
	} else {
		memcpy(s, c->p, c->n);
		memcpy(s + c->n, p, n);
	}
	free(c->own);
	c->own = s;
	c->p = s;
	c->n += n;
	return true;
}

/* The added token a chunk is, exactly (-1: text). */
static int32_t chunk_added(const struct fvl_tok *t, const struct chunk *c)
{
	size_t n;
	const int32_t a = c->n && !c->plain ? added_at(t, c->p, 0, c->n, &n, NULL) : -1;
	return a >= 0 && n == c->n ? a : -1;
}

/* LlamaTokenizer._tokenize: SentencePiece without its dummy prefix; a chunk that starts with a
 * space is encoded behind the unk token's text and that many ids dropped again. */
static void slow_piece(const struct fvl_tok *t, const char *s, size_t n, struct tok_ids *o)
{
	const bool space = (n >= 3 && memcmp(s, SPACE, 3) == 0) || (n >= 1 && s[0] == ' ');
	if (t->legacy || !space) {
		tok_spm_encode(t, s, n, t->legacy && t->spm.add_dummy_prefix, o);
		return;
	}
	const size_t ul = strlen(t->unk_text);
	char *m = malloc(ul + n);
	if (!m) {
		o->oom = true;
		return;
	}
	memcpy(m, t->unk_text, ul);
	memcpy(m + ul, s, n);
	struct tok_ids x = {0};
	tok_spm_encode(t, m, ul + n, false, &x);
	free(m);
	const size_t skip = x.n >= t->unk_len ? t->unk_len : 0;
	for (size_t i = skip; i < x.n; i++)
		tok_push(o, x.v[i]);
	o->oom = o->oom || x.oom;
	free(x.v);
}

static void encode_slow(const struct fvl_tok *t, const char *text, size_t len, bool add_special,
                        const struct plain *pl, struct tok_ids *o)
{
	char *s = NULL;
	size_t n = len;
	struct chunk *ck = NULL;
	size_t nc = 0;
	if (add_special && t->bos >= 0)
		tok_push(o, t->bos);
	if (len == 0)
		goto post;
	/* text.replace("▁", " "), and "▁" in front (add_prefix_space) */
	if (!(s = malloc(len + 3 + 1))) {
		o->oom = true;
		goto done;
	}
	n = 0;
	if (!t->legacy && t->add_prefix_space)
		memcpy(s, SPACE, 3), n = 3;
	struct plain spl = {SIZE_MAX, SIZE_MAX}; /* the plain range in s */
	for (size_t i = 0; i <= len; i++) {
		if (pl && i == pl->b)
			spl.b = n;
		if (pl && i == pl->e)
			spl.e = n;
		if (i == len)
			break;
		if (!t->legacy && i + 3 <= len && memcmp(text + i, SPACE, 3) == 0) {
			s[n++] = ' ';
			i += 2;
		} else {
			s[n++] = text[i];
		}
	}
	if (pl && spl.e == SIZE_MAX)
		spl.e = n;
	/* split at added tokens (leftmost, longest), no empty pieces: at most 2n + 1 */
	if (!(ck = malloc((2 * n + 1) * sizeof(*ck)))) {
		o->oom = true;
		goto done;
	}
	for (size_t i = 0, seg = 0; i <= n;) {
		size_t m = 0;
		const int32_t a = i < n ? added_at(t, s, i, n, &m, pl ? &spl : NULL) : -1;
		if (i < n && a < 0) {
			i += tok_utf8_len((unsigned char)s[i]);
			continue;
		}
		if (i > seg)
			ck[nc++] = (struct chunk){s + seg, i - seg, NULL, true};
		if (i == n)
			break;
		ck[nc++] = (struct chunk){s + i, m, NULL, false};
		i += m;
		seg = i;
	}
	/* lstrip / rstrip / single_word, in order, as PreTrainedTokenizer.tokenize applies them */
	for (size_t i = 0; i < nc; i++) {
		const int32_t a = chunk_added(t, &ck[i]);
		if (a < 0)
			continue;
		const uint8_t f = t->added[a].flags;
		const struct chunk left = i > 0 ? ck[i - 1] : (struct chunk){0};
		const struct chunk right = i + 1 < nc ? ck[i + 1] : (struct chunk){0};
		if ((f & FVL_TOK_ADDED_RSTRIP) && right.n) {
			const size_t h = ws_head(right.p, right.n, true);
			ck[i + 1].p += h, ck[i + 1].n -= h;
		}
		if ((f & FVL_TOK_ADDED_LSTRIP) && left.n)
			ck[i - 1].n -= ws_tail(left.p, left.n, true);
		if ((f & FVL_TOK_ADDED_SINGLE_WORD) && left.n && left.p[left.n - 1] != ' ') {
			if (!chunk_join(&ck[i - 1], ck[i].p, ck[i].n, false))
				o->oom = true;
			ck[i].n = 0;
		} else if ((f & FVL_TOK_ADDED_SINGLE_WORD) && right.n && right.p[0] != ' ') {
			if (!chunk_join(&ck[i], ck[i + 1].p, ck[i + 1].n, false))
				o->oom = true;
			ck[i + 1].n = 0;
		}
	}
	const size_t first = o->n;
	bool first_is_text = false, second_is_role = false;
	for (size_t i = 0; i < nc; i++) {
		if (ck[i].n == 0)
			continue;
		const int32_t a = chunk_added(t, &ck[i]);
		const size_t at = o->n;
		if (a >= 0) {
			tok_push(o, t->added[a].id);
			second_is_role =
			        second_is_role ||
			        (at == first + 1 && (t->added[a].flags & FVL_TOK_ADDED_ROLE));
		} else {
			slow_piece(t, ck[i].p, ck[i].n, o);
			first_is_text = first_is_text || (at == first && o->n > at);
		}
	}
	/* tokens = tokens[1:] when they start with "▁" followed by a special token */
	if (!t->legacy && o->n - first > 1 && first_is_text && second_is_role &&
	    o->v[first] == t->space_id && t->space_id >= 0) {
		memmove(o->v + first, o->v + first + 1, (o->n - first - 1) * sizeof(*o->v));
		o->n--;
	}
post:
	if (add_special && t->eos >= 0)
		tok_push(o, t->eos);
done:
	for (size_t i = 0; i < nc; i++)
		free(ck[i].own);
	free(ck);
	free(s);
}

enum fvl_status fvl_tok_encode(const struct fvl_tok *t, const char *text, size_t len,
                               bool add_special, int32_t **ids, size_t *n_ids)
{
	return fvl_tok_encode_ex(t, text, len, add_special, 0, 0, ids, n_ids);
}

enum fvl_status fvl_tok_encode_ex(const struct fvl_tok *t, const char *text, size_t len,
                                  bool add_special, size_t plain_begin, size_t plain_end,
                                  int32_t **ids, size_t *n_ids)
{
	struct tok_ids o = {0};
	size_t n;
	bool oom = false;
	*ids = NULL;
	*n_ids = 0;
	if (!text && len)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_tok_encode: NULL text");
	char *clean = len ? fvl_utf8_clean(text, len, &n, &oom) : NULL;
	if (oom)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory tokenizing");
	if (clean)
		text = clean;
	else
		n = len;
	/* a plain range is given over valid UTF-8 (the session cleans the question first) */
	const struct plain pl = {plain_begin, plain_end < n ? plain_end : n};
	const struct plain *plp = plain_begin < plain_end && !clean ? &pl : NULL;
	if (t->slow)
		encode_slow(t, text, n, add_special, plp, &o);
	else
		encode_fast(t, text ? text : "", n, add_special, plp, &o);
	free(clean);
	if (o.oom) {
		free(o.v);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory tokenizing");
	}
	*ids = o.v;
	*n_ids = o.n;
	return FVL_STATUS_OK;
}

/* ---- decoding ------------------------------------------------------------------------------- */

/* Tokens that produce no text: unused ids (holes in the table, padded vocabulary rows). */
static bool silent(const struct fvl_tok *t, int32_t id)
{
	return t->type[id] == FVL_TOK_TYPE_UNUSED;
}

/* The bytes one token contributes (before the leading-space strip). */
static void token_bytes(const struct fvl_tok *t, int32_t id, struct fvl_buf *o)
{
	const char *p = t->piece[id];
	const size_t n = t->len[id];
	if (t->dec == TOK_DECODER_SENTENCEPIECE) {
		if (t->type[id] == FVL_TOK_TYPE_BYTE && n == 6) {
			char b = (char)strtol(p + 3, NULL, 16);
			fvl_buf_put(o, &b, 1);
			return;
		}
		for (size_t i = 0; i < n;) {
			if (i + 3 <= n && memcmp(p + i, SPACE, 3) == 0) {
				fvl_buf_put(o, " ", 1);
				i += 3;
			} else {
				fvl_buf_put(o, p + i, 1);
				i++;
			}
		}
		return;
	}
	for (size_t i = 0; i < n;) { /* byte-level: stand-in characters back to bytes */
		size_t l = tok_utf8_len((unsigned char)p[i]);
		unsigned cp = (unsigned char)p[i];
		if (l == 2 && i + 1 < n)
			cp = ((cp & 0x1f) << 6) | ((unsigned char)p[i + 1] & 0x3f);
		if (l <= 2 && cp < 512 && t->u2b[cp] >= 0) {
			char b = (char)t->u2b[cp];
			fvl_buf_put(o, &b, 1);
		} else {
			fvl_buf_put(o, p + i, l > n - i ? n - i : l);
		}
		i += l;
	}
}

enum fvl_status fvl_tok_decode(const struct fvl_tok *t, const int32_t *ids, size_t n,
                               bool skip_special, char **text, size_t *len)
{
	struct fvl_buf o = {0};
	fvl_buf_put(&o, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (size_t)ids[i] >= t->n) {
			free(o.p);
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
			                "token id %d outside the vocabulary", ids[i]);
		}
		if ((skip_special && t->type[ids[i]] == FVL_TOK_TYPE_CONTROL) || silent(t, ids[i]))
			continue;
		token_bytes(t, ids[i], &o);
	}
	if (o.oom) {
		free(o.p);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory decoding");
	}
	if (t->dec == TOK_DECODER_SENTENCEPIECE && o.n && o.p[0] == ' ') /* Strip(start = 1) */
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
		if (s->n_pending < tok_utf8_len((unsigned char)s->pending[0]))
			continue;
		w += put_out(out, w, cap, s->pending, s->n_pending);
		s->n_pending = 0;
	}
	return w;
}

size_t fvl_tok_stream_push(struct fvl_tok_stream *s, int32_t id, char *out, size_t cap)
{
	const struct fvl_tok *t = s->t;
	if (id < 0 || (size_t)id >= t->n ||
	    (s->skip_special && t->type[id] == FVL_TOK_TYPE_CONTROL) || silent(t, id))
		return 0;
	struct fvl_buf o = {0};
	token_bytes(t, id, &o);
	const char *b = o.p ? o.p : "";
	size_t n = o.n;
	if (s->first && n) { /* the decoder strips one leading space of the whole text */
		if (t->dec == TOK_DECODER_SENTENCEPIECE && b[0] == ' ')
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

/* ---- the public tokenizer handle (fvl.h) ----------------------------------------------------- */

struct fvl_tokenizer {
	struct fvl_gguf *gguf; /* the mapping the tokenizer's strings point into */
	struct fvl_tok *tok;
};

enum fvl_status fvl_tokenizer_load(const char *model_path, enum fvl_tokenizer_kind which,
                                   struct fvl_tokenizer **out)
{
	if (!model_path || !out || (which != FVL_TOKENIZER_LLM && which != FVL_TOKENIZER_FLORENCE))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_tokenizer_load: bad argument");
	*out = NULL;
	struct fvl_tokenizer *t = calloc(1, sizeof(*t));
	if (!t)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	enum fvl_status st = fvl_gguf_open(model_path, &t->gguf);
	if (st == FVL_STATUS_OK) {
		const char *prefix = which == FVL_TOKENIZER_LLM ? FVL_TOK_LLM : FVL_TOK_FLORENCE;
		st = fvl_tok_load(t->gguf, prefix, &t->tok);
		struct fvl_str arch;
		if (st == FVL_STATUS_NOT_FOUND && which == FVL_TOKENIZER_LLM &&
		    fvl_gguf_get_str(t->gguf, FVL_KEY_ARCH, &arch) == FVL_STATUS_OK &&
		    fvl_str_eq(arch, FVL_ARCH_FLORENCE2))
			st = fvl_fail(FVL_STATUS_NOT_FOUND,
			              "%s is a Florence-2 model file: it has no LLM "
			              "tokenizer, only Florence-2's",
			              model_path);
	}
	if (st != FVL_STATUS_OK) {
		fvl_tokenizer_free(t);
		return st;
	}
	*out = t;
	return FVL_STATUS_OK;
}

void fvl_tokenizer_free(struct fvl_tokenizer *t)
{
	if (!t)
		return;
	fvl_tok_free(t->tok);
	fvl_gguf_free(t->gguf);
	free(t);
}

enum fvl_status fvl_tokenize(const struct fvl_tokenizer *t, const char *text, size_t n,
                             bool special, int32_t **ids, size_t *n_ids)
{
	if (!t || (!text && n) || !ids || !n_ids)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_tokenize: NULL argument");
	return fvl_tok_encode(t->tok, text ? text : "", n, special, ids, n_ids);
}

const char *fvl_token_piece(const struct fvl_tokenizer *t, int32_t id, size_t *len)
{
	return fvl_tok_piece(t->tok, id, len);
}
