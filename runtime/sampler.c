/* sampler.c — the next token from the LLM's logits: the repetition penalty over the last 64
 * generated tokens (each distinct token once, as HF's RepetitionPenaltyLogitsProcessor), then
 * greedy, or temperature with top-k, top-p and min-p over the candidates taken in descending
 * order from a heap (O(V + k log V) per token, never a sort of the vocabulary). No globals:
 * samplers on several threads never meet. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "sampler.h"

enum fvl_status fvl_sampler_init(struct fvl_sampler *s, size_t n_vocab)
{
	memset(s, 0, sizeof(*s));
	s->n_vocab = n_vocab;
	s->heap = malloc(n_vocab * sizeof(*s->heap));
	s->probs = malloc(n_vocab * sizeof(*s->probs));
	s->cand = malloc(n_vocab * sizeof(*s->cand));
	if (!s->heap || !s->probs || !s->cand) {
		fvl_sampler_free(s);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY,
		                "out of memory for the sampler (%zu tokens)", n_vocab);
	}
	return FVL_STATUS_OK;
}

void fvl_sampler_free(struct fvl_sampler *s)
{
	free(s->heap);
	free(s->probs);
	free(s->cand);
	memset(s, 0, sizeof(*s));
}

void fvl_sampler_reset(struct fvl_sampler *s, uint64_t seed)
{
	s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	s->n_recent = 0;
	s->at = 0;
}

void fvl_sampler_accept(struct fvl_sampler *s, int32_t id)
{
	s->recent[s->at] = id;
	s->at = (s->at + 1) % FVL_SAMPLER_WINDOW;
	if (s->n_recent < FVL_SAMPLER_WINDOW)
		s->n_recent++;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* Max-heap of token ids by logit. */
static void sift_down(int32_t *h, size_t n, size_t i, const float *l)
{
	const int32_t x = h[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && l[h[c + 1]] > l[h[c]])
			c++;
		if (!(l[h[c]] > l[x]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static int32_t heap_pop(int32_t *h, size_t *n, const float *l)
{
	const int32_t top = h[0];
	h[0] = h[--*n];
	if (*n)
		sift_down(h, *n, 0, l);
	return top;
}

int32_t fvl_sampler_sample(struct fvl_sampler *s, const struct fvl_gen_params *g, float *l)
{
	const size_t V = s->n_vocab;
	if (g->repeat_penalty != 1.0f && g->repeat_penalty > 0.0f)
		for (size_t i = 0; i < s->n_recent; i++) {
			bool seen = false; /* a token repeated in the window is penalized once */
			for (size_t j = 0; j < i && !seen; j++)
				seen = s->recent[j] == s->recent[i];
			float *x = &l[s->recent[i]];
			if (!seen && s->recent[i] >= 0 && (size_t)s->recent[i] < V)
				*x = *x > 0 ? *x / g->repeat_penalty : *x * g->repeat_penalty;
		}
	if (g->temp <= 0.0f) {
		size_t best = 0;
		for (size_t i = 1; i < V; i++)
			if (l[i] > l[best])
				best = i;
		return (int32_t)best;
	}
	const size_t k = g->top_k > 0 && (size_t)g->top_k < V ? (size_t)g->top_k : V;
	if (k == V && g->top_p >= 1.0f && g->min_p <= 0.0f) { /* the whole vocabulary: no order */
		float mx = l[0];
		for (size_t i = 1; i < V; i++)
			mx = l[i] > mx ? l[i] : mx;
		double sum = 0;
		for (size_t i = 0; i < V; i++)
			sum += s->probs[i] = expf((l[i] - mx) / g->temp);
		double r = (double)(rng_next(&s->rng) >> 11) * 0x1p-53 * sum;
		for (size_t i = 0; i < V; i++)
			if ((r -= s->probs[i]) <= 0)
				return (int32_t)i;
		return (int32_t)(V - 1);
	}
	size_t nh = V;
	for (size_t i = 0; i < V; i++)
		s->heap[i] = (int32_t)i;
	for (size_t i = V / 2; i-- > 0;)
		sift_down(s->heap, V, i, l);
	/* The top-k (or all) candidates' weights exp((l - max) / temp), normalized over them. */
	const float mx = l[s->heap[0]];
	double sum = 0;
	if (k < V) {
		for (size_t i = 0; i < k; i++) {
			s->cand[i] = heap_pop(s->heap, &nh, l);
			s->probs[i] = expf((l[s->cand[i]] - mx) / g->temp);
			sum += s->probs[i];
		}
	} else {
		for (size_t i = 0; i < V; i++)
			sum += expf((l[i] - mx) / g->temp);
	}
	/* Candidates in descending order until top-p's mass or min-p's floor. */
	size_t keep = 0;
	double c = 0;
	for (size_t i = 0; i < k; i++) {
		if (k == V) {
			s->cand[i] = heap_pop(s->heap, &nh, l);
			s->probs[i] = expf((l[s->cand[i]] - mx) / g->temp);
		}
		if (g->min_p > 0.0f && i > 0 && s->probs[i] < g->min_p * s->probs[0])
			break;
		keep = i + 1;
		c += s->probs[i] / sum;
		if (g->top_p < 1.0f && c >= g->top_p)
			break;
	}
	double total = 0;
	for (size_t i = 0; i < keep; i++)
		total += s->probs[i];
	double r = (double)(rng_next(&s->rng) >> 11) * 0x1p-53 * total;
	for (size_t i = 0; i < keep; i++) {
		r -= s->probs[i];
		if (r <= 0)
			return s->cand[i];
	}
	return s->cand[keep - 1];
}
