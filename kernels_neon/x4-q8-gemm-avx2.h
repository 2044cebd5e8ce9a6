/* x4-q8-gemm-avx2.h — the x4 x q8 GEMM and GEMV natively on x86-64 with AVX2 + FMA + F16C, for
 * development hosts (q4_0x4-q8-gemm-avx2.c, q8_0x4-q8-gemm-avx2.c), as always-inline functions of
 * the weight type: the NEON kernels reach x86 only through SIMDe, whose by-lane sdot costs many
 * instructions (a GEMV ran at ~5% of memory bandwidth). Same contracts, layouts and results as
 * the NEON variants.
 * one ymm holds two 4-byte chunks of the group's 4 rows (16 bytes each). The
 * activation block is expanded once per pass into 4 ymm whose dword lanes repeat the matching
 * activation chunk for the 4 rows, and serves up to 8 groups (32 weight rows). Q4_0: the nibbles
 * are used unsigned (q in 0..15) with maddubs, and 8 * (sum of the activations) is subtracted per
 * block; Q8_0: the sign of each weight moves onto the activation (maddubs wants one unsigned
 * operand). */
#ifndef FVL_X4_Q8_GEMM_AVX2_H
#define FVL_X4_Q8_GEMM_AVX2_H

#include <immintrin.h>

#include "kernels.h"

#define GROUPS      8 /* weight groups (4 rows each) per pass over an activation row */
#define GROUP_CHUNK 8 /* groups kept in cache while every activation row passes */

struct act {
	__m256i e[4]; /* e[i]: activation dwords 2i (low 128 bits) and 2i + 1 (high), x4 */
	__m256i corr; /* Q4_0: -8 * sum of the activations each int32 lane covers */
	__m256 d;     /* the block's activation scale */
};

static inline void expand(const int8_t *a, float d, bool q4, struct act *x)
{
	const __m256i v = _mm256_loadu_si256((const __m256i *)a);
	for (int i = 0; i < 4; i++)
		x->e[i] = _mm256_permutevar8x32_epi32(
		        v, _mm256_setr_epi32(2 * i, 2 * i, 2 * i, 2 * i, 2 * i + 1, 2 * i + 1,
		                             2 * i + 1, 2 * i + 1));
	x->d = _mm256_set1_ps(d);
	if (q4) {
		/* Lane (half h, row r) of the Q4_0 sum covers chunks h, 2 + h, 4 + h, 6 + h. */
		const __m256i one8 = _mm256_set1_epi8(1);
		__m256i s = _mm256_maddubs_epi16(one8, x->e[0]);
		for (int i = 1; i < 4; i++)
			s = _mm256_add_epi16(s, _mm256_maddubs_epi16(one8, x->e[i]));
		s = _mm256_madd_epi16(s, _mm256_set1_epi16(1));
		x->corr = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s, 3));
	}
}

/* int32 lanes (half h, row r): the 4 rows' partial dot products with the activation block. */
static inline __m256i dot_q4(const struct fvl_block_q4_0x4 *b, const struct act *x)
{
	const __m256i lo = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8((char)0x88);
	const __m256i y0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), flip);
	const __m256i y1 =
	        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b->qs + 32)), flip);
	/* q * a pairs: at most 2 * 15 * 128 per int16, four of them still fit */
	__m256i p = _mm256_maddubs_epi16(_mm256_and_si256(y0, lo), x->e[0]);
	p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(y1, lo), x->e[1]));
	p = _mm256_add_epi16(
	        p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(y0, 4), lo), x->e[2]));
	p = _mm256_add_epi16(
	        p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(y1, 4), lo), x->e[3]));
	return _mm256_add_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)), x->corr);
}

static inline __m256i dot_q8(const struct fvl_block_q8_0x4 *b, const struct act *x)
{
	const __m256i one16 = _mm256_set1_epi16(1);
	__m256i s = _mm256_setzero_si256();
	for (int i = 0; i < 4; i++) {
		const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * i));
		const __m256i p =
		        _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x->e[i], w));
		s = _mm256_add_epi32(s, _mm256_madd_epi16(p, one16));
	}
	return s;
}

/* The 4 rows' scales times the activation scale, in both halves. */
static inline __m256 scales(const uint16_t d[4], const struct act *x)
{
	/* [d0..d3, d0..d3] as halves, widened in one step */
	const __m128i h = _mm_castpd_si128(_mm_loaddup_pd((const double *)(const void *)d));
	return _mm256_mul_ps(_mm256_cvtph_ps(h), x->d);
}

static inline void store4(float *y, __m256 acc, size_t valid)
{
	const __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
	if (valid >= 4) {
		_mm_storeu_ps(y, s);
		return;
	}
	float t[4];
	_mm_storeu_ps(t, s);
	for (size_t r = 0; r < valid; r++)
		y[r] = t[r];
}

#define AVX2_INLINE static inline __attribute__((always_inline))

/* ng (1..GROUPS, a constant at each call) groups against one activation row; q4: Q4_0 blocks. */
AVX2_INLINE void pass(bool q4, size_t nb, const void *g, size_t ng, const int8_t *a,
                      const float *ad, float *y, size_t n_left)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	__m256 acc[GROUPS];
	for (size_t j = 0; j < ng; j++)
		acc[j] = _mm256_setzero_ps();
	for (size_t b = 0; b < nb; b++) {
		struct act x;
		expand(a + b * FVL_QK, ad[b], q4, &x);
		for (size_t j = 0; j < ng; j++) {
			const void *blk = (const uint8_t *)g + (j * nb + b) * bytes;
			const __m256i dot = q4 ? dot_q4(blk, &x) : dot_q8(blk, &x);
			const uint16_t *d = ((const struct fvl_block_q8_0x4 *)blk)
			                            ->d; /* both start with d[4] */
			acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scales(d, &x), acc[j]);
		}
	}
	for (size_t j = 0; j < ng; j++)
		store4(y + 4 * j, acc[j], n_left - 4 * j < 4 ? n_left - 4 * j : 4);
}

AVX2_INLINE void x4_q8_gemm_avx2(bool q4, size_t k, size_t n, const void *w, size_t m,
                                 const int8_t *aq, const float *ad, float *y, size_t ldy)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4;
	for (size_t g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
		const size_t g1 = g0 + GROUP_CHUNK < groups ? g0 + GROUP_CHUNK : groups;
		for (size_t i = 0; i < m; i++)
			for (size_t g = g0; g < g1; g += GROUPS) {
				const void *gb = (const uint8_t *)w + g * nb * bytes;
				const int8_t *a = aq + i * k;
				const float *d = ad + i * nb;
				float *yo = y + i * ldy + 4 * g;
				const size_t left = n - 4 * g;
				switch (g1 - g < GROUPS ? g1 - g
				                        : GROUPS) { /* constant group counts */
				case 1: pass(q4, nb, gb, 1, a, d, yo, left); break;
				case 2: pass(q4, nb, gb, 2, a, d, yo, left); break;
				case 3: pass(q4, nb, gb, 3, a, d, yo, left); break;
				case 4: pass(q4, nb, gb, 4, a, d, yo, left); break;
				case 5: pass(q4, nb, gb, 5, a, d, yo, left); break;
				case 6: pass(q4, nb, gb, 6, a, d, yo, left); break;
				case 7: pass(q4, nb, gb, 7, a, d, yo, left); break;
				default: pass(q4, nb, gb, 8, a, d, yo, left); break;
				}
			}
	}
}

#endif /* FVL_X4_Q8_GEMM_AVX2_H */
