/* gemm-avx2.c — Q4_0 / Q8_0 (x4-packed) x q8 GEMM and GEMV, and the f16-weight GEMM, natively on
 * x86-64 with AVX2 + FMA + F16C, for development hosts: the NEON kernels reach x86 only through
 * SIMDe, whose by-lane sdot and fp16 loads cost many instructions (a GEMV ran at ~5% of memory
 * bandwidth). Same contracts, layouts and results as the NEON variants; built only for x86-64.
 *
 * Quantized: one ymm holds two 4-byte chunks of the group's 4 rows (16 bytes each). The
 * activation block is expanded once per pass into 4 ymm whose dword lanes repeat the matching
 * activation chunk for the 4 rows, and serves up to 8 groups (32 weight rows). Q4_0: the nibbles
 * are used unsigned (q in 0..15) with maddubs, and 8 * (sum of the activations) is subtracted per
 * block; Q8_0: the sign of each weight moves onto the activation (maddubs wants one unsigned
 * operand). */
#include <immintrin.h>

#include "fp16.h"
#include "kernels.h"

#define GROUPS 8      /* weight groups (4 rows each) per pass over an activation row */
#define GROUP_CHUNK 8 /* groups kept in cache while every activation row passes */

struct act {
	__m256i e[4];  /* e[i]: activation dwords 2i (low 128 bits) and 2i + 1 (high), x4 */
	__m256i corr;  /* Q4_0: -8 * sum of the activations each int32 lane covers */
	__m256 d;      /* the block's activation scale */
};

static inline void expand(const int8_t *a, float d, bool q4, struct act *x)
{
	const __m256i v = _mm256_loadu_si256((const __m256i *)a);
	for (int i = 0; i < 4; i++)
		x->e[i] = _mm256_permutevar8x32_epi32(
			v, _mm256_setr_epi32(2 * i, 2 * i, 2 * i, 2 * i, 2 * i + 1, 2 * i + 1, 2 * i + 1,
			                     2 * i + 1));
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
	const __m256i y1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b->qs + 32)), flip);
	/* q * a pairs: at most 2 * 15 * 128 per int16, four of them still fit */
	__m256i p = _mm256_maddubs_epi16(_mm256_and_si256(y0, lo), x->e[0]);
	p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(y1, lo), x->e[1]));
	p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(y0, 4), lo), x->e[2]));
	p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(y1, 4), lo), x->e[3]));
	return _mm256_add_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)), x->corr);
}

static inline __m256i dot_q8(const struct fvl_block_q8_0x4 *b, const struct act *x)
{
	const __m256i one16 = _mm256_set1_epi16(1);
	__m256i s = _mm256_setzero_si256();
	for (int i = 0; i < 4; i++) {
		const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * i));
		const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x->e[i], w));
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

/* ng (1..GROUPS, a constant after inlining) groups against one activation row. */
#define PASS(name, BLOCK_T, DOT, Q4)                                                               \
	static inline __attribute__((always_inline)) void                                          \
	name(size_t nb, const BLOCK_T *g, size_t ng, const int8_t *a, const float *ad, float *y,  \
	     size_t n_left)                                                                        \
	{                                                                                          \
		__m256 acc[GROUPS];                                                                \
		for (size_t j = 0; j < ng; j++)                                                    \
			acc[j] = _mm256_setzero_ps();                                              \
		for (size_t b = 0; b < nb; b++) {                                                  \
			struct act x;                                                              \
			expand(a + b * FVL_QK, ad[b], Q4, &x);                                     \
			for (size_t j = 0; j < ng; j++) {                                          \
				const BLOCK_T *blk = g + j * nb + b;                               \
				acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(blk, &x)),         \
				                         scales(blk->d, &x), acc[j]);              \
			}                                                                          \
		}                                                                                  \
		for (size_t j = 0; j < ng; j++)                                                    \
			store4(y + 4 * j, acc[j], n_left - 4 * j < 4 ? n_left - 4 * j : 4);        \
	}

