/* tokenizer-impl.h — the tokenizer's insides, shared by tokenizer.c (loading, added tokens, the
 * encode drivers for Hugging Face's fast and slow semantics, decoding), tokenizer-bpe.c (the
 * `tokenizers` BPE over merges, byte-level and regex pre-tokenization) and tokenizer-spm.c
 * (SentencePiece's BPE over scores, with its normalizer). Not API. */
#ifndef FVL_TOKENIZER_IMPL_H
#define FVL_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "names.h"
#include "tokenizer.h"

enum tok_pre { TOK_PRE_NONE, TOK_PRE_BYTE_LEVEL, TOK_PRE_SPLIT_BYTE_LEVEL };
enum tok_decoder { TOK_DECODER_BYTE_LEVEL, TOK_DECODER_SENTENCEPIECE };
enum tok_post { TOK_POST_NONE, TOK_POST_TEMPLATE, TOK_POST_ROBERTA };
/* A byte trie mapping strings to values (added tokens, user-defined symbols). */
struct tok_trie_node {
	uint32_t child, sibling; /* 0: none (node 0 is the root, never a child) */
	int32_t value;           /* -1: no string ends here */
	uint8_t byte;
};
struct tok_trie {
	struct tok_trie_node *node;
	size_t n, cap;
	uint32_t root[256]; /* the root's children by first byte */
};

enum fvl_status tok_trie_add(struct tok_trie *tr, const char *s, size_t n, int32_t value);
/* The value of the longest string in the trie that s[0..n) starts with (-1: none); *len gets
 * its length. */
int32_t tok_trie_longest(const struct tok_trie *tr, const char *s, size_t n, size_t *len);
void tok_trie_free(struct tok_trie *tr);

/* Growable output of ids. */
struct tok_ids {
	int32_t *v;
	size_t n, cap;
	bool oom;
};
void tok_push(struct tok_ids *o, int32_t id);

/* A binary min-heap on (key, pos): BPE pairs by rank, SentencePiece pairs by -score, each then
 * leftmost first. The caller sizes v. */
struct tok_heap_item {
	double key;
	uint32_t pos, a, b;
};
struct tok_heap {
	struct tok_heap_item *v;
	size_t n;
};
void tok_heap_push(struct tok_heap *h, struct tok_heap_item x);
struct tok_heap_item tok_heap_pop(struct tok_heap *h);

struct tok_added {
	int32_t id;
	uint8_t flags;
};

struct fvl_tok {
	size_t n;
	char **piece;  /* (n) NUL-terminated, in arena */
	uint32_t *len; /* (n) */
	int32_t *type; /* (n) */
	float *score;  /* (n) SentencePiece scores, or NULL */
	char *arena;
	uint32_t *table; /* every token by text: id + 1, 0 empty (the first id wins) */
	size_t table_mask;
	uint64_t *mkeys; /* merge hash: (a << 32 | b) + 1, 0 empty */
	uint32_t *mrank, *mres;
	size_t mmask;
	struct tok_added *added; /* (n_added) */
	size_t n_added;
	struct tok_trie added_trie; /* added token text -> index into added */
	bool slow;                  /* transformers' slow LlamaTokenizer over SentencePiece */
	int pre, dec, post;
	bool add_prefix_space, byte_fallback, fuse_unk, ignore_merges, prepend_replace;
	int32_t bos, eos, unk; /* the post-processor's BOS / EOS (-1: none), the unknown id */
	int32_t bos_token;     /* the tokenizer's bos_token id, whether or not it is added */
	int32_t byte_id[256];  /* <0xXX> tokens (byte fallback) */
	char b2u[256][3];      /* byte-level: byte -> UTF-8 of its stand-in character */
	int16_t u2b[512];      /* stand-in code point -> byte, -1 none */
	pcre2_code *re;
	/* SentencePiece (model "spm") */
	struct {
		uint32_t *normal;   /* pieces usable in merges (normal, user-defined, unused) */
		uint32_t *reserved; /* control, unknown and byte pieces */
		size_t mask;
		struct tok_trie user; /* user-defined symbols, matched whole */
		bool add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
	} spm;
	/* transformers' slow LlamaTokenizer */
	bool legacy;
	char *unk_text;   /* the unk token's text, encoded in front of chunks that start with
	                          a space (the tokenizer's own trick) */
	size_t unk_len;   /* ids that text encodes to */
	int32_t space_id; /* the piece "▁", -1 if none */
};

uint64_t tok_hash(const char *s, size_t n);
/* The id of a token text in a hash table built by tok_table_add (-1: absent). */
int32_t tok_table_find(const struct fvl_tok *t, const uint32_t *table, size_t mask, const char *s,
                       size_t n);
void tok_table_add(const struct fvl_tok *t, uint32_t *table, size_t mask, uint32_t id);

/* Length of the UTF-8 sequence a lead byte starts (1 for anything invalid). */
static inline size_t tok_utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* tokenizer-bpe.c: merges, the byte-level alphabet and the regex pre-tokenizer */
enum fvl_status tok_bpe_load(struct fvl_tok *t, const struct fvl_gguf *g, const char *prefix);
void tok_bpe_free(struct fvl_tok *t);
/* One segment of text between added tokens, through normalizer, pre-tokenizer and BPE. */
void tok_bpe_encode(const struct fvl_tok *t, pcre2_match_data *md, const char *s, size_t n,
                    struct tok_ids *o);

/* tokenizer-spm.c: SentencePiece's BPE (valid UTF-8 in) */
enum fvl_status tok_spm_load(struct fvl_tok *t, const struct fvl_gguf *g, const char *prefix);
void tok_spm_free(struct fvl_tok *t);
/* SentencePiece's Encode of s with its normalizer; dummy_prefix as the processor was set up. */
void tok_spm_encode(const struct fvl_tok *t, const char *s, size_t n, bool dummy_prefix,
                    struct tok_ids *o);

#endif /* FVL_TOKENIZER_IMPL_H */
