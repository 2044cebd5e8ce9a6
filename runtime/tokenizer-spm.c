/* tokenizer-spm.c — SentencePiece's BPE model, as sentencepiece's bpe_model.cc encodes: the
 * normalizer (identity rules: dummy prefix, extra-whitespace removal, spaces as "▁"), the text
 * split into characters and user-defined symbols, adjacent pairs merged by the highest score of
 * the merged piece (leftmost first on ties), unused pieces resegmented into the pair that made
 * them, and byte fallback for what is left unknown. Input is valid UTF-8 (the encode driver
 * replaces anything else). */
#include <string.h>

#include "common.h"
#include "names.h"
#include "tokenizer-impl.h"

#define SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's whitespace symbol */

enum fvl_status tok_spm_load(struct fvl_tok *t, const struct fvl_gguf *g, const char *prefix)
{
	char k[128];
	const struct fvl_gguf_kv *scores;
	enum fvl_status st;
	bool b;
#define KEY(x) (snprintf(k, sizeof(k), "%s.%s", prefix, x), k)
	if ((st = fvl_gguf_get_arr(g, KEY(FVL_TOK_SCORES), FVL_GGUF_TYPE_FLOAT32, &scores)))
		return st;
	if (scores->n != t->n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: %llu scores for %zu tokens", prefix,
		                (unsigned long long)scores->n, t->n);
	t->score = malloc(t->n * sizeof(*t->score));
	size_t tsize = 1;
	while (tsize < 2 * t->n)
		tsize *= 2;
	t->spm.normal = calloc(tsize, sizeof(uint32_t));
	t->spm.reserved = calloc(tsize, sizeof(uint32_t));
	t->spm.mask = tsize - 1;
	if (!t->score || !t->spm.normal || !t->spm.reserved)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for %zu pieces", t->n);
	for (size_t i = 0; i < t->n; i++) {
		t->score[i] = (float)fvl_gguf_arr_float(scores, i);
		const int ty = t->type[i];
		if (t->len[i] == 0)
			continue;
		/* sentencepiece keeps normal, user-defined and unused pieces apart from the reserved
		 * ones (control, unknown, byte); only the first can be merged into */
		const bool normal = ty == FVL_TOK_TYPE_NORMAL || ty == FVL_TOK_TYPE_USER_DEFINED ||
		                    ty == FVL_TOK_TYPE_UNUSED;
		uint32_t *table = normal ? t->spm.normal : t->spm.reserved;
		if (tok_table_find(t, table, t->spm.mask, t->piece[i], t->len[i]) < 0)
			tok_table_add(t, table, t->spm.mask, (uint32_t)i);
		if (ty == FVL_TOK_TYPE_USER_DEFINED &&
		    (st = tok_trie_add(&t->spm.user, t->piece[i], t->len[i], (int32_t)i)))
			return st;
	}
	t->spm.add_dummy_prefix = fvl_gguf_get_bool(g, KEY(FVL_TOK_SPM_DUMMY_PREFIX), &b) == 0 && b;
	t->spm.remove_extra_ws = fvl_gguf_get_bool(g, KEY(FVL_TOK_SPM_REMOVE_WS), &b) == 0 && b;
	t->spm.escape_ws = !(fvl_gguf_get_bool(g, KEY(FVL_TOK_SPM_ESCAPE_WS), &b) == 0 && !b);
	t->spm.ws_suffix = fvl_gguf_get_bool(g, KEY(FVL_TOK_SPM_WS_SUFFIX), &b) == 0 && b;
#undef KEY
	return FVL_STATUS_OK;
}

void tok_spm_free(struct fvl_tok *t)
{
	free(t->score);
	free(t->spm.normal);
	free(t->spm.reserved);
	tok_trie_free(&t->spm.user);
}

/* ---- normalizer ------------------------------------------------------------------------------- */