#define KERNEL(name, BLOCK_T, DOT, Q4)                                                             \
	PASS(name##_pass, BLOCK_T, DOT, Q4)                                                        \
	void name(size_t k, size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,  \
	          float *y, size_t ldy)                                                             \
	{                                                                                          \
		const BLOCK_T *wb = w;                                                             \
		const size_t nb = k / FVL_QK, groups = (n + 3) / 4;                                \
		for (size_t g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {                              \
			const size_t g1 = g0 + GROUP_CHUNK < groups ? g0 + GROUP_CHUNK : groups;   \
			for (size_t i = 0; i < m; i++)                                             \
				for (size_t g = g0; g < g1; g += GROUPS) {                         \
					const BLOCK_T *gb = wb + g * nb;                           \
					const int8_t *a = aq + i * k;                              \
					const float *d = ad + i * nb;                              \
					float *yo = y + i * ldy + 4 * g;                           \
					const size_t left = n - 4 * g;                             \
					switch (g1 - g < GROUPS ? g1 - g : GROUPS) {               \
					case 1: name##_pass(nb, gb, 1, a, d, yo, left); break;     \
					case 2: name##_pass(nb, gb, 2, a, d, yo, left); break;     \
					case 3: name##_pass(nb, gb, 3, a, d, yo, left); break;     \
					case 4: name##_pass(nb, gb, 4, a, d, yo, left); break;     \
					case 5: name##_pass(nb, gb, 5, a, d, yo, left); break;     \
					case 6: name##_pass(nb, gb, 6, a, d, yo, left); break;     \
					case 7: name##_pass(nb, gb, 7, a, d, yo, left); break;     \
					default: name##_pass(nb, gb, 8, a, d, yo, left); break;    \
					}                                                          \
				}                                                                  \
		}                                                                                  \
	}

KERNEL(fvl_q4_0x4_q8_gemm__avx2, struct fvl_block_q4_0x4, dot_q4, true)
KERNEL(fvl_q8_0x4_q8_gemm__avx2, struct fvl_block_q8_0x4, dot_q8, false)

/* ---- f16-weight GEMM: rows widened by vcvtph2ps, f32 FMA ------------------------------------ */

/* mr (1..4, constant after inlining) input rows x nr (<= 4) weight rows; 16 accumulators over k in
 * steps of 8, reduced at the end (same shape as the NEON tile). */
static inline __attribute__((always_inline)) void
f16_tile(size_t k, size_t nr, const uint16_t *w, const float *bias, size_t mr, const float *x,
         size_t ldx, float *y, size_t ldy)
{
	__m256 acc[4][4];
	const uint16_t *wr[4];
	for (size_t r = 0; r < 4; r++)
		wr[r] = w + (r < nr ? r : 0) * k;
	for (size_t i = 0; i < mr; i++)
		for (size_t r = 0; r < 4; r++)
			acc[i][r] = _mm256_setzero_ps();
	size_t e = 0;
	for (; e + 8 <= k; e += 8) {
		__m256 wv[4];
		for (size_t r = 0; r < 4; r++)
			wv[r] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr[r] + e)));
		for (size_t i = 0; i < mr; i++) {
			const __m256 xv = _mm256_loadu_ps(x + i * ldx + e);
			for (size_t r = 0; r < 4; r++)
				acc[i][r] = _mm256_fmadd_ps(wv[r], xv, acc[i][r]);
		}
	}
	for (size_t i = 0; i < mr; i++) {
		/* hadd pairs within 128-bit halves, then add the halves: lanes r0..r3 */
		const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[i][0], acc[i][1]),
		                                _mm256_hadd_ps(acc[i][2], acc[i][3]));
		float t[4];
		_mm_storeu_ps(t, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
		for (size_t r = 0; r < nr; r++) {
			float v = t[r];
			for (size_t f = e; f < k; f++)
				v += fvl_fp16_to_fp32(wr[r][f]) * x[i * ldx + f];
			y[i * ldy + r] = v + (bias ? bias[r] : 0.0f);
		}
	}
}

void fvl_f16_gemm__avx2(size_t k, size_t n, const void *w, const float *bias, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy)
{
	const uint16_t *wh = w;
	for (size_t j0 = 0; j0 < n; j0 += 32) { /* 32 weight rows stay in cache for all of x */
		const size_t j1 = j0 + 32 < n ? j0 + 32 : n;
		for (size_t i = 0; i < m; i += 4)
			for (size_t j = j0; j < j1; j += 4) {
				const size_t nr = j1 - j < 4 ? j1 - j : 4, mr = m - i < 4 ? m - i : 4;
				const float *bj = bias ? bias + j : NULL;
				const float *xi = x + i * ldx;
				float *yo = y + i * ldy + j;
				if (mr == 1)
					f16_tile(k, nr, wh + j * k, bj, 1, xi, ldx, yo, ldy);
				else if (mr == 2)
					f16_tile(k, nr, wh + j * k, bj, 2, xi, ldx, yo, ldy);
				else if (mr == 3)
					f16_tile(k, nr, wh + j * k, bj, 3, xi, ldx, yo, ldy);
				else
					f16_tile(k, nr, wh + j * k, bj, 4, xi, ldx, yo, ldy);
			}
	}
}
