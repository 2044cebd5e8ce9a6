/* attn-avx2.c — attention natively on x86-64 hosts (AVX2 + FMA + F16C): attn-neon.c's tiles of 8
 * queries over blocks of 64 keys with an online softmax, 8 lanes wide. Each key block is
 * transposed once by 8 x 8 register transposes (keys across the lanes, f16 widened by vcvtph2ps),
 * so every transposed key row loaded serves the tile's 8 queries; value rows likewise. Through
 * SIMDe the NEON tiles spent a quarter of a 577-token prefill here (lane FMAs and extracts become
 * several x86 instructions each). Decode (fewer than 4 queries) goes one query at a time, the dot
 * products of 8 keys reduced together by one transpose (through SIMDe, attention took 40% of a
 * 3B decode step at 577 tokens of context). Head sizes that are not a multiple of 8 take the NEON
 * code. Built only for x86-64. */
#include <immintrin.h>
#include <math.h>

#include "kernels.h"

#define KEY_BLOCK 64
#define Q_TILE    8

static inline __m256 ld8(const void *p, bool f16, size_t i)
{
	return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)))
	           : _mm256_loadu_ps((const float *)p + i);
}

/* neon-math.h's exp, 8 lanes: range reduction by ln2 in two parts, a degree-6 polynomial, 2^n
 * applied in two halves so it stays finite. */
static inline __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
	const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
	r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 720.0f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	const __m256i ni = _mm256_cvtps_epi32(n);
	const __m256i h = _mm256_srai_epi32(ni, 1);
	const __m256 s1 = _mm256_castsi256_ps(
	        _mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
	const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(
	        _mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
	return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* r[t] becomes column t of the 8 x 8 block whose rows were r[0..7]. */
static inline void transpose8(__m256 r[8])
{
	__m256 t[8], s[8];
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 2; i++) {
		s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
		s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
		s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
		s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
	}
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
		r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
	}
}

