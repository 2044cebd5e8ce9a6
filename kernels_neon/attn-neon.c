/* attn-neon.c — attention with NEON and an online softmax over blocks of 64 keys: a running max and
 * sum per query, the output accumulator rescaled when the max grows. Memory: one block of scores
 * and one head_dim accumulator on the stack, never n_q x n_kv. */
#include <math.h>

#include "kernels.h"
#include "neon-math.h"

#define KEY_BLOCK 64

static inline float32x4_t ld_kv(const void *p, bool f16, size_t i)
{
	return f16 ? fvl_load_f16x4((const uint16_t *)p + i) : vld1q_f32((const float *)p + i);
}

static inline float el_kv(const void *p, bool f16, size_t i)
{
	return f16 ? fvl_fp16_to_fp32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

void fvl_attn__neon(const struct fvl_attn_args *a)
{
	const size_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads, hd4 = hd & ~(size_t)3;
	float s[KEY_BLOCK], acc[FVL_ATTN_MAX_HEAD_DIM];
	for (size_t h = a->head0; h < a->head1; h++) {
		const size_t kvh = h / group;
		for (size_t i = 0; i < a->n_q; i++) {
			const float *q = a->q + i * a->ldq + h * hd;
			size_t nk = a->n_kv;
			if (a->causal && a->q_pos0 + i + 1 < nk)
				nk = a->q_pos0 + i + 1;
			float mx = -INFINITY, sum = 0.0f;
			for (size_t d = 0; d < hd; d++)
				acc[d] = 0.0f;
			for (size_t j0 = 0; j0 < nk; j0 += KEY_BLOCK) {
				const size_t nb = nk - j0 < KEY_BLOCK ? nk - j0 : KEY_BLOCK;
				float bmx = -INFINITY;
				for (size_t j = 0; j < nb; j++) {
					const size_t kb = (j0 + j) * a->ldk + kvh * hd;
					float32x4_t d4 = vdupq_n_f32(0.0f);
					size_t d = 0;
					for (; d < hd4; d += 4)
						d4 = vfmaq_f32(d4, vld1q_f32(q + d),
						               ld_kv(a->k, a->kv_f16, kb + d));
					float dot = vaddvq_f32(d4);
					for (; d < hd; d++)
						dot += q[d] * el_kv(a->k, a->kv_f16, kb + d);
					s[j] = dot * a->scale;
					bmx = fmaxf(bmx, s[j]);
				}
				const float nmx = fmaxf(mx, bmx);
				const float corr = expf(mx - nmx); /* 0 on the first block */
				mx = nmx;
				sum *= corr;
				for (size_t d = 0; d < hd; d++)
					acc[d] *= corr;
				size_t j = 0;
				for (; j + 4 <= nb; j += 4)
					vst1q_f32(s + j, fvl_exp_f32x4(vsubq_f32(vld1q_f32(s + j),
					                                         vdupq_n_f32(mx))));
				for (; j < nb; j++)
					s[j] = expf(s[j] - mx);
				for (j = 0; j < nb; j++) {
					const size_t vb = (j0 + j) * a->ldv + kvh * hd;
					const float pj = s[j];
					sum += pj;
					size_t d = 0;
					for (; d < hd4; d += 4)
						vst1q_f32(
						        acc + d,
						        vfmaq_n_f32(vld1q_f32(acc + d),
						                    ld_kv(a->v, a->kv_f16, vb + d),
						                    pj));
					for (; d < hd; d++)
						acc[d] += pj * el_kv(a->v, a->kv_f16, vb + d);
				}
			}
			float *o = a->o + i * a->ldo + h * hd;
			const float inv = nk ? 1.0f / sum : 0.0f;
			for (size_t d = 0; d < hd; d++)
				o[d] = acc[d] * inv;
		}
	}
}
