/* tokenizer.h — the tokenizers fvl needs, rebuilt from model-file metadata (no JSON at run time):
 * Hugging Face `tokenizers` BPE (byte-level with a regex pre-tokenizer: GPT-2/BART, Llama-3;
 * SentencePiece-style with byte fallback: Llama-2/Phi-3 tokenizer.json), and SentencePiece's own
 * BPE with transformers' slow LlamaTokenizer around it (what Florence-VL-3B tokenizes with);
 * added tokens with lstrip/rstrip, BOS/EOS and the matching decoders. A loaded tokenizer is
 * read-only: any number of threads may encode and decode with it at once. */
#ifndef FVL_TOKENIZER_H
#define FVL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

struct fvl_tok;

/* prefix: "tokenizer.llm" or "tokenizer.florence". */
enum fvl_status fvl_tok_load(const struct fvl_gguf *g, const char *prefix, struct fvl_tok **out);
void fvl_tok_free(struct fvl_tok *t);

size_t fvl_tok_n_vocab(const struct fvl_tok *t);
/* The token's text as stored (not decoded); n receives its length. */
const char *fvl_tok_piece(const struct fvl_tok *t, int32_t id, size_t *n);
/* The id of an exact token text, or -1. */
int32_t fvl_tok_find(const struct fvl_tok *t, const char *text, size_t n);
bool fvl_tok_is_special(const struct fvl_tok *t, int32_t id);
/* The tokenizer's BOS token id (what LLaVA's image splice compares with), or -1. */
int32_t fvl_tok_bos(const struct fvl_tok *t);
/* true: transformers' slow LlamaTokenizer semantics; false: `tokenizers` (fast). */
bool fvl_tok_is_slow(const struct fvl_tok *t);

/* Encodes text (len bytes, any bytes: invalid UTF-8 is read as U+FFFD); with add_special the
 * BOS/EOS the tokenizer adds are added (post-processor, or add_bos_token / add_eos_token).
 * *ids is malloc'd (free it); *n_ids its length. */
enum fvl_status fvl_tok_encode(const struct fvl_tok *t, const char *text, size_t len,
                               bool add_special, int32_t **ids, size_t *n_ids);
/* fvl_tok_encode, except that special tokens overlapping text[plain_begin, plain_end) are not
 * split out: that part stays plain text even where it spells one (a user's question). The range
 * must be over valid UTF-8 (clean it with fvl_utf8_clean first); empty: no such range. */
enum fvl_status fvl_tok_encode_ex(const struct fvl_tok *t, const char *text, size_t len,
                                  bool add_special, size_t plain_begin, size_t plain_end,
                                  int32_t **ids, size_t *n_ids);
/* s with every ill-formed UTF-8 subsequence replaced by U+FFFD (each maximal subpart once, as
 * Python's decode(errors="replace") does), malloc'd; NULL with *out_n = n when s is valid already
 * (and NULL with *oom set when out of memory). */
char *fvl_utf8_clean(const char *s, size_t n, size_t *out_n, bool *oom);

/* Decodes ids into malloc'd, NUL-terminated text. */
enum fvl_status fvl_tok_decode(const struct fvl_tok *t, const int32_t *ids, size_t n,
                               bool skip_special, char **text, size_t *len);

/* Streaming detokenization: feed ids one at a time; only whole UTF-8 characters come out. */
struct fvl_tok_stream {
	const struct fvl_tok *t;
	bool skip_special, first;
	char pending[8];
	size_t n_pending;
};
void fvl_tok_stream_init(struct fvl_tok_stream *s, const struct fvl_tok *t, bool skip_special);
/* Appends the complete characters id adds to out (cap bytes); returns the bytes written. */
size_t fvl_tok_stream_push(struct fvl_tok_stream *s, int32_t id, char *out, size_t cap);
/* What is left at the end (an incomplete sequence comes out as U+FFFD). */
size_t fvl_tok_stream_flush(struct fvl_tok_stream *s, char *out, size_t cap);

#endif /* FVL_TOKENIZER_H */
