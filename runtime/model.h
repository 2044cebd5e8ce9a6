/* model.h — the model object's insides, for libfvl's modules. */
#ifndef FVL_MODEL_H
#define FVL_MODEL_H

#include "gguf.h"
#include "llm.h"
#include "tokenizer.h"
#include "vision.h"

struct fvl_model {
	struct fvl_gguf *gguf;   /* owns the mapping */
	char arch[64];           /* general.architecture */
	bool is_vl;              /* florence-vl: vision + llm below are loaded */
	struct fvl_vl_vision vision;
	struct fvl_llm llm;
	struct fvl_tok *tok;     /* the LLM's tokenizer */
	int32_t stop_ids[16];
	size_t n_stop;
	char *template_text, *query_text; /* chat template with {query}; query with {question} */
};

#endif /* FVL_MODEL_H */
