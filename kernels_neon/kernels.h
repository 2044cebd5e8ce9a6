/* kernels.h — the kernel layer: every compute kernel's contract, the CPU feature probe, and the
 * table that picks one variant per contract from those features (or from an override, for tests).
 *
 * A leaf: nothing here includes a header from outside kernels_neon/ (the Makefile builds this
 * folder with its own include path only); the runtime maps its tensor types and statuses onto the
 * small enums below.
 *
 * Names say the contract. A matrix product is <weights>_<activations>_<op>: q4_0x4_q8_gemm
 * multiplies x4-packed Q4_0 weights with q8-quantized activations, f16p16_f16_gemm f16 weights
 * in 16-column panels with f16 activations. Variant v of contract c is the function
 * fvl_<c>__<v>, defined in the file <c>-<v>.c (with '-' for '_'; scalar twins in ref/):
 * fvl_q4_0x4_q8_gemm__neondot lives in q4_0x4-q8-gemm-neondot.c. Variants: scalar (the
 * reference twins), neon (armv8-a: Cortex-A72, Pi 4), neondot (+sdot: A76/A78AE, Pi 5, Orin),
 * neoni8mm (+smmla), neonfp16 (+fp16 arithmetic), avx2 (x86-64 development hosts). */
#ifndef FVL_KERNELS_H
#define FVL_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"

struct fvl_cpu {
	const char *arch; /* "aarch64", or the host's name when NEON comes through SIMDe */
	bool simde;       /* NEON code runs translated (x86 host tests) */
	bool asimd, fp16, dotprod, i8mm;
	bool avx2;       /* x86-64 hosts: AVX2 + FMA + F16C, for the native quantized GEMM */
	bool avxvnni;    /* + AVX-VNNI (VEX vpdpbusd on ymm) */
	bool avx512vnni; /* + AVX512 F, BW, VL and VNNI, with the OS saving the zmm state */
};

/* Instruction-set levels a kernel table is filled for, in order of preference. */
enum fvl_isa {
	FVL_ISA_SCALAR = 0, /* the reference twins */
	FVL_ISA_BASELINE,   /* armv8-a NEON (Cortex-A72, Pi 4) */
	FVL_ISA_DOTPROD,    /* + sdot (Cortex-A76/A78AE: Pi 5, Orin) */
	FVL_ISA_I8MM,       /* + smmla (Armv8.6 cores) */
	FVL_ISA_AVX2,       /* x86-64 development hosts: dotprod's table (through SIMDe) with native
	                     * AVX2 quantized and f16 GEMMs */
	FVL_ISA_AVXVNNI,    /* avx2's, with the quantized GEMMs on AVX-VNNI */
	FVL_ISA_AVX512VNNI, /* avx2's, with the quantized GEMMs on AVX512-VNNI */
	FVL_ISA_N
};

/* What fvl_kernels_init can say. */
enum fvl_kernels_status {
	FVL_KERNELS_OK = 0,
	FVL_KERNELS_UNKNOWN_ISA,     /* the name is none of fvl_isa_name's */
	FVL_KERNELS_ISA_UNSUPPORTED, /* this CPU, or this build, cannot run that level */
};

/* Weight types the packing functions take (the runtime maps its tensor types onto these). */
enum fvl_wtype {
	FVL_WTYPE_F32 = 0,
	FVL_WTYPE_F16,
	FVL_WTYPE_Q8_0,
	FVL_WTYPE_Q4_0,
};

void fvl_cpu_detect(struct fvl_cpu *cpu);
const char *fvl_isa_name(enum fvl_isa isa);
bool fvl_isa_from_name(const char *name, enum fvl_isa *out);
/* The CPU can run the level and this build contains it. */
bool fvl_isa_supported(const struct fvl_cpu *cpu, enum fvl_isa isa);
enum fvl_isa fvl_isa_best(const struct fvl_cpu *cpu);
/* Whether f16 weights are kept in 16-column panels on this CPU (aarch64: every level's f16
 * kernels read them), not row-major (x86-64 hosts). */
bool fvl_f16p16_preferred(const struct fvl_cpu *cpu);