/* Queries [i0, i0 + qn) of head h, qn <= Q_TILE, head_dim % 8 == 0. */
static void attn_tile(const struct fvl_attn_args *a, size_t h, size_t i0, size_t qn)
{
	const size_t hd = a->head_dim, kvh = h / (a->n_heads / a->n_kv_heads);
	float kt[FVL_ATTN_MAX_HEAD_DIM * KEY_BLOCK] __attribute__((aligned(32)));
	float s[Q_TILE][KEY_BLOCK] __attribute__((aligned(32)));
	float acc[Q_TILE][FVL_ATTN_MAX_HEAD_DIM] __attribute__((aligned(32)));
	float qs[Q_TILE][FVL_ATTN_MAX_HEAD_DIM]; /* q * scale; rows past qn are zeros */
	float mx[Q_TILE], sum[Q_TILE];
	size_t nk[Q_TILE], nk_max = 0;
	for (size_t i = 0; i < Q_TILE; i++) {
		const float *q = a->q + (i0 + i) * a->ldq + h * hd;
		for (size_t d = 0; d < hd; d++) {
			qs[i][d] = i < qn ? q[d] * a->scale : 0.0f;
			acc[i][d] = 0.0f;
		}
		mx[i] = -INFINITY, sum[i] = 0.0f, nk[i] = 0;
		if (i < qn) {
			nk[i] = fvl_attn_keys(a, i0 + i);
			nk_max = nk[i] > nk_max ? nk[i] : nk_max;
		}
	}
	for (size_t j0 = 0; j0 < nk_max; j0 += KEY_BLOCK) {
		const size_t nb = nk_max - j0 < KEY_BLOCK ? nk_max - j0 : KEY_BLOCK;
		const size_t nb8 = (nb + 7) & ~(size_t)7;
		for (size_t jb = 0; jb < nb8; jb += 8) /* transpose (and widen) the block's keys */
			for (size_t d = 0; d < hd; d += 8) {
				__m256 r[8];
				for (size_t l = 0; l < 8; l++)
					r[l] = jb + l < nb
					               ? ld8(a->k, a->kv_f16,
					                     (j0 + jb + l) * a->ldk + kvh * hd + d)
					               : _mm256_setzero_ps();
				transpose8(r);
				for (size_t t = 0; t < 8; t++)
					_mm256_store_ps(kt + (d + t) * KEY_BLOCK + jb, r[t]);
			}
		for (size_t jb = 0; jb < nb8; jb += 8) { /* scores, 8 keys per vector */
			__m256 sc[Q_TILE];
			for (size_t i = 0; i < Q_TILE; i++)
				sc[i] = _mm256_setzero_ps();
			for (size_t d = 0; d < hd; d++) {
				const __m256 k8 = _mm256_load_ps(kt + d * KEY_BLOCK + jb);
				for (size_t i = 0; i < Q_TILE; i++)
					sc[i] = _mm256_fmadd_ps(k8, _mm256_broadcast_ss(&qs[i][d]),
					                        sc[i]);
			}
			for (size_t i = 0; i < Q_TILE; i++)
				_mm256_store_ps(s[i] + jb, sc[i]);
		}
		/* online softmax per query; keys past its limit (causal, padding) weigh 0 */
		for (size_t i = 0; i < qn; i++) {
			const size_t lim = nk[i] > j0 ? (nk[i] - j0 < nb ? nk[i] - j0 : nb) : 0;
			float bmx = -INFINITY;
			for (size_t j = 0; j < lim; j++)
				bmx = s[i][j] > bmx ? s[i][j] : bmx;
			const float nmx = bmx > mx[i] ? bmx : mx[i];
			const float corr = mx[i] == nmx ? 1.0f : expf(mx[i] - nmx);
			mx[i] = nmx;
			sum[i] *= corr;
			if (corr != 1.0f)
				for (size_t d = 0; d < hd; d++)
					acc[i][d] *= corr;
			size_t j = 0;
			for (; j + 8 <= lim; j += 8)
				_mm256_store_ps(s[i] + j,
				                exp8(_mm256_sub_ps(_mm256_load_ps(s[i] + j),
				                                   _mm256_set1_ps(nmx))));
			for (; j < lim; j++)
				s[i][j] = expf(s[i][j] - nmx);
			for (; j < nb8; j++)
				s[i][j] = 0.0f;
			for (j = 0; j < lim; j++)
				sum[i] += s[i][j];
		}
		for (size_t i = qn; i < Q_TILE; i++)
			for (size_t j = 0; j < nb8; j++)
				s[i][j] = 0.0f;
		for (size_t d = 0; d < hd; d += 8) { /* acc_i += sum_j p_ij v_j */
			__m256 ac[Q_TILE];
			for (size_t i = 0; i < Q_TILE; i++)
				ac[i] = _mm256_load_ps(acc[i] + d);
			for (size_t j = 0; j < nb; j++) {
				const __m256 v =
				        ld8(a->v, a->kv_f16, (j0 + j) * a->ldv + kvh * hd + d);
				for (size_t i = 0; i < Q_TILE; i++)
					ac[i] = _mm256_fmadd_ps(v, _mm256_broadcast_ss(&s[i][j]),
					                        ac[i]);
			}
			for (size_t i = 0; i < Q_TILE; i++)
				_mm256_store_ps(acc[i] + d, ac[i]);
		}
	}
	for (size_t i = 0; i < qn; i++) {
		float *o = a->o + (i0 + i) * a->ldo + h * hd;
		const float inv = nk[i] ? 1.0f / sum[i] : 0.0f;
		for (size_t d = 0; d < hd; d++)
			o[d] = acc[i][d] * inv;
	}
}

/* Lane t: the sum of r[t]'s lanes (r is destroyed). */
static inline __m256 hsum8x8(__m256 r[8])
{
	transpose8(r);
	return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r[0], r[1]), _mm256_add_ps(r[2], r[3])),
	                     _mm256_add_ps(_mm256_add_ps(r[4], r[5]), _mm256_add_ps(r[6], r[7])));
}

/* Few queries (decode): each query over blocks of KEY_BLOCK keys with an online softmax; the
 * scores of 8 keys at a time, head_dim % 8 == 0. */
