/* fusion.c — Florence-VL's Depth-Breadth Fusion (channel concatenation of the depth feature and
 * each prompt's encoder output at the image positions) and its mlpNx_gelu projector. */
#include <string.h>

#include "common.h"
#include "ops.h"
#include "names.h"
#include "fusion.h"

enum fvl_status fvl_projector_load(struct fvl_projector *p, const struct fvl_gguf *g, size_t in_dim)
{
	enum fvl_status st;
	memset(p, 0, sizeof(*p));
	if ((st = fvl_gguf_get_dim(g, FVL_KEY_MM_DEPTH, 1, FVL_PROJECTOR_MAX_DEPTH, &p->depth)))
		return st;
	p->in_dim = in_dim;
	for (size_t k = 0; k < p->depth; k++) {
		char w[32], b[32];
		snprintf(w, sizeof(w), FVL_TN_MM FVL_W, k);
		snprintf(b, sizeof(b), FVL_TN_MM FVL_B, k);
		if ((st = fvl_linear_init(&p->mm[k], g, w, b, k ? p->out_dim : in_dim,
		                          k ? p->out_dim : 0)) != FVL_STATUS_OK) {
			fvl_projector_free(p);
			return st;
		}
		p->out_dim = p->mm[k].n;
	}
	return FVL_STATUS_OK;
}

void fvl_projector_free(struct fvl_projector *p)
{
	for (size_t k = 0; k < FVL_PROJECTOR_MAX_DEPTH; k++)
		fvl_linear_free(&p->mm[k]);
	memset(p, 0, sizeof(*p));
}

void fvl_dbfusion(size_t n, size_t skip, size_t d, size_t n_prompts, const float *features,
                  const float *const *enc, float *fused)
{
	const size_t w = (1 + n_prompts) * d;
	for (size_t i = 0; i < n; i++) {
		memcpy(fused + i * w, features + (i + skip) * d, d * sizeof(float));
		for (size_t p = 0; p < n_prompts; p++)
			memcpy(fused + i * w + (1 + p) * d, enc[p] + (i + skip) * d,
			       d * sizeof(float));
	}
}

enum fvl_status fvl_projector_forward(const struct fvl_projector *p, struct fvl_compute *compute,
                                      size_t n, const float *fused, float *out)
{
	const size_t w = p->in_dim, h = p->out_dim;
	float *t[2] = {malloc(n * h * sizeof(float)), malloc(n * h * sizeof(float))};
	enum fvl_status st = fvl_compute_reserve(compute, n, w > h ? w : h);
	if (!t[0] || !t[1])
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const float *in = fused;
	size_t ld = w;
	for (size_t k = 0; k < p->depth && st == FVL_STATUS_OK; k++) {
		float *o = k + 1 == p->depth ? out : t[k % 2];
		fvl_linear_forward(compute, &p->mm[k], n, in, ld, o, h);
		if (k + 1 < p->depth)
			fvl_op_gelu(compute, n * h, o, o);
		in = o;
		ld = h;
	}
	free(t[0]);
	free(t[1]);
	return st;
}