/* ---- ggml's block formats (the model file's) ---------------------------------------------
 * Quantize n floats (n % 32 == 0) into n/32 blocks, bit-exact with ggml's reference rounding
 * (quant.c: the converter's, and the tests'). */
void fvl_quantize_row_q8_0(const float *x, struct fvl_block_q8_0 *y, size_t n);
void fvl_quantize_row_q4_0(const float *x, struct fvl_block_q4_0 *y, size_t n);
void fvl_dequantize_row_q8_0(const struct fvl_block_q8_0 *x, float *y, size_t n);
void fvl_dequantize_row_q4_0(const struct fvl_block_q4_0 *x, float *y, size_t n);

/* ---- packed weights (pack-x4.c, pack-f16p16.c: done once, at load) ------------------------
 * The "x4" layout every quantized GEMM variant reads: rows in groups of 4 (the last group padded
 * with zero rows); per group, per block of 32: the 4 rows' fp16 scales, then their quants
 * interleaved in 4-byte chunks (chunk c of rows 0..3, then chunk c+1, ...). Q4_0 nibbles are
 * stored xor 8, so `<< 4` (low) or `& 0xf0` (high) yields (q - 8) * 16 as int8. */
struct fvl_block_q4_0x4 {
	uint16_t d[4];
	uint8_t qs
	        [64]; /* chunk c (0..3), row r: bytes 16c + 4r .. +3 = src qs[4c .. 4c+3] ^ 0x88 */
};
static_assert(sizeof(struct fvl_block_q4_0x4) == 72, "4 x block_q4_0");
struct fvl_block_q8_0x4 {
	uint16_t d[4];
	int8_t qs[128]; /* chunk c (0..7), row r: bytes 16c + 4r .. +3 = src qs[4c .. 4c+3] */
};
static_assert(sizeof(struct fvl_block_q8_0x4) == 136, "4 x block_q8_0");

/* Bytes of the x4 form of n rows of k (Q4_0 and Q8_0; 0 for other types). */
size_t fvl_pack_x4_size(enum fvl_wtype type, size_t n, size_t k);
/* src: n rows of k/32 blocks (the model file's layout). */
void fvl_pack_q4_0x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                     struct fvl_block_q4_0x4 *dst);
void fvl_pack_q8_0x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                     struct fvl_block_q8_0x4 *dst);

/* The f16p16 layout: f16 weights in panels of 16 columns (output rows), k-major, so a tile of
 * 16 columns is an outer product. Panel p holds columns 16p..16p+15 (zeros past n): element
 * (j, e) at (j / 16) * 16 k + e * 16 + j % 16. Size in halves: ceil(n / 16) * 16 * k. */
#define FVL_F16P16_COLS 16
size_t fvl_pack_f16p16_size(size_t n, size_t k);
void fvl_pack_f16p16(const uint16_t *w, size_t n, size_t k, uint16_t *dst);

/* ---- activation quantization ---------------------------------------------------------------
 * f32_q8_quant: m rows of k floats (k % 32 == 0, row stride ldx) -> int8 q (row stride k) and one
 * f32 scale per 32 values d (row stride k/32): d = max|x|/127, q = round-half-even(x * (1/d)). */
typedef void (*fvl_f32_q8_quant_fn)(size_t m, size_t k, const float *x, size_t ldx, int8_t *q,
                                    float *d);
void fvl_f32_q8_quant__scalar(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d);
void fvl_f32_q8_quant__neon(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d);

/* f32_f16_quant: m rows of k floats (stride ldx) -> f16 rows xh (stride FVL_F16_ROW_STRIDE(k),
 * zero padded) scaled by a power of two per row so max |x| lands in [2, 4) (products and 32-term
 * f16 sums then stay far below the f16 limit); xs[i] is that row's inverse scale. */
#define FVL_F16_ROW_STRIDE(k) (((k) + 7) & ~(size_t)7)
/* The exponent e with amax / 2^e in [2, 4); 0 for 0, nan and inf; clamped so 2^-e is a normal. */
static inline int fvl_f16_row_exponent(float amax)
{
	if (!(amax > 0.0f) || amax > 3.0e38f)
		return 0;
	int e;
	frexpf(amax, &e); /* amax = f 2^e, f in [0.5, 1) */
	e -= 2;
	return e < -100 ? -100 : e > 120 ? 120 : e;
}
typedef void (*fvl_f32_f16_quant_fn)(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                                     float *xs);
void fvl_f32_f16_quant__scalar(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                               float *xs);
void fvl_f32_f16_quant__neonfp16(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                                 float *xs);

