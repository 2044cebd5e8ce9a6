/* plan.h — fvl-quant's options and the tensor plan (plan.c): which checkpoint tensor becomes
 * which model-file tensor, in which type. The layers: plan <- arch (what an architecture plans)
 * <- convert (the writer). */
#ifndef FVL_PLAN_H
#define FVL_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"
#include "fvl.h"
#include "gguf.h"

/* What a tensor is, which decides its default type. */
enum tclass {
	TCLASS_KEEP_F32, /* norms, biases, position tables: always f32 */
	TCLASS_LLM,      /* LLM linear weights: --wtype */
	TCLASS_VISION,   /* DaViT, Florence-2 encoder/decoder, projector linears: --vision-wtype */
	TCLASS_EMBED,    /* LLM token embedding and output: --embed-wtype */
};

struct type_override {
	char *pattern; /* fnmatch pattern over model-file tensor names */
	enum fvl_type type;
};

/* Which LLM tokenizer semantics a conversion records (--llm-tokenizer). */
enum llm_tokenizer {
	LLM_TOKENIZER_AUTO, /* tokenizer.model: slow; tokenizer.json alone: fast */
	LLM_TOKENIZER_SLOW, /* transformers' slow LlamaTokenizer over tokenizer.model */
	LLM_TOKENIZER_FAST, /* tokenizer.json (Hugging Face tokenizers) */
};

struct convert_opts {
	const char *ckpt_dir;
	const char *vision_tower; /* --vision-tower: the Florence-2 tower folder, or NULL */
	enum llm_tokenizer llm_tokenizer;
	bool drop_pooled_token; /* feed the LLM the grid tokens only (the pooled first token out) */
	const char *out;
	enum fvl_type wtype, vision_wtype, embed_wtype;
	struct type_override *overrides;
	uint32_t n_overrides;
	bool no_florence_decoder;
	bool quiet;
	/* synth: tensors the checkpoint lacks are made up (random, seeded) instead of an error,
	 * and no weight files are read. */
	bool synth;
	uint64_t seed;
	bool dry_run;        /* plan and report, write nothing */
	unsigned llm_layers; /* synth: LLM layers (0: the real count), for reduced benchmarks */
	unsigned image_size; /* synth: preprocessing size (0: 768) */
};

struct plan_tensor {
	char name[FVL_GGUF_MAX_NAME + 1]; /* model-file name */
	const char *src_name;             /* checkpoint name (for messages) */
	struct ckpt_tensor src;           /* view to read (transposed where the layout needs it) */
	enum fvl_type type;
	uint32_t n_dims;
	uint64_t ne[4]; /* model-file order: ne[0] is the row */
	bool fallback;  /* wanted a quantized type, row length forced f16 */
};

struct plan {
	struct plan_tensor *t;
	uint32_t n;
	uint64_t cap;
	const struct convert_opts *opts;
	struct ckpt *ck;
	char tower_dir[1024]; /* the Florence-2 tower folder a Florence-VL conversion read, or "" */
};

/* Adds checkpoint tensor src_name (PyTorch shape shape[0..n_dims)) as model-file tensor name.
 * The first of the alternative names (NULL-terminated, may be NULL) present is used for a tied
 * tensor. transpose: store the 2-D tensor transposed. */
enum fvl_status plan_add(struct plan *p, const char *name, enum tclass cls, bool transpose,
                         uint32_t n_dims, const uint64_t *shape, const char *src_name,
                         const char *const *alts);

#endif /* FVL_PLAN_H */
