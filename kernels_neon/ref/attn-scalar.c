/* attn-scalar.c — scalar twin of attention: the definition, a full softmax over each query's keys. */
#include <math.h>
#include <stdlib.h>

#include "fp16.h"
#include "kernels.h"

static inline float kv_at(const void *p, bool f16, size_t i)
{
	return f16 ? fvl_fp16_to_fp32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

void fvl_attn__scalar(const struct fvl_attn_args *a)
{
	const size_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads;
	float *p = malloc((a->n_kv ? a->n_kv : 1) * sizeof(float));
	if (!p)
		return; /* the caller's scratch for the NEON path has no such failure; tests only */
	for (size_t h = a->head0; h < a->head1; h++) {
		const size_t kvh = h / group;
		for (size_t i = 0; i < a->n_q; i++) {
			const float *q = a->q + i * a->ldq + h * hd;
			const size_t nk = fvl_attn_keys(a, i);
			float mx = -INFINITY, sum = 0.0f;
			for (size_t j = 0; j < nk; j++) {
				float s = 0.0f;
				for (size_t d = 0; d < hd; d++)
					s += q[d] *
					     kv_at(a->k, a->kv_f16, j * a->ldk + kvh * hd + d);
				p[j] = s * a->scale;
				mx = fmaxf(mx, p[j]);
			}
			for (size_t j = 0; j < nk; j++) {
				p[j] = expf(p[j] - mx);
				sum += p[j];
			}
			float *o = a->o + i * a->ldo + h * hd;
			for (size_t d = 0; d < hd; d++) {
				float acc = 0.0f;
				for (size_t j = 0; j < nk; j++)
					acc += p[j] *
					       kv_at(a->v, a->kv_f16, j * a->ldv + kvh * hd + d);
				o[d] = nk ? acc / sum : 0.0f;
			}
		}
	}
	free(p);
}