/* sentencepiece's Normalizer::Normalize with an empty (identity) character map. */
static char *normalize(const struct fvl_tok *t, const char *s, size_t n, bool dummy, size_t *out_n)
{
	const char *ws = t->spm.escape_ws ? SPACE : " ";
	const size_t wn = strlen(ws);
	char *out = malloc(3 * n + 2 * 3 + 1);
	size_t k = 0, i = 0;
	*out_n = 0;
	if (!out || n == 0)
		return out;
	if (t->spm.remove_extra_ws)
		while (i < n && s[i] == ' ')
			i++;
	if (!t->spm.ws_suffix && dummy)
		memcpy(out + k, ws, wn), k += wn;
	bool prev_space = t->spm.remove_extra_ws;
	while (i < n) {
		size_t len = 0;
		if (tok_trie_longest(&t->spm.user, s + i, n - i, &len) >= 0) {
			memcpy(out + k, s + i, len); /* user-defined symbols stay as they are */
			k += len;
			prev_space = s[i + len - 1] == ' ';
			i += len;
		} else {
			len = tok_utf8_len((unsigned char)s[i]);
			if (i + len > n)
				len = n - i;
			if (len == 1 && s[i] == ' ') {
				if (!prev_space)
					memcpy(out + k, ws, wn), k += wn;
				prev_space = true;
			} else {
				memcpy(out + k, s + i, len), k += len;
				prev_space = false;
			}
			i += len;
		}
		if (!t->spm.remove_extra_ws)
			prev_space = false;
	}
	if (t->spm.remove_extra_ws)
		while (k >= wn && memcmp(out + k - wn, ws, wn) == 0)
			k -= wn;
	if (t->spm.ws_suffix && dummy)
		memcpy(out + k, ws, wn), k += wn;
	*out_n = k;
	return out;
}

/* ---- BPE ------------------------------------------------------------------------------------ */

struct sym {
	uint32_t start, len;
	int32_t prev, next;
	bool freeze;
};

/* The pair an unused piece was last made from (sentencepiece's rev_merge), by piece id. */
struct rev {
	int32_t id;
	uint32_t left_len;
};

struct spm_work {
	const struct fvl_tok *t;
	const char *s;
	struct sym *sy;
	struct tok_heap h;
	struct rev *rev;
	size_t rev_mask;
};

static void rev_put(struct spm_work *w, int32_t id, uint32_t left_len)
{
	for (size_t i = ((uint32_t)id * 0x9e3779b1u) & w->rev_mask;; i = (i + 1) & w->rev_mask)
		if (w->rev[i].id < 0 || w->rev[i].id == id) {
			w->rev[i] = (struct rev){id, left_len};
			return;
		}
}

static const struct rev *rev_get(const struct spm_work *w, int32_t id)
{
	for (size_t i = ((uint32_t)id * 0x9e3779b1u) & w->rev_mask;; i = (i + 1) & w->rev_mask) {
		if (w->rev[i].id < 0)
			return NULL;
		if (w->rev[i].id == id)
			return &w->rev[i];
	}
}

static void maybe_add_pair(struct spm_work *w, int32_t l, int32_t r)
{
	if (l < 0 || r < 0 || w->sy[l].freeze || w->sy[r].freeze)
		return;
	const struct fvl_tok *t = w->t;
	const uint32_t size = w->sy[l].len + w->sy[r].len;
	const int32_t id =
	        tok_table_find(t, t->spm.normal, t->spm.mask, w->s + w->sy[l].start, size);
	if (id < 0)
		return;
	tok_heap_push(&w->h, (struct tok_heap_item){-(double)t->score[id], (uint32_t)l, (uint32_t)r,
	                                            size});
	if (t->type[id] == FVL_TOK_TYPE_UNUSED)
		rev_put(w, id, w->sy[l].len);
}

/* sentencepiece's PieceToId: reserved pieces first, then the others, else the unknown id. */
static int32_t piece_id(const struct fvl_tok *t, const char *p, size_t n)
{
	int32_t id = tok_table_find(t, t->spm.reserved, t->spm.mask, p, n);
	if (id < 0)
		id = tok_table_find(t, t->spm.normal, t->spm.mask, p, n);
	return id < 0 ? t->unk : id;
}

