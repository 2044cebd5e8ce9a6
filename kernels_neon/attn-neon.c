/* attn-neon.c — attention with NEON and an online softmax over blocks of 64 keys: a running max and
 * sum per query, the output accumulator rescaled when the max grows. Memory: a block of scores and
 * the accumulators on the stack, never n_q x n_kv. Tiles of 16 queries (head_dim a multiple of
 * 4): each key block is transposed once, by 4 x 4 register transposes (keys across the vector
 * lanes, so scores need no horizontal sums), and every key and value row loaded serves all 16
 * queries; fewer queries (decode) go one by one. */
#include <math.h>

#include "kernels.h"
#include "neon-math.h"

#define KEY_BLOCK 64

static inline float32x4_t ld_kv(const void *p, bool f16, size_t i)
{
	return f16 ? fvl_load_f16x4((const uint16_t *)p + i) : vld1q_f32((const float *)p + i);
}

/* 4 values at byte address p. */
static inline float32x4_t ld_kv_at(const char *p, bool f16)
{
	return f16 ? fvl_load_f16x4((const uint16_t *)p) : vld1q_f32((const float *)p);
}

/* Rows j .. j + 3 of p (ld apart) from value `at`, 4 values each; rows from nb on are zeros. */
static inline void
ld_kv_rows4(const void *p, bool f16, size_t at, size_t ld, size_t j, size_t nb, float32x4_t r[4])
{
	for (size_t l = 0; l < 4; l++)
		r[l] = j + l < nb ? ld_kv(p, f16, at + (j + l) * ld) : vdupq_n_f32(0.0f);
}

