/* search.h — greedy and beam search as Hugging Face's generate does them (search.c), over any
 * step function: Florence-2's decoder in the library, toy models in the tests. */
#ifndef FVL_SEARCH_H
#define FVL_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fvl.h"

/* The logits (n_beams x n_vocab) of the next token for n_beams sequences: beam b continues beam
 * parents[b] of the previous step with token tokens[b] at position pos (0 is the start token). */
typedef enum fvl_status (*fvl_step_fn)(void *ctx, size_t n_beams, const int32_t *parents,
                                       const int32_t *tokens, size_t pos, float *logits);

struct fvl_search {
	size_t n_vocab;
	int32_t start_id, eos_id;
	uint32_t n_beams;         /* 1: greedy */
	uint32_t max_new;         /* tokens to generate at most */
	uint32_t no_repeat_ngram; /* 0: off */
	float length_penalty;     /* 1.0 */
	bool early_stopping;
	int32_t forced_bos_id; /* forced as the first generated token; -1: off */
	bool forced_eos;       /* EOS forced as token max_new (HF's forced_eos_token_id) */
};

/* Runs the search; out (max_new) receives the generated tokens (without the start token, with
 * the final EOS if one was generated), n_out their count. */
enum fvl_status fvl_search_run(const struct fvl_search *s, fvl_step_fn step, void *ctx,
                               int32_t *out, size_t *n_out);

#endif /* FVL_SEARCH_H */
