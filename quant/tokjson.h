/* tokjson.h — turns a checkpoint's tokenizer into model-file metadata under a prefix
 * ("tokenizer.llm", "tokenizer.florence"), so the runtime never reads JSON: a Hugging Face
 * tokenizer.json (tokjson.c, the fast semantics) or a SentencePiece tokenizer.model with its
 * tokenizer_config.json (tokspm.c, transformers' slow LlamaTokenizer). */
#ifndef FVL_TOKJSON_H
#define FVL_TOKJSON_H

#include <stdint.h>

#include "fvl.h"
#include "gguf.h"
#include "names.h"

/* extra: tokens the file must hold (Florence-2's processor adds 1,024), as special tokens: the
 * ones already in it (a processor-saved tokenizer) are matched by content, the others appended
 * after its own, in order; may be NULL. pad_to: holes up to that many tokens (a vocabulary
 * padded past the tokenizer), 0 for none. The number of tokens before that padding goes to
 * n_tokens (may be NULL); *n_appended (may be NULL) how many of extra were appended. */
enum fvl_status tok_write_json(struct fvl_gguf_writer *w, const char *prefix, const char *path,
                               const char *const *extra, uint32_t n_extra, uint32_t pad_to,
                               uint32_t *n_tokens, uint32_t *n_appended);
/* tokenizer.model (SentencePiece ModelProto) plus dir's tokenizer_config.json,
 * special_tokens_map.json and added_tokens.json, with transformers' slow LlamaTokenizer
 * semantics. n_tokens as above. */
enum fvl_status tok_write_spm(struct fvl_gguf_writer *w, const char *prefix, const char *model_path,
                              const char *dir, uint32_t *n_tokens);

/* Ids no token uses become "[UNUSED_<id>]" of type unused (strdup'd into holes[id]; lens, when
 * not NULL, gets their lengths). */
enum fvl_status
tok_fill_holes(const char **tokens, uint64_t *lens, int32_t *types, char **holes, uint32_t n);

/* Florence-2's processor tokens, in the order its processor adds them (ids 50265..51288). */
uint32_t tok_florence2_extra(const char ***out);
void tok_florence2_extra_free(const char **v);

#endif /* FVL_TOKJSON_H */
