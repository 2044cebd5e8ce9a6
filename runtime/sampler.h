/* sampler.h — choosing the next token from logits (sampler.c). */
#ifndef FVL_SAMPLER_H
#define FVL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "fvl.h"

#define FVL_SAMPLER_WINDOW 64 /* generated tokens the repetition penalty looks back over */

struct fvl_sampler {
	size_t n_vocab;
	int32_t *heap;                      /* (n_vocab) candidate ids, a max-heap by logit */
	int32_t *cand;                      /* (n_vocab) the candidates taken, in order */
	float *probs;                       /* (n_vocab) their weights */
	int32_t recent[FVL_SAMPLER_WINDOW]; /* ring of the last generated ids */
	size_t n_recent, at;
	uint64_t rng;
};

enum fvl_status fvl_sampler_init(struct fvl_sampler *s, size_t n_vocab);
void fvl_sampler_free(struct fvl_sampler *s);
/* Forgets the generated tokens; seed 0 takes a fixed default. */
void fvl_sampler_reset(struct fvl_sampler *s, uint64_t seed);
/* Records a generated token (the penalty window). */
void fvl_sampler_accept(struct fvl_sampler *s, int32_t id);
/* The next token from logits (n_vocab, changed in place by the penalty) under g. */
int32_t fvl_sampler_sample(struct fvl_sampler *s, const struct fvl_gen_params *g, float *logits);

#endif /* FVL_SAMPLER_H */