static void attn_rows(const struct fvl_attn_args *a)
{
	const size_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads, nv = hd / 8;
	float s[KEY_BLOCK];
	__m256 qv[FVL_ATTN_MAX_HEAD_DIM / 8], acc[FVL_ATTN_MAX_HEAD_DIM / 8];
	for (size_t h = a->head0; h < a->head1; h++) {
		const size_t kvh = h / group;
		for (size_t i = 0; i < a->n_q; i++) {
			const float *q = a->q + i * a->ldq + h * hd;
			const size_t nk = fvl_attn_keys(a, i);
			for (size_t d = 0; d < nv; d++) {
				qv[d] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * d),
				                      _mm256_set1_ps(a->scale));
				acc[d] = _mm256_setzero_ps();
			}
			float mx = -INFINITY, sum = 0.0f;
			for (size_t j0 = 0; j0 < nk; j0 += KEY_BLOCK) {
				const size_t nb = nk - j0 < KEY_BLOCK ? nk - j0 : KEY_BLOCK;
				__m256 bmx = _mm256_set1_ps(-INFINITY);
				for (size_t j = 0; j < nb; j += 8) {
					__m256 dots[8];
					for (size_t t = 0; t < 8; t++) {
						dots[t] = _mm256_setzero_ps();
						if (j + t >= nb)
							continue;
						const size_t kb = (j0 + j + t) * a->ldk + kvh * hd;
						for (size_t d = 0; d < nv; d++)
							dots[t] = _mm256_fmadd_ps(
							        qv[d],
							        ld8(a->k, a->kv_f16, kb + 8 * d),
							        dots[t]);
					}
					__m256 sc = hsum8x8(dots);
					if (nb - j < 8) { /* keys past the block: out of the max */
						const __m256i lane =
						        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
						const __m256 live =
						        _mm256_castsi256_ps(_mm256_cmpgt_epi32(
						                _mm256_set1_epi32((int)(nb - j)),
						                lane));
						sc = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), sc,
						                      live);
					}
					bmx = _mm256_max_ps(bmx, sc);
					_mm256_storeu_ps(s + j, sc);
				}
				__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(bmx),
				                       _mm256_extractf128_ps(bmx, 1));
				m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
				m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
				const float nmx = fmaxf(mx, _mm_cvtss_f32(m4));
				const float corr = expf(mx - nmx); /* 0 on the first block */
				mx = nmx;
				sum *= corr;
				for (size_t d = 0; d < nv; d++)
					acc[d] = _mm256_mul_ps(acc[d], _mm256_set1_ps(corr));
				for (size_t j = 0; j < nb; j += 8)
					_mm256_storeu_ps(s + j,
					                 exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j),
					                                    _mm256_set1_ps(mx))));
				for (size_t j = 0; j < nb; j++) {
					const size_t vb = (j0 + j) * a->ldv + kvh * hd;
					const __m256 pj = _mm256_set1_ps(s[j]);
					sum += s[j];
					for (size_t d = 0; d < nv; d++)
						acc[d] = _mm256_fmadd_ps(
						        pj, ld8(a->v, a->kv_f16, vb + 8 * d),
						        acc[d]);
				}
			}
			float *o = a->o + i * a->ldo + h * hd;
			const __m256 inv = _mm256_set1_ps(nk ? 1.0f / sum : 0.0f);
			for (size_t d = 0; d < nv; d++)
				_mm256_storeu_ps(o + 8 * d, _mm256_mul_ps(acc[d], inv));
		}
	}
}

void fvl_attn__avx2(const struct fvl_attn_args *a)
{
	if (a->head_dim % 8) {
		fvl_attn__neon(a);
		return;
	}
	if (a->n_q < 4) {
		attn_rows(a);
		return;
	}
	for (size_t h = a->head0; h < a->head1; h++)
		for (size_t i0 = 0; i0 < a->n_q; i0 += Q_TILE)
			attn_tile(a, h, i0, a->n_q - i0 < Q_TILE ? a->n_q - i0 : Q_TILE);
}
