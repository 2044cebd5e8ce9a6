/* x4-q8-gemm-vnni.h — the x4 x q8 GEMM and GEMV on x86-64 with VNNI's vpdpbusd (u8 x s8 -> s32,
 * four products per lane), as always-inline functions of the weight type, for two widths:
 * AVX512-VNNI (zmm; FVL_VNNI_512) and AVX-VNNI (ymm). Same contract, layout and results as the
 * other variants (q4_0x4-q8-gemm-avx512vnni.c, -avxvnni.c and the q8_0 pair include it).
 *
 * A vector holds whole 4-byte chunks of a weight group's 4 rows: lane 4c + r is chunk c of row r
 * (4 chunks per zmm, 2 per ymm), so the lanes of one row share its scale and are only added up
 * when the tile is stored. An activation block is expanded once per tile row into vectors whose
 * lanes repeat the matching activation chunk for the 4 rows, and serves every group of the tile.
 * vpdpbusd wants one unsigned operand:
 *   Q4_0  the nibbles (0..15, the stored value + 8) are the unsigned side; 8 x the activations'
 *         sum is subtracted, computed once per activation block and tile row;
 *   Q8_0  the activations go unsigned as a + 128; 128 x the weights' sum is subtracted,
 *         computed once per weight block and group, for all the tile's rows.
 * Integer dot products are exact; the float sums differ from the twin's order (tested within the
 * twins' tolerance). Tiles: TILE_M activation rows x TILE_G groups (16 rows) of accumulators. */
#ifndef FVL_X4_Q8_GEMM_VNNI_H
#define FVL_X4_Q8_GEMM_VNNI_H

#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define VNNI_INLINE static inline __attribute__((always_inline))

#if defined(FVL_VNNI_512)
typedef __m512i vi;
typedef __m512 vf;
#define NV 2 /* vectors per 32-value block (of a group's 4 rows, or of a repeated activation) */
VNNI_INLINE vi v_load(const void *p)
{
	return _mm512_loadu_si512(p);
}
VNNI_INLINE vi v_zero(void)
{
	return _mm512_setzero_si512();
}
VNNI_INLINE vi v_set8(char c)
{
	return _mm512_set1_epi8(c);
}
VNNI_INLINE vi v_and(vi a, vi b)
{
	return _mm512_and_si512(a, b);
}
VNNI_INLINE vi v_xor(vi a, vi b)
{
	return _mm512_xor_si512(a, b);
}
VNNI_INLINE vi v_srl4(vi a)
{
	return _mm512_srli_epi16(a, 4);
}
VNNI_INLINE vi v_sub32(vi a, vi b)
{
	return _mm512_sub_epi32(a, b);
}
VNNI_INLINE vi v_dot(vi acc, vi u, vi s)
{
	return _mm512_dpbusd_epi32(acc, u, s);
}
/* part p of a 32-byte activation block: lane 4c + r = activation chunk 4p + c */
VNNI_INLINE vi v_expand(const int8_t *a, int p)
{
	const __m512i idx =
	        _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
	                         _mm512_set1_epi32(4 * p));
	return _mm512_permutexvar_epi32(
	        idx, _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)a)));
}
VNNI_INLINE vf f_zero(void)
{
	return _mm512_setzero_ps();
}
VNNI_INLINE vf f_cvt(vi a)
{
	return _mm512_cvtepi32_ps(a);
}
VNNI_INLINE vf f_set1(float x)
{
	return _mm512_set1_ps(x);
}
VNNI_INLINE vf f_mul(vf a, vf b)
{
	return _mm512_mul_ps(a, b);
}
VNNI_INLINE vf f_fma(vf a, vf b, vf c)
{
	return _mm512_fmadd_ps(a, b, c);
}
/* the group's 4 row scales (f16) in every chunk's lanes */
VNNI_INLINE vf f_scales(const uint16_t d[4])
{
	uint64_t q;
	memcpy(&q, d, 8);
	return _mm512_cvtph_ps(_mm256_set1_epi64x((long long)q));
}
/* the 4 rows' sums of their lanes */
VNNI_INLINE __m128 f_rows(vf a)
{
	const __m256 h =
	        _mm256_add_ps(_mm512_castps512_ps256(a),
	                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
#else
typedef __m256i vi;
typedef __m256 vf;
#define NV 4
VNNI_INLINE vi v_load(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}
VNNI_INLINE vi v_zero(void)
{
	return _mm256_setzero_si256();
}
VNNI_INLINE vi v_set8(char c)
{
	return _mm256_set1_epi8(c);
}
VNNI_INLINE vi v_and(vi a, vi b)
{
	return _mm256_and_si256(a, b);
}
VNNI_INLINE vi v_xor(vi a, vi b)
{
	return _mm256_xor_si256(a, b);
}
VNNI_INLINE vi v_srl4(vi a)
{
	return _mm256_srli_epi16(a, 4);
}
VNNI_INLINE vi v_sub32(vi a, vi b)
{
	return _mm256_sub_epi32(a, b);
}
VNNI_INLINE vi v_dot(vi acc, vi u, vi s)
{
	return _mm256_dpbusd_avx_epi32(acc, u, s);
}
/* part p: lane 4c + r = activation chunk 2p + c */
VNNI_INLINE vi v_expand(const int8_t *a, int p)
{
	const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
	                                     _mm256_set1_epi32(2 * p));
	return _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(const void *)a),
	                                   idx);
}
VNNI_INLINE vf f_zero(void)
{
	return _mm256_setzero_ps();
}
VNNI_INLINE vf f_cvt(vi a)
{
	return _mm256_cvtepi32_ps(a);
}
VNNI_INLINE vf f_set1(float x)
{
	return _mm256_set1_ps(x);
}
VNNI_INLINE vf f_mul(vf a, vf b)
{
	return _mm256_mul_ps(a, b);
}
VNNI_INLINE vf f_fma(vf a, vf b, vf c)
{
	return _mm256_fmadd_ps(a, b, c);
}
VNNI_INLINE vf f_scales(const uint16_t d[4])
{
	uint64_t q;
	memcpy(&q, d, 8);
	return _mm256_cvtph_ps(_mm_set1_epi64x((long long)q));
}
VNNI_INLINE __m128 f_rows(vf a)
{
	return _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
}
#endif

