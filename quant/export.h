/* export.h — `fvl-quant export-llm` (export.c): the LLM of an fvl model file as a llama.cpp GGUF. */
#ifndef FVL_EXPORT_H
#define FVL_EXPORT_H

#include <stdbool.h>

#include "fvl.h"

struct export_opts {
	const char *in, *out;
	bool quiet, dry_run;
};

/* Writes o->out (through OUT.tmp, renamed when complete): general.architecture phi3 or llama,
 * llama.cpp's hyperparameter keys, a tokenizer.ggml.* vocabulary, the rope factor tensors
 * llama.cpp's converter writes, and every LLM tensor copied byte for byte (Llama's attn_q and
 * attn_k with their rows in the order llama.cpp's rope expects). */
enum fvl_status export_llm_run(const struct export_opts *o);

#endif /* FVL_EXPORT_H */