static void emit(const struct fvl_tok *t, const char *p, size_t n, struct tok_ids *o)
{
	const int32_t id = piece_id(t, p, n);
	if (id == t->unk && t->byte_fallback) { /* an unknown piece as its UTF-8 bytes */
		for (size_t i = 0; i < n; i++)
			tok_push(o, t->byte_id[(uint8_t)p[i]] >= 0 ? t->byte_id[(uint8_t)p[i]]
			                                           : t->unk);
		return;
	}
	if (id >= 0)
		tok_push(o, id);
}

/* Unused pieces back into the pair they were made from, depth first (an explicit stack: a
 * piece splits into at most its length in bytes). */
static void resegment(const struct spm_work *w, uint32_t start, uint32_t len, struct tok_ids *o)
{
	const struct fvl_tok *t = w->t;
	uint32_t stack_buf[2 * 66],
	        *stack = len <= 64 ? stack_buf : malloc(2 * (size_t)len * 4 + 8);
	size_t top = 0;
	if (!stack) {
		o->oom = true;
		return;
	}
	stack[top++] = start, stack[top++] = len;
	while (top) {
		const uint32_t l = stack[--top], s0 = stack[--top];
		const int32_t id = piece_id(t, w->s + s0, l);
		const struct rev *r =
		        id >= 0 && t->type[id] == FVL_TOK_TYPE_UNUSED ? rev_get(w, id) : NULL;
		if (!r || r->left_len == 0 || r->left_len >= l) {
			emit(t, w->s + s0, l, o);
			continue;
		}
		stack[top++] = s0 + r->left_len, stack[top++] = l - r->left_len; /* right, after */
		stack[top++] = s0, stack[top++] = r->left_len;                   /* left, first */
	}
	if (stack != stack_buf)
		free(stack);
}

void tok_spm_encode(const struct fvl_tok *t, const char *text, size_t n, bool dummy_prefix,
                    struct tok_ids *o)
{
	size_t len;
	char *s = normalize(t, text, n, dummy_prefix, &len);
	if (!s) {
		o->oom = true;
		return;
	}
	if (len == 0) {
		free(s);
		return;
	}
	struct spm_work w = {.t = t, .s = s};
	size_t rsize = 16;
	while (rsize < 2 * len)
		rsize *= 2;
	w.sy = malloc(len * sizeof(*w.sy));
	w.h.v = malloc((3 * len + 1) * sizeof(*w.h.v));
	w.rev = malloc(rsize * sizeof(*w.rev));
	w.rev_mask = rsize - 1;
	if (!w.sy || !w.h.v || !w.rev) {
		o->oom = true;
		goto done;
	}
	for (size_t i = 0; i < rsize; i++)
		w.rev[i].id = -1;
	int32_t ns = 0;
	for (size_t i = 0; i < len;) {
		size_t l = 0;
		bool freeze = tok_trie_longest(&t->spm.user, s + i, len - i, &l) >= 0;
		if (!freeze) {
			l = tok_utf8_len((unsigned char)s[i]);
			if (i + l > len)
				l = len - i;
		}
		w.sy[ns] = (struct sym){(uint32_t)i, (uint32_t)l, ns - 1, ns + 1, freeze};
		ns++;
		i += l;
	}
	w.sy[ns - 1].next = -1;
	for (int32_t i = 1; i < ns; i++)
		maybe_add_pair(&w, i - 1, i);
	while (w.h.n) {
		const struct tok_heap_item top = tok_heap_pop(&w.h);
		struct sym *a = &w.sy[top.pos], *b = &w.sy[top.a];
		if (a->len == 0 || b->len == 0 || a->len + b->len != top.b)
			continue; /* stale: one side was merged since */
		a->len += b->len;
		a->next = b->next;
		if (b->next >= 0)
			w.sy[b->next].prev = (int32_t)top.pos;
		b->len = 0;
		maybe_add_pair(&w, a->prev, (int32_t)top.pos);
		maybe_add_pair(&w, (int32_t)top.pos, a->next);
	}
	for (int32_t i = 0; i >= 0; i = w.sy[i].next)
		resegment(&w, w.sy[i].start, w.sy[i].len, o);
done:
	free(w.sy);
	free(w.h.v);
	free(w.rev);
	free(s);
}