static inline float el_kv(const void *p, bool f16, size_t i)
{
	return f16 ? fvl_fp16_to_fp32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static void attn_rows(const struct fvl_attn_args *a)
{
	const size_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads, hd4 = hd & ~(size_t)3;
	float s[KEY_BLOCK], acc[FVL_ATTN_MAX_HEAD_DIM];
	const struct fvl_exp_le0 ec = fvl_exp_le0_init();
	for (size_t h = a->head0; h < a->head1; h++) {
		const size_t kvh = h / group;
		for (size_t i = 0; i < a->n_q; i++) {
			const float *q = a->q + i * a->ldq + h * hd;
			const size_t nk = fvl_attn_keys(a, i);
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
					vst1q_f32(s + j,
					          fvl_exp_le0_f32x4(vsubq_f32(vld1q_f32(s + j),
					                                      vdupq_n_f32(mx)),
					                            &ec));
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

#define Q_TILE 16

/* r[0..3] (4 keys' values at 4 dims) as 4 rows of kt, one per dim, the keys across the lanes. */
static inline void transpose4_store(const float32x4_t r[4], float *kd)
{
	const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1]));
	const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
	const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
	const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
	vst1q_f32(kd, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
	vst1q_f32(kd + KEY_BLOCK, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
	vst1q_f32(kd + 2 * KEY_BLOCK, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
	vst1q_f32(kd + 3 * KEY_BLOCK, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
}

/* Queries [i0, i0 + qn) of head h, qn <= Q_TILE, head_dim % 4 == 0. */
static void attn_tile(const struct fvl_attn_args *a, size_t h, size_t i0, size_t qn)
{
	const size_t hd = a->head_dim, kvh = h / (a->n_heads / a->n_kv_heads);
	float kt[FVL_ATTN_MAX_HEAD_DIM * KEY_BLOCK]; /* (hd, KEY_BLOCK): the block's keys, lanes */
	float s[Q_TILE][KEY_BLOCK], acc[Q_TILE][FVL_ATTN_MAX_HEAD_DIM];
	float qs[Q_TILE][FVL_ATTN_MAX_HEAD_DIM]; /* q * scale; rows past qn are zeros */
	float mx[Q_TILE], sum[Q_TILE];
	size_t nk[Q_TILE], nk_max = 0;
	const struct fvl_exp_le0 ec = fvl_exp_le0_init();
	for (size_t i = 0; i < Q_TILE; i++) {
		const float *q = a->q + (i0 + i) * a->ldq + h * hd;
		nk[i] = 0;
		for (size_t d = 0; d < hd; d += 4) {
			vst1q_f32(qs[i] + d, i < qn ? vmulq_n_f32(vld1q_f32(q + d), a->scale)
			                            : vdupq_n_f32(0.0f));
			vst1q_f32(acc[i] + d, vdupq_n_f32(0.0f));
		}
		mx[i] = -INFINITY, sum[i] = 0.0f;
		if (i < qn) {
			nk[i] = fvl_attn_keys(a, i0 + i);
			nk_max = nk[i] > nk_max ? nk[i] : nk_max;
		}
	}
	for (size_t j0 = 0; j0 < nk_max; j0 += KEY_BLOCK) {
		const size_t nb = nk_max - j0 < KEY_BLOCK ? nk_max - j0 : KEY_BLOCK;
		const size_t nb4 = (nb + 3) & ~(size_t)3;
		for (size_t j = 0; j < nb4; j += 4) { /* transpose (and widen f16) the keys */
			if (j + 4 > nb) {             /* the last, partial group of keys */
				for (size_t d = 0; d < hd; d += 4) {
					float32x4_t r[4];
					ld_kv_rows4(a->k, a->kv_f16, j0 * a->ldk + kvh * hd + d,
					            a->ldk, j, nb, r);
					transpose4_store(r, kt + d * KEY_BLOCK + j);
				}
				break;
			}
			const size_t es = a->kv_f16 ? 2 : 4, ld = a->ldk * es;
			const char *p = (const char *)a->k + ((j0 + j) * a->ldk + kvh * hd) * es;
			for (size_t d = 0; d < hd; d += 4, p += 4 * es) {
				const float32x4_t r[4] = {ld_kv_at(p, a->kv_f16),
				                          ld_kv_at(p + ld, a->kv_f16),
				                          ld_kv_at(p + 2 * ld, a->kv_f16),
				                          ld_kv_at(p + 3 * ld, a->kv_f16)};
				transpose4_store(r, kt + d * KEY_BLOCK + j);
			}
		}
		/* scores: four keys per vector, every kt load used by all the tile's queries */
		for (size_t j = 0; j < nb4; j += 4) {
			float32x4_t sc[Q_TILE];
			for (size_t i = 0; i < Q_TILE; i++)
				sc[i] = vdupq_n_f32(0.0f);
			for (size_t d = 0; d < hd; d += 4) {
				const float32x4_t k0 = vld1q_f32(kt + (d + 0) * KEY_BLOCK + j);
				const float32x4_t k1 = vld1q_f32(kt + (d + 1) * KEY_BLOCK + j);
				const float32x4_t k2 = vld1q_f32(kt + (d + 2) * KEY_BLOCK + j);
				const float32x4_t k3 = vld1q_f32(kt + (d + 3) * KEY_BLOCK + j);
				for (size_t i = 0; i < Q_TILE; i++) {
					const float32x4_t q4 = vld1q_f32(qs[i] + d);
					sc[i] = vfmaq_laneq_f32(sc[i], k0, q4, 0);
					sc[i] = vfmaq_laneq_f32(sc[i], k1, q4, 1);
					sc[i] = vfmaq_laneq_f32(sc[i], k2, q4, 2);
					sc[i] = vfmaq_laneq_f32(sc[i], k3, q4, 3);
				}
			}
			for (size_t i = 0; i < Q_TILE; i++)
				vst1q_f32(s[i] + j, sc[i]);
		}
		/* online softmax per query; keys past a query's limit (causal, the tile's padding)
		 * weigh 0 */
		for (size_t i = 0; i < qn; i++) {
			const size_t lim = nk[i] > j0 ? (nk[i] - j0 < nb ? nk[i] - j0 : nb) : 0;
			float32x4_t bm4 = vdupq_n_f32(-INFINITY);
			size_t j = 0;
			for (; j + 4 <= lim; j += 4)
				bm4 = vmaxq_f32(bm4, vld1q_f32(s[i] + j));
			float bmx = vmaxvq_f32(bm4);
			for (; j < lim; j++)
				bmx = s[i][j] > bmx ? s[i][j] : bmx;
			const float nmx = bmx > mx[i] ? bmx : mx[i];
			const float corr = mx[i] == nmx ? 1.0f : expf(mx[i] - nmx);
			mx[i] = nmx;
			sum[i] *= corr;
			if (corr != 1.0f)
				for (size_t d = 0; d < hd; d += 4)
					vst1q_f32(acc[i] + d,
					          vmulq_n_f32(vld1q_f32(acc[i] + d), corr));
			float32x4_t sm4 = vdupq_n_f32(0.0f);
			for (j = 0; j + 4 <= lim; j += 4) {
				const float32x4_t e = fvl_exp_le0_f32x4(
				        vsubq_f32(vld1q_f32(s[i] + j), vdupq_n_f32(nmx)), &ec);
				vst1q_f32(s[i] + j, e);
				sm4 = vaddq_f32(sm4, e);
			}
			float bsum = vaddvq_f32(sm4);
			for (; j < lim; j++) {
				s[i][j] = expf(s[i][j] - nmx);
				bsum += s[i][j];
			}
			for (; j < nb4; j++)
				s[i][j] = 0.0f;
			sum[i] += bsum;
		}
		for (size_t i = qn; i < Q_TILE; i++)
			for (size_t j = 0; j < nb4; j++)
				s[i][j] = 0.0f;
		/* acc_i += sum_j p_ij v_j: every value row loaded once for the tile */
		for (size_t d = 0; d < hd; d += 4) {
			float32x4_t ac[Q_TILE];
			for (size_t i = 0; i < Q_TILE; i++)
				ac[i] = vld1q_f32(acc[i] + d);
			for (size_t j = 0; j < nb4; j += 4) {
				float32x4_t v[4];
				ld_kv_rows4(a->v, a->kv_f16, j0 * a->ldv + kvh * hd + d, a->ldv, j,
				            nb, v);
				for (size_t i = 0; i < Q_TILE; i++) {
					const float32x4_t p = vld1q_f32(s[i] + j);
					ac[i] = vfmaq_laneq_f32(ac[i], v[0], p, 0);
					ac[i] = vfmaq_laneq_f32(ac[i], v[1], p, 1);
					ac[i] = vfmaq_laneq_f32(ac[i], v[2], p, 2);
					ac[i] = vfmaq_laneq_f32(ac[i], v[3], p, 3);
				}
			}
			for (size_t i = 0; i < Q_TILE; i++)
				vst1q_f32(acc[i] + d, ac[i]);
		}
	}
	for (size_t i = 0; i < qn; i++) {
		float *o = a->o + (i0 + i) * a->ldo + h * hd;
		const float inv = nk[i] ? 1.0f / sum[i] : 0.0f;
		for (size_t d = 0; d < hd; d++)
			o[d] = acc[i][d] * inv;
	}
}

void fvl_attn__neon(const struct fvl_attn_args *a)
{
	if (a->n_q < 4 || a->head_dim % 4) {
		attn_rows(a);
		return;
	}
	for (size_t h = a->head0; h < a->head1; h++)
		for (size_t i0 = 0; i0 < a->n_q; i0 += Q_TILE)
			attn_tile(a, h, i0, a->n_q - i0 < Q_TILE ? a->n_q - i0 : Q_TILE);
}
