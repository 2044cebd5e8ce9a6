/* tokjson.h — turns a Hugging Face tokenizer.json into model-file metadata under a prefix
 * ("tokenizer.llm", "tokenizer.florence"), so the runtime never reads JSON. */
#ifndef FVL_TOKJSON_H
#define FVL_TOKJSON_H

#include <stdint.h>

#include "fvl.h"
#include "gguf.h"

/* Bits of <prefix>.added.flags. */
enum {
	TOK_ADDED_SPECIAL = 1,
	TOK_ADDED_LSTRIP = 2,
	TOK_ADDED_RSTRIP = 4,
	TOK_ADDED_NORMALIZED = 8,
	TOK_ADDED_SINGLE_WORD = 16,
};

/* Token types in <prefix>.token_type (llama.cpp's numbering). */
enum {
	TOK_TYPE_NORMAL = 1,
	TOK_TYPE_UNKNOWN = 2,
	TOK_TYPE_CONTROL = 3,
	TOK_TYPE_USER_DEFINED = 4,
	TOK_TYPE_UNUSED = 5,
	TOK_TYPE_BYTE = 6,
};

/* extra: tokens appended after the file's own (Florence-2's processor adds 1,024), as special
 * tokens; may be NULL. Returns the number of tokens written through n_tokens (may be NULL). */
enum fvl_status tok_write_json(struct fvl_gguf_writer *w, const char *prefix, const char *path,
                               const char *const *extra, uint32_t n_extra, uint32_t *n_tokens);

/* Florence-2's processor tokens, in the order its processor adds them (ids 50265..51288). */
uint32_t tok_florence2_extra(const char ***out);
void tok_florence2_extra_free(const char **v);

#endif /* FVL_TOKJSON_H */