#define TILE_M      4  /* activation rows per tile */
#define TILE_G      4  /* weight groups (4 rows each) per tile */
#define GROUP_CHUNK 16 /* groups kept in cache while every activation row passes */

/* The weight block's NV vectors as the unsigned (Q4_0: nibbles) or signed (Q8_0) operand. */
VNNI_INLINE void weights(bool q4, const void *blk, vi w[NV])
{
	if (q4) {
		const struct fvl_block_q4_0x4 *b = blk;
		const vi lo = v_set8(0x0f), flip = v_set8((char)0x88);
		for (int h = 0; h < NV / 2; h++) {
			const vi y = v_xor(v_load(b->qs + 32 * h), flip);
			w[h] = v_and(y, lo);                  /* values 4c .. 4c + 3 */
			w[h + NV / 2] = v_and(v_srl4(y), lo); /* values 16 + 4c .. */
		}
	} else {
		const struct fvl_block_q8_0x4 *b = blk;
		for (int p = 0; p < NV; p++)
			w[p] = v_load(b->qs + 32 * 4 / NV * p);
	}
}

/* One tile: mt (1..TILE_M) activation rows x gt (1..TILE_G) groups, both constants at each call,
 * over all nb blocks; y rows ldy apart, n_left columns valid from the tile's first. */
