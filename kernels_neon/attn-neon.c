/* attn-neon.c — attention with NEON and an online softmax over blocks of keys (16384 / head_dim
 * of them, at most 512: a vision window or a short sequence is one block): a running max and sum
 * per query, the output accumulator rescaled when the max grows. Memory: a block of scores, the
 * transposed keys and the accumulators on the stack, never n_q x n_kv. Tiles of 16 queries
 * (head_dim a multiple of 4): keys are transposed by 4 x 4 register transposes into groups of 4
 * (keys across the lanes, so scores need no horizontal sums; once per kv head when all keys are
 * one block), scores take 8 dims of 16 queries per step, values 8 queries x 8 dims per step, so
 * every key and value vector loaded serves several queries; fewer queries (decode) go one by
 * one. */
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

#define Q_TILE    16
#define KT_FLOATS 16384 /* a block of transposed keys: 64 KB */
#define S_MAX     512   /* keys per block at most (the scores' row) */

/* Keys per block at head_dim hd: as many as the transposed block holds, a multiple of 16, so
 * that a vision window (144 keys) or a short sequence is one block. */
static size_t key_block(size_t hd)
{
	const size_t kb = KT_FLOATS / hd;
	return (kb < S_MAX ? kb : S_MAX) & ~(size_t)15;
}