/* ---- quantized GEMM / GEMV -------------------------------------------------------------------
 * y[i * ldy + j] = sum_k W[j][k] * A[i][k] for act rows i < m and weight rows j < n, with W
 * x4-packed (starting at a group boundary) and A quantized by f32_q8_quant (aq: m x k, ad:
 * m x k/32). m == 1 is the decode GEMV. */
typedef void (*fvl_x4_q8_gemm_fn)(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                  const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__scalar(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__neon(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__neondot(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__neoni8mm(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                  const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__avx2(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__scalar(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__neon(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__neondot(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__neoni8mm(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                  const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__avx2(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                              const float *ad, float *y, size_t ldy);
/* x86-64 with vpdpbusd: AVX-VNNI (ymm) and AVX512-VNNI (zmm), x4-q8-gemm-vnni.h */
void fvl_q4_0x4_q8_gemm__avxvnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__avxvnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                 const float *ad, float *y, size_t ldy);
void fvl_q4_0x4_q8_gemm__avx512vnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                    const float *ad, float *y, size_t ldy);
void fvl_q8_0x4_q8_gemm__avx512vnni(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                                    const float *ad, float *y, size_t ldy);

/* ---- GEMM on f32 activations: y[i*ldy + j] = sum_k W[j][k] * x[i][k] (+ bias[j]) ------------
 * f32_f32_gemm and f16_f32_gemm: W rows f32 or f16 (row-major); f16p16_f32_gemm: f16 weights in
 * the f16p16 layout (w starts at a panel) with f32 arithmetic, for cores without fp16
 * arithmetic. */
typedef void (*fvl_f32_gemm_fn)(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f32_f32_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                              const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f32_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_f32_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                              const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_f32_gemm__avx2(size_t k, size_t n, const void *w, const float *bias, size_t m,
                            const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16p16_f32_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                 const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16p16_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                               const float *x, size_t ldx, float *y, size_t ldy);

/* ---- GEMM on f16 activations (cores with FEAT_FP16: Cortex-A76/A78AE) ------------------------
 * f16p16_f16_gemm: y[i*ldy + j] = xs[i] * sum_k W[j][k] xh[i][k] (+ bias[j]) over activations
 * from f32_f16_quant, W in the f16p16 layout; the NEON variant sums in f16 over 32 values of k
 * and in f32 beyond (relative error ~1e-3 of sum |terms|). */
typedef void (*fvl_f16_gemm_fn)(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                const uint16_t *xh, const float *xs, float *y, size_t ldy);
void fvl_f16p16_f16_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                 const uint16_t *xh, const float *xs, float *y, size_t ldy);
void fvl_f16p16_f16_gemm__neonfp16(size_t k, size_t n, const void *w, const float *bias, size_t m,
                                   const uint16_t *xh, const float *xs, float *y, size_t ldy);

/* ---- normalization and elementwise (row-wise over n values) -------------------------------- */
/* layernorm: y = (x - mean) / sqrt(var + eps) * g + b over each of m rows of n (in place
 * allowed). */
typedef void (*fvl_layernorm_fn)(size_t m, size_t n, const float *x, const float *g, const float *b,
                                 float eps, float *y);
void fvl_layernorm__scalar(size_t m, size_t n, const float *x, const float *g, const float *b,
                           float eps, float *y);
void fvl_layernorm__neon(size_t m, size_t n, const float *x, const float *g, const float *b,
                         float eps, float *y);
/* rmsnorm: y = x / sqrt(mean(x^2) + eps) * g */
typedef void (*fvl_rmsnorm_fn)(size_t m, size_t n, const float *x, const float *g, float eps,
                               float *y);
void fvl_rmsnorm__scalar(size_t m, size_t n, const float *x, const float *g, float eps, float *y);
void fvl_rmsnorm__neon(size_t m, size_t n, const float *x, const float *g, float eps, float *y);
/* softmax, in place: x = softmax(x * scale) over each of m rows of n. */
typedef void (*fvl_softmax_fn)(size_t m, size_t n, float *x, float scale);
void fvl_softmax__scalar(size_t m, size_t n, float *x, float scale);
void fvl_softmax__neon(size_t m, size_t n, float *x, float scale);
/* gelu: y = x * Phi(x) (the exact erf form). */
typedef void (*fvl_unary_fn)(size_t n, const float *x, float *y);
void fvl_gelu__scalar(size_t n, const float *x, float *y);
void fvl_gelu__neon(size_t n, const float *x, float *y);
/* silu_mul: y = silu(a) * b; add: y = a + b. */
typedef void (*fvl_binary_fn)(size_t n, const float *a, const float *b, float *y);
void fvl_silu_mul__scalar(size_t n, const float *a, const float *b, float *y);
void fvl_silu_mul__neon(size_t n, const float *a, const float *b, float *y);
void fvl_add__scalar(size_t n, const float *a, const float *b, float *y);
void fvl_add__neon(size_t n, const float *a, const float *b, float *y);
/* scale: y = x * s. */
typedef void (*fvl_scale_fn)(size_t n, const float *x, float s, float *y);
void fvl_scale__scalar(size_t n, const float *x, float s, float *y);
void fvl_scale__neon(size_t n, const float *x, float s, float *y);
/* rope: rotate-half RoPE in place on m rows of n_heads x head_dim: for i < rot/2, pairs
 * (i, i + rot/2) use cos/sin tables of row position pos[r]: tables are (positions, rot/2). */
typedef void (*fvl_rope_fn)(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x,
                            size_t ldx, const int32_t *pos, const float *cos_t, const float *sin_t);
void fvl_rope__scalar(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x, size_t ldx,
                      const int32_t *pos, const float *cos_t, const float *sin_t);
void fvl_rope__neon(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x, size_t ldx,
                    const int32_t *pos, const float *cos_t, const float *sin_t);
/* dwconv3x3: depthwise 3x3 convolution, stride 1, zero padding 1, NHWC, output rows [y0, y1) of
 * the h x w image (so the rows can be split across threads): y[i][j][c] = b[c] +
 * sum_{dy,dx} x[i+dy-1][j+dx-1][c] * k[(3 dy + dx) * C + c]  (k tap-major: PyTorch's (C, 1, 3, 3)
 * transposed once at load). x and y are whole images; y must not overlap x. */
typedef void (*fvl_dwconv3x3_fn)(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                                 const float *k, const float *b, float *y);
void fvl_dwconv3x3__scalar(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                           const float *k, const float *b, float *y);
void fvl_dwconv3x3__neon(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                         const float *k, const float *b, float *y);

/* ---- DaViT's channel attention: Gram matrices over tokens, and their product with values ----
 * gram: g[i n + j] += sum_{r < m} a[r ld + i] b[r ld + j] for i, j < n, the m tokens' sums made
 * from zero and added to g once (g collects a long token axis tile by tile: a blocked sum).
 * gram_apply: o[r ldo + i] = sum_{j < n} v[r ldv + j] g[i n + j] for r < m, i < n. */
typedef void (*fvl_gram_fn)(size_t m, size_t n, const float *a, const float *b, size_t ld,
                            float *g);
void fvl_gram__scalar(size_t m, size_t n, const float *a, const float *b, size_t ld, float *g);
void fvl_gram__neon(size_t m, size_t n, const float *a, const float *b, size_t ld, float *g);
typedef void (*fvl_gram_apply_fn)(size_t m, size_t n, const float *g, const float *v, size_t ldv,
                                  float *o, size_t ldo);
void fvl_gram_apply__scalar(size_t m, size_t n, const float *g, const float *v, size_t ldv,
                            float *o, size_t ldo);
void fvl_gram_apply__neon(size_t m, size_t n, const float *g, const float *v, size_t ldv, float *o,
                          size_t ldo);

/* ---- attention -------------------------------------------------------------------------------
 * o[i][h][:] = softmax_j(scale * q[i][h] . k[j][h/g]) v[j][h/g] over j < n_kv (causal: j <=
 * i + q_pos0, q row i sits at position q_pos0 + i of the key sequence), with g = n_heads /
 * n_kv_heads (grouped-query). K and V are f32 or f16 (kv_f16), rows of n_kv_heads * head_dim with
 * strides ldk / ldv elements. Online softmax over blocks of keys: no n_q x n_kv matrix. */
/* Contract limits: the callers check every model-file hyperparameter against these at load, so
 * no file can drive a kernel past them. */
#define FVL_ATTN_MAX_HEAD_DIM 256 /* attn: head_dim (the accumulator lives on the stack) */

struct fvl_attn_args {
	size_t n_q, n_kv, n_heads, n_kv_heads, head_dim;
	const float *q; /* (n_q, ldq): head h at h * head_dim */
	size_t ldq;
	const void *k, *v; /* (n_kv, ldk) and (n_kv, ldv), f32 or f16 */
	size_t ldk, ldv;
	bool kv_f16, causal;
	size_t q_pos0;
	float scale;
	float *o; /* (n_q, ldo) */
	size_t ldo;
	size_t head0, head1; /* heads [head0, head1) (for splitting across threads) */
};
typedef void (*fvl_attn_fn)(const struct fvl_attn_args *a);
/* The keys query i of the call sees: all n_kv, or (causal) those up to its position. */
static inline size_t fvl_attn_keys(const struct fvl_attn_args *a, size_t i)
{
	const size_t upto = a->q_pos0 + i + 1;
	return a->causal && upto < a->n_kv ? upto : a->n_kv;
}
void fvl_attn__scalar(const struct fvl_attn_args *a);
void fvl_attn__neon(const struct fvl_attn_args *a);
void fvl_attn__avx2(const struct fvl_attn_args *a); /* x86-64 hosts; small cases: __neon */

/* ---- the table: one function per contract, filled once from the CPU features (kernels.c) ---- */
struct fvl_kernels {
	enum fvl_isa isa;
	bool f16p16; /* f16 weights are packed in the f16p16 layout (then f16p16_f16_gemm if the
	                CPU has fp16 arithmetic, else f16p16_f32_gemm run them); else row-major
	                for f16_f32_gemm */
	fvl_f32_q8_quant_fn f32_q8_quant;
	fvl_x4_q8_gemm_fn q4_0x4_q8_gemm;
	fvl_x4_q8_gemm_fn q8_0x4_q8_gemm;
	fvl_f32_gemm_fn f32_f32_gemm;
	fvl_f32_gemm_fn f16_f32_gemm;
	fvl_f32_gemm_fn f16p16_f32_gemm;
	/* fp16 arithmetic: NULL unless the CPU has it */
	fvl_f32_f16_quant_fn f32_f16_quant;
	fvl_f16_gemm_fn f16p16_f16_gemm;
	fvl_layernorm_fn layernorm;
	fvl_rmsnorm_fn rmsnorm;
	fvl_softmax_fn softmax;
	fvl_unary_fn gelu;
	fvl_binary_fn silu_mul;
	fvl_binary_fn add;
	fvl_scale_fn scale;
	fvl_rope_fn rope;
	fvl_dwconv3x3_fn dwconv3x3;
	fvl_gram_fn gram;
	fvl_gram_apply_fn gram_apply;
	fvl_attn_fn attn;
	/* names of the functions above, for reports: names[i] = {contract, "fvl_..__variant"} */
	struct fvl_kernel_name {
		const char *contract, *function;
	} names[24];
	size_t n_names;
};

/* Fills k for the best level the CPU runs, or for isa_name ("scalar", "baseline", "dotprod",
 * "i8mm", "avx2") when it is not NULL or empty. */
enum fvl_kernels_status
fvl_kernels_init(struct fvl_kernels *k, const struct fvl_cpu *cpu, const char *isa_name);
/* The function name chosen for a contract ("q4_0x4_q8_gemm"), or "-" if none is set. */
const char *fvl_kernel_name(const struct fvl_kernels *k, const char *contract);

#endif /* FVL_KERNELS_H */