VNNI_INLINE void tile(bool q4, size_t nb, const uint8_t *g, size_t gstride, size_t mt, size_t gt,
                      const int8_t *a, size_t lda, const float *ad, size_t ldd, float *y,
                      size_t ldy, size_t n_left)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	vf acc[TILE_M][TILE_G];
	for (size_t i = 0; i < mt; i++)
		for (size_t j = 0; j < gt; j++)
			acc[i][j] = f_zero();
	for (size_t b = 0; b < nb; b++) {
		vi x[TILE_M][NV], base[TILE_M]; /* expanded activations; Q4_0: -8 x their sums */
		for (size_t i = 0; i < mt; i++) {
			const int8_t *ab = a + i * lda + b * FVL_QK;
			for (int p = 0; p < NV; p++)
				x[i][p] = v_expand(ab, p);
			if (q4) {
				vi s = v_zero();
				for (int p = 0; p < NV; p++)
					s = v_dot(s, v_set8(8), x[i][p]);
				base[i] = v_sub32(v_zero(), s);
			} else {
				for (int p = 0; p < NV; p++)
					x[i][p] = v_xor(x[i][p], v_set8((char)0x80)); /* a + 128 */
			}
		}
		for (size_t j = 0; j < gt; j++) {
			const void *blk = g + j * gstride + b * bytes;
			vi w[NV];
			weights(q4, blk, w);
			vi wbase = v_zero(); /* Q8_0: -128 x the weights' sums */
			if (!q4) {
				vi s = v_zero();
				for (int p = 0; p < NV; p++)
					s = v_dot(s, v_set8((char)0x80), w[p]);
				wbase = v_sub32(v_zero(), s);
			}
			const vf sw = f_scales(((const struct fvl_block_q8_0x4 *)blk)->d);
			for (size_t i = 0; i < mt; i++) {
				vi dot = q4 ? base[i] : wbase;
				for (int p = 0; p < NV; p++)
					dot = q4 ? v_dot(dot, w[p], x[i][p])
					         : v_dot(dot, x[i][p], w[p]);
				acc[i][j] = f_fma(f_cvt(dot), f_mul(sw, f_set1(ad[i * ldd + b])),
				                  acc[i][j]);
			}
		}
	}
	for (size_t i = 0; i < mt; i++)
		for (size_t j = 0; j < gt; j++) {
			const __m128 s = f_rows(acc[i][j]);
			float *yo = y + i * ldy + 4 * j;
			const size_t valid = n_left - 4 * j < 4 ? n_left - 4 * j : 4;
			if (valid == 4) {
				_mm_storeu_ps(yo, s);
			} else {
				float t[4];
				_mm_storeu_ps(t, s);
				for (size_t r = 0; r < valid; r++)
					yo[r] = t[r];
			}
		}
}

/* The tile for (mt, gt) known only at run time: constant shapes for the compiler. */
VNNI_INLINE void tile_any(bool q4, size_t nb, const uint8_t *g, size_t gstride, size_t mt,
                          size_t gt, const int8_t *a, size_t lda, const float *ad, size_t ldd,
                          float *y, size_t ldy, size_t n_left)
{
#define TILE(M, G) tile(q4, nb, g, gstride, M, G, a, lda, ad, ldd, y, ldy, n_left)
#define TILES(M)                                                                                   \
	switch (gt) {                                                                              \
	case 1: TILE(M, 1); break;                                                                 \
	case 2: TILE(M, 2); break;                                                                 \
	case 3: TILE(M, 3); break;                                                                 \
	default: TILE(M, 4); break;                                                                \
	}
	switch (mt) {
	case 1: TILES(1); break;
	case 2: TILES(2); break;
	case 3: TILES(3); break;
	default: TILES(4); break;
	}
#undef TILES
#undef TILE
}

VNNI_INLINE void x4_q8_gemm_vnni(bool q4, size_t k, size_t n, const void *w, size_t m,
                                 const int8_t *aq, const float *ad, float *y, size_t ldy)
{
	const size_t bytes = q4 ? sizeof(struct fvl_block_q4_0x4) : sizeof(struct fvl_block_q8_0x4);
	const size_t nb = k / FVL_QK, groups = (n + 3) / 4, gstride = nb * bytes;
	for (size_t g0 = 0; g0 < groups; g0 += GROUP_CHUNK) {
		const size_t g1 = g0 + GROUP_CHUNK < groups ? g0 + GROUP_CHUNK : groups;
		for (size_t i = 0; i < m; i += TILE_M) {
			const size_t mt = m - i < TILE_M ? m - i : TILE_M;
			for (size_t g = g0; g < g1; g += TILE_G) {
				const size_t gt = g1 - g < TILE_G ? g1 - g : TILE_G;
				tile_any(q4, nb, (const uint8_t *)w + g * gstride, gstride, mt, gt,
				         aq + i * k, k, ad + i * nb, nb, y + i * ldy + 4 * g, ldy,
				         n - 4 * g);
			}
		}
	}
}

#endif /* FVL_X4_Q8_GEMM_VNNI_H */
