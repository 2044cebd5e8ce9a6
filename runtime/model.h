/* model.h — the model object's insides, for libfvl's modules. */
#ifndef FVL_MODEL_H
#define FVL_MODEL_H

#include <pthread.h>

#include "florence2-decoder.h"
#include "search.h"
#include "gguf.h"
#include "llm.h"
#include "tokenizer.h"
#include "vision.h"

struct fvl_model {
	struct fvl_gguf *gguf; /* owns the mapping */
	char arch[64];         /* general.architecture */
	bool is_vl;            /* florence-vl: vision + llm below are loaded */
	struct fvl_vision vision;
	struct fvl_llm llm;
	struct fvl_tok *tok; /* the LLM's tokenizer */
	int32_t stop_ids[16];
	size_t n_stop;
	char *template_text, *query_text; /* chat template with {query}; query with {question} */
	char *image_text;                 /* the placeholder text in the query ("<image>") */
	int32_t image_id;                 /* its id in prompt ids (fvl.image.token_id, -200) */
	/* Florence-2 tasks: florence2 files, and florence-vl files converted with the decoder;
	 * loaded by fvl_model_tasks (at load for florence2 files, on first use otherwise) */
	pthread_mutex_t task_mu;
	bool task_mu_init, tasks_tried, has_tasks;
	char no_tasks_why[256];
	struct fvl_f2 f2; /* florence2 files (florence-vl files use vision.f2) */
	struct fvl_f2_decoder dec;
	struct fvl_tok *ftok; /* the Florence-2 tokenizer */
	struct fvl_preprocess task_preprocess;
};

/* fvl_model_load from a model file already in memory (n bytes at a 64-byte aligned address, as a
 * mapping would be, kept by the caller until the model is freed): for the fuzzer. */
enum fvl_status fvl_model_load_memory(const void *buf, size_t n, struct fvl_model **out);

/* Loads the task layer once (thread-safe); UNSUPPORTED with the reason if the file lacks it. */
enum fvl_status fvl_model_tasks(struct fvl_model *m);

#endif /* FVL_MODEL_H */