/* r[0..3] (4 keys' values at 4 dims) as 4 vectors at kd, one per dim, the keys across the lanes. */
static inline void transpose4_store(const float32x4_t r[4], float *kd)
{
	const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1]));
	const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
	const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
	const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
	vst1q_f32(kd, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
	vst1q_f32(kd + 4, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
	vst1q_f32(kd + 8, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
	vst1q_f32(kd + 12, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
}

/* Keys j0 .. j0 + nb of kv head kvh into kt, in groups of 4 keys: group g's dim d at
 * kt[(g hd + d) 4 .. + 4] (a group's dims contiguous, so the score loop loads them in pairs);
 * keys past nb in the last group are zeros. */
static void
transpose_keys(const struct fvl_attn_args *a, size_t kvh, size_t j0, size_t nb, float *kt)
{
	const size_t hd = a->head_dim, es = a->kv_f16 ? 2 : 4, ld = a->ldk * es;
	for (size_t j = 0; j < nb; j += 4, kt += 4 * hd) {
		if (j + 4 > nb) { /* the last, partial group */
			for (size_t d = 0; d < hd; d += 4) {
				float32x4_t r[4];
				ld_kv_rows4(a->k, a->kv_f16, j0 * a->ldk + kvh * hd + d, a->ldk, j,
				            nb, r);
				transpose4_store(r, kt + 4 * d);
			}
			break;
		}
		const char *p = (const char *)a->k + ((j0 + j) * a->ldk + kvh * hd) * es;
		for (size_t d = 0; d < hd; d += 4, p += 4 * es) {
			const float32x4_t r[4] = {
			        ld_kv_at(p, a->kv_f16), ld_kv_at(p + ld, a->kv_f16),
			        ld_kv_at(p + 2 * ld, a->kv_f16), ld_kv_at(p + 3 * ld, a->kv_f16)};
			transpose4_store(r, kt + 4 * d);
		}
	}
}

/* sc += 4 dims of the keys (k[0..3], one per dim) times query lanes q. */
#define FMA4(sc, k, q)                                                                             \
	do {                                                                                       \
		sc = vfmaq_laneq_f32(sc, (k)[0], q, 0);                                            \
		sc = vfmaq_laneq_f32(sc, (k)[1], q, 1);                                            \
		sc = vfmaq_laneq_f32(sc, (k)[2], q, 2);                                            \
		sc = vfmaq_laneq_f32(sc, (k)[3], q, 3);                                            \
	} while (0)

/* s[i][0 .. nb4) = q_i . keys for the tile's 16 queries, 4 keys a vector: per 8 dims, 8 key
 * vectors and each query's 8 values are loaded once (in pairs) for 128 fma. qs: the queries in
 * chunks of 8 dims, query i's values of chunk c at qs[(c Q_TILE + i) 8]. Not inlined: its
 * 16 accumulators, 8 key vectors and 2 query vectors then have the registers to themselves. */
static __attribute__((noinline)) void
tile_scores(const float *qs, size_t hd, const float *kt, size_t nb4, float (*s)[S_MAX])
{
	for (size_t j = 0; j < nb4; j += 4, kt += 4 * hd) {
		float32x4_t sc[Q_TILE];
		for (size_t i = 0; i < Q_TILE; i++)
			sc[i] = vdupq_n_f32(0.0f);
		size_t d = 0;
		const float *qc = qs;
		for (; d + 8 <= hd; d += 8, qc += 8 * Q_TILE) {
			const float32x4_t k[8] = {
			        vld1q_f32(kt + 4 * d),      vld1q_f32(kt + 4 * d + 4),
			        vld1q_f32(kt + 4 * d + 8),  vld1q_f32(kt + 4 * d + 12),
			        vld1q_f32(kt + 4 * d + 16), vld1q_f32(kt + 4 * d + 20),
			        vld1q_f32(kt + 4 * d + 24), vld1q_f32(kt + 4 * d + 28)};
#pragma GCC unroll 16
			for (size_t i = 0; i < Q_TILE; i++) {
				const float32x4_t q0 = vld1q_f32(qc + 8 * i),
				                  q1 = vld1q_f32(qc + 8 * i + 4);
				FMA4(sc[i], k, q0);
				FMA4(sc[i], k + 4, q1);
			}
		}
		if (d < hd) { /* head_dim % 8 == 4 */
			const float32x4_t k[4] = {vld1q_f32(kt + 4 * d), vld1q_f32(kt + 4 * d + 4),
			                          vld1q_f32(kt + 4 * d + 8),
			                          vld1q_f32(kt + 4 * d + 12)};
			for (size_t i = 0; i < Q_TILE; i++)
				FMA4(sc[i], k, vld1q_f32(qc + 8 * i));
		}
		for (size_t i = 0; i < Q_TILE; i++)
			vst1q_f32(s[i] + j, sc[i]);
	}
}

/* acc rows 0..7 at dims d .. d + 4 nv (nv 1 or 2 vectors) += s rows . values over the keys
 * [0, n4), whole groups of 4: each group's values loaded once for 32 nv fma. v: the block's
 * first value row (of this kv head), ld elements apart. */
static inline __attribute__((always_inline)) void
pv_tile(bool f16, size_t nv, const void *v, size_t ld, size_t n4, const float (*s)[S_MAX],
        float (*acc)[FVL_ATTN_MAX_HEAD_DIM], size_t d)
{
	float32x4_t a0[8], a1[8];
	for (size_t i = 0; i < 8; i++) {
		a0[i] = vld1q_f32(acc[i] + d);
		a1[i] = nv == 2 ? vld1q_f32(acc[i] + d + 4) : a0[i];
	}
	for (size_t j = 0; j < n4; j += 4) {
		float32x4_t v0[4], v1[4];
		for (size_t l = 0; l < 4; l++) {
			v0[l] = ld_kv(v, f16, (j + l) * ld + d);
			v1[l] = nv == 2 ? ld_kv(v, f16, (j + l) * ld + d + 4) : v0[l];
		}
#pragma GCC unroll 8
		for (size_t i = 0; i < 8; i++) {
			const float32x4_t p = vld1q_f32(s[i] + j);
			FMA4(a0[i], v0, p);
			if (nv == 2)
				FMA4(a1[i], v1, p);
		}
	}
	for (size_t i = 0; i < 8; i++) {
		vst1q_f32(acc[i] + d, a0[i]);
		if (nv == 2)
			vst1q_f32(acc[i] + d + 4, a1[i]);
	}
}

/* pv_tile over all dims, for 8 query rows, f16 or f32 values (constant after inlining). */
static inline __attribute__((always_inline)) void
pv_rows8(bool f16, size_t hd, const void *v, size_t ld, size_t n4, const float (*s)[S_MAX],
         float (*acc)[FVL_ATTN_MAX_HEAD_DIM])
{
	size_t d = 0;
	for (; d + 8 <= hd; d += 8)
		pv_tile(f16, 2, v, ld, n4, s, acc, d);
	if (d < hd) /* head_dim % 8 == 4 */
		pv_tile(f16, 1, v, ld, n4, s, acc, d);
}

/* acc[i][:] += sum_j s[i][j] v_j over the block's nb keys, for queries i < qn (s is zero past
 * each query's keys and in rows from qn on): 8 queries x 8 dims at a time over whole groups of
 * 4 keys, then the last nb % 4 keys one by one. */
static void tile_pv(const struct fvl_attn_args *a, size_t kvh, size_t j0, size_t nb, size_t qn,
                    const float (*s)[S_MAX], float (*acc)[FVL_ATTN_MAX_HEAD_DIM])
{
	const size_t hd = a->head_dim, n4 = nb & ~(size_t)3, es = a->kv_f16 ? 2 : 4;
	const void *v = (const char *)a->v + (j0 * a->ldv + kvh * hd) * es;
	for (size_t i0 = 0; i0 < qn; i0 += 8) {
		if (a->kv_f16)
			pv_rows8(true, hd, v, a->ldv, n4, s + i0, acc + i0);
		else
			pv_rows8(false, hd, v, a->ldv, n4, s + i0, acc + i0);
	}
	for (size_t j = n4; j < nb; j++)
		for (size_t i = 0; i < qn; i++)
			for (size_t d = 0; d < hd; d += 4)
				vst1q_f32(acc[i] + d,
				          vfmaq_n_f32(vld1q_f32(acc[i] + d),
				                      ld_kv(v, a->kv_f16, j * a->ldv + d),
				                      s[i][j]));
}

/* Online softmax over one block for query row i (lim of its nb keys valid): the block's max,
 * the row's running max, sum and accumulator rescaled if it grew, s[i] turned into weights
 * (zeros from lim to nb4). Not inlined, so the exp's constants stay in registers (inlined in
 * the tile they were spilled and reloaded for every 4 scores). */
static __attribute__((noinline)) void
tile_softmax_row(float *s, size_t lim, size_t nb4, float *mx, float *sum, float *acc, size_t hd)
{
	const struct fvl_exp_le0 ec = fvl_exp_le0_init();
	float32x4_t bm4 = vdupq_n_f32(-INFINITY);
	size_t j = 0;
	for (; j + 4 <= lim; j += 4)
		bm4 = vmaxq_f32(bm4, vld1q_f32(s + j));
	float bmx = vmaxvq_f32(bm4);
	for (; j < lim; j++)
		bmx = s[j] > bmx ? s[j] : bmx;
	const float nmx = bmx > *mx ? bmx : *mx;
	if (*sum != 0.0f && nmx != *mx) { /* rescale what earlier blocks summed */
		const float corr = expf(*mx - nmx);
		*sum *= corr;
		for (size_t d = 0; d < hd; d += 4)
			vst1q_f32(acc + d, vmulq_n_f32(vld1q_f32(acc + d), corr));
	}
	*mx = nmx;
	float32x4_t sm4 = vdupq_n_f32(0.0f);
	const float32x4_t m4 = vdupq_n_f32(nmx);
	for (j = 0; j + 4 <= lim; j += 4) {
		const float32x4_t e = fvl_exp_le0_f32x4(vsubq_f32(vld1q_f32(s + j), m4), &ec);
		vst1q_f32(s + j, e);
		sm4 = vaddq_f32(sm4, e);
	}
	float bsum = vaddvq_f32(sm4);
	for (; j < lim; j++) {
		s[j] = expf(s[j] - nmx);
		bsum += s[j];
	}
	for (; j < nb4; j++)
		s[j] = 0.0f;
	*sum += bsum;
}

/* Queries [i0, i0 + qn) of head h, qn <= Q_TILE, head_dim % 4 == 0, in key blocks of kb. kt
 * holds the transposed keys of all n_kv when `ready` (one block), else it is scratch for each
 * block's. */
static void attn_tile(const struct fvl_attn_args *a, size_t h, size_t i0, size_t qn, size_t kb,
                      float *kt, bool ready)
{
	const size_t hd = a->head_dim, kvh = h / (a->n_heads / a->n_kv_heads);
	float s[Q_TILE][S_MAX], acc[Q_TILE][FVL_ATTN_MAX_HEAD_DIM];
	float qs[Q_TILE * FVL_ATTN_MAX_HEAD_DIM]; /* q * scale, as tile_scores wants them; rows
	                                            past qn are zeros */
	float mx[Q_TILE], sum[Q_TILE];
	size_t nk[Q_TILE], nk_max = 0;
	for (size_t i = 0; i < Q_TILE; i++) {
		const float *q = a->q + (i0 + i) * a->ldq + h * hd;
		nk[i] = 0;
		for (size_t d = 0; d < hd; d += 4) {
			vst1q_f32(qs + ((d / 8) * Q_TILE + i) * 8 + d % 8,
			          i < qn ? vmulq_n_f32(vld1q_f32(q + d), a->scale)
			                 : vdupq_n_f32(0.0f));
			vst1q_f32(acc[i] + d, vdupq_n_f32(0.0f));
		}
		mx[i] = -INFINITY, sum[i] = 0.0f;
		if (i < qn) {
			nk[i] = fvl_attn_keys(a, i0 + i);
			nk_max = nk[i] > nk_max ? nk[i] : nk_max;
		}
	}
	for (size_t j0 = 0; j0 < nk_max; j0 += kb) {
		const size_t nb = nk_max - j0 < kb ? nk_max - j0 : kb;
		const size_t nb4 = (nb + 3) & ~(size_t)3;
		if (!ready)
			transpose_keys(a, kvh, j0, nb, kt);
		tile_scores(qs, hd, kt, nb4, s);
		/* keys past a query's limit (causal, the tile's padding) weigh 0 */
		for (size_t i = 0; i < qn; i++) {
			const size_t lim = nk[i] > j0 ? (nk[i] - j0 < nb ? nk[i] - j0 : nb) : 0;
			tile_softmax_row(s[i], lim, nb4, &mx[i], &sum[i], acc[i], hd);
		}
		for (size_t i = qn; i < Q_TILE; i++)
			for (size_t j = 0; j < nb4; j++)
				s[i][j] = 0.0f;
		tile_pv(a, kvh, j0, nb, qn, (const float(*)[S_MAX])s, acc);
	}
	for (size_t i = 0; i < qn; i++) {
		float *o = a->o + (i0 + i) * a->ldo + h * hd;
		const float inv = nk[i] ? 1.0f / sum[i] : 0.0f;
		for (size_t d = 0; d < hd; d += 4)
			vst1q_f32(o + d, vmulq_n_f32(vld1q_f32(acc[i] + d), inv));
	}
}

void fvl_attn__neon(const struct fvl_attn_args *a)
{
	if (a->n_q < 4 || a->head_dim % 4) {
		attn_rows(a);
		return;
	}
	const size_t kb = key_block(a->head_dim), group = a->n_heads / a->n_kv_heads;
	const bool once = a->n_kv <= kb; /* all keys one block: transposed once per kv head */
	float kt[KT_FLOATS];
	size_t kvh_ready = SIZE_MAX;
	for (size_t h = a->head0; h < a->head1; h++) {
		if (once && h / group != kvh_ready) {
			kvh_ready = h / group;
			transpose_keys(a, kvh_ready, 0, a->n_kv, kt);
		}
		for (size_t i0 = 0; i0 < a->n_q; i0 += Q_TILE)
			attn_tile(a, h, i0, a->n_q - i0 < Q_TILE ? a->n_q - i0 : Q_TILE, kb, kt,
			          once);
	}
}
