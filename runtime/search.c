/* search.c — greedy and beam search as Hugging Face's generate does them for Florence-2:
 * log-softmax, then the logits processors (no-repeat n-gram, forced BOS / EOS), then the beam
 * scores; 2B candidates per step, finished hypotheses scored by length penalty, early stopping. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "search.h"

/* Bans tokens that would repeat an n-gram of seq (len tokens, start token included). */
static void ban_ngrams(const int32_t *seq, size_t len, uint32_t n, float *logits)
{
	if (n == 0 || len + 1 < n)
		return;
	for (size_t i = 0; i + n <= len; i++) {
		bool same = true;
		for (size_t j = 0; j + 1 < n && same; j++)
			same = seq[i + j] == seq[len - (n - 1) + j];
		if (same)
			logits[seq[i + n - 1]] = -INFINITY;
	}
}

/* Only token t stays possible (HF's ForcedBOS/EOS processors: 0 for it, -inf for the rest). */
static void force(float *logits, size_t n, int32_t t)
{
	for (size_t i = 0; i < n; i++)
		logits[i] = -INFINITY;
	logits[t] = 0.0f;
}

static void log_softmax(float *x, size_t n)
{
	float mx = -INFINITY;
	for (size_t i = 0; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += exp((double)x[i] - mx);
	const float lse = mx + (float)log(sum);
	for (size_t i = 0; i < n; i++)
		x[i] -= lse;
}

struct hyp {
	float score;
	size_t len;
	int32_t *tok;
};

/* Where a finished hypothesis of score sc goes among the B best: a free slot, the worst one if
 * sc beats it, or NULL. */
static struct hyp *hyp_slot(struct hyp *hy, size_t *n_hyp, size_t B, float sc)
{
	size_t slot = *n_hyp;
	if (slot < B) {
		(*n_hyp)++;
	} else {
		slot = 0;
		for (size_t h = 1; h < B; h++)
			if (hy[h].score < hy[slot].score)
				slot = h;
		if (sc <= hy[slot].score)
			return NULL;
	}
	hy[slot].score = sc;
	return &hy[slot];
}

enum fvl_status
fvl_search_run(const struct fvl_search *s, fvl_step_fn step, void *ctx, int32_t *out, size_t *n_out)
{
	const size_t V = s->n_vocab, B = s->n_beams ? s->n_beams : 1, T = s->max_new + 1;
	const float lp = s->length_penalty;
	enum fvl_status st = FVL_STATUS_OK;
	int32_t *seq = malloc(B * T * 4), *nseq = malloc(B * T * 4), *parents = calloc(B, 4);
	int32_t *toks = malloc(B * 4);
	float *logits = malloc(B * V * 4), *score = malloc(B * 4), *nscore = malloc(B * 4);
	struct hyp *hy = calloc(B, sizeof(*hy));
	int32_t *hbuf = malloc(B * T * 4);
	size_t n_hyp = 0, nb = 1;
	*n_out = 0;
	if (!seq || !nseq || !parents || !toks || !logits || !score || !nscore || !hy || !hbuf) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for the search");
		goto done;
	}
	for (size_t b = 0; b < B; b++)
		hy[b].tok = hbuf + b * T;
	seq[0] = s->start_id;
	score[0] = 0.0f;
	toks[0] = s->start_id;
	bool done = false;
	for (size_t len = 1; len <= s->max_new && !done; len++) {
		/* logits for every live beam after len tokens (the start token included) */
		if ((st = step(ctx, nb, parents, toks, len - 1, logits)) != FVL_STATUS_OK)
			goto done;
		/* HF's order: log-softmax (beam search), then the processors, then the beam score */
		for (size_t b = 0; b < nb; b++) {
			float *lg = logits + b * V;
			if (B > 1)
				log_softmax(lg, V);
			ban_ngrams(seq + b * T, len, s->no_repeat_ngram, lg);
			if (len == 1 && s->forced_bos_id >= 0 && (size_t)s->forced_bos_id < V)
				force(lg, V, s->forced_bos_id);
			if (len == s->max_new && s->forced_eos && s->eos_id >= 0 &&
			    (size_t)s->eos_id < V)
				force(lg, V, s->eos_id);
			if (B > 1)
				for (size_t i = 0; i < V; i++)
					lg[i] += score[b];
		}
		if (B == 1) { /* greedy */
			size_t best = 0;
			for (size_t i = 1; i < V; i++)
				if (logits[i] > logits[best])
					best = i;
			out[len - 1] = (int32_t)best;
			*n_out = len;
			seq[len] = (int32_t)best;
			toks[0] = (int32_t)best;
			parents[0] = 0;
			if ((int32_t)best == s->eos_id)
				break;
			continue;
		}
		/* the 2B best (beam, token) continuations, best first */
		size_t cand_b[64], cand_t[64], nc = 0;
		float cand_s[64];
		const size_t want = 2 * B < 64 ? 2 * B : 64;
		for (size_t b = 0; b < nb; b++)
			for (size_t i = 0; i < V; i++) {
				const float v = logits[b * V + i];
				if (!(v > -INFINITY) || (nc == want && v <= cand_s[nc - 1]))
					continue;
				size_t at = nc < want ? nc++ : nc - 1;
				while (at > 0 && cand_s[at - 1] < v) {
					cand_s[at] = cand_s[at - 1], cand_b[at] = cand_b[at - 1],
					cand_t[at] = cand_t[at - 1];
					at--;
				}
				cand_s[at] = v, cand_b[at] = b, cand_t[at] = i;
			}
		size_t next = 0;
		for (size_t c = 0; c < nc && next < B; c++) {
			const int32_t *src = seq + cand_b[c] * T;
			if ((int32_t)cand_t[c] == s->eos_id) {
				if (c >=
				    B) /* an EOS below the beam width does not count (as in HF) */
					continue;
				struct hyp *h =
				        hyp_slot(hy, &n_hyp, B, cand_s[c] / powf((float)len, lp));
				if (h) {
					h->len = len;
					memcpy(h->tok, src + 1, (len - 1) * 4);
					h->tok[len - 1] = s->eos_id;
				}
				continue;
			}
			memcpy(nseq + next * T, src, len * 4);
			nseq[next * T + len] = (int32_t)cand_t[c];
			nscore[next] = cand_s[c];
			parents[next] = (int32_t)cand_b[c];
			toks[next] = (int32_t)cand_t[c];
			next++;
		}
		int32_t *t = seq;
		seq = nseq;
		nseq = t;
		float *u = score;
		score = nscore;
		nscore = u;
		nb = next;
		if (nb == 0)
			break;
		if (n_hyp == B) {
			float worst = hy[0].score;
			for (size_t h = 1; h < B; h++)
				worst = hy[h].score < worst ? hy[h].score : worst;
			done = s->early_stopping || score[0] / powf((float)len, lp) <= worst;
		}
	}
	if (B > 1) {
		/* unfinished beams count as hypotheses at the end */
		for (size_t b = 0; b < nb && !done; b++) {
			/* HF divides by the length with the start token */
			struct hyp *h = hyp_slot(hy, &n_hyp, B,
			                         score[b] / powf((float)(s->max_new + 1), lp));
			if (h) {
				h->len = s->max_new;
				memcpy(h->tok, seq + b * T + 1, s->max_new * 4);
			}
		}
		size_t best = 0;
		for (size_t h = 1; h < n_hyp; h++)
			if (hy[h].score > hy[best].score)
				best = h;
		if (n_hyp) {
			memcpy(out, hy[best].tok, hy[best].len * 4);
			*n_out = hy[best].len;
		}
	}
done:
	free(seq), free(nseq), free(parents), free(toks), free(logits), free(score), free(nscore);
	free(hy), free(hbuf);
	return st;
}
