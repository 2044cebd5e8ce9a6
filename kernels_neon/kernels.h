/* kernels.h — every compute kernel's contract, the CPU feature probe and the kernel table that
 * picks one variant per op from those features (or from an override, for tests). */
#ifndef FVL_KERNELS_H
#define FVL_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fvl.h"
#include "quant.h"

struct fvl_cpu {
	const char *arch; /* "aarch64", or the host's name when NEON comes through SIMDe */
	bool simde;       /* NEON code runs translated (x86 host tests) */
	bool asimd, fp16, dotprod, i8mm;
	bool avx2; /* x86-64 hosts: AVX2 + FMA + F16C, for the native quantized GEMM */
};

/* Instruction-set variants, in order of preference. */
enum fvl_isa {
	FVL_ISA_SCALAR = 0, /* the reference twins */
	FVL_ISA_BASELINE,   /* armv8-a NEON (Cortex-A72, Pi 4) */
	FVL_ISA_DOTPROD,    /* + sdot (Cortex-A76/A78AE: Pi 5, Orin) */
	FVL_ISA_I8MM,       /* + smmla (Armv8.6 cores) */
	FVL_ISA_AVX2,       /* x86-64 development hosts: dotprod's table (through SIMDe) with native
	                     * AVX2 quantized GEMM/GEMV */
	FVL_ISA_N
};

void fvl_cpu_detect(struct fvl_cpu *cpu);
const char *fvl_isa_name(enum fvl_isa isa);
bool fvl_isa_from_name(const char *name, enum fvl_isa *out);
/* The CPU can run the variant and this build contains it. */
bool fvl_isa_supported(const struct fvl_cpu *cpu, enum fvl_isa isa);
enum fvl_isa fvl_isa_best(const struct fvl_cpu *cpu);
/* Whether f16 weights are kept in 16-column panels on this CPU (aarch64: every variant's f16
 * kernels read them), not row-major (x86-64 hosts). */
bool fvl_f16_panels(const struct fvl_cpu *cpu);

/* ---- kernel contracts ---------------------------------------------------------------------- */

/* Dot product of n elements (n % 32 == 0): x (n/32) Q8_0 blocks, y (n/32) Q8_0 blocks. */
typedef float (*fvl_q8_0_q8_dot_fn)(size_t n, const struct fvl_block_q8_0 *x,
                                    const struct fvl_block_q8_0 *y);

float fvl_q8_0_q8_dot__scalar(size_t n, const struct fvl_block_q8_0 *x,
                              const struct fvl_block_q8_0 *y);
float fvl_q8_0_q8_dot__neon(size_t n, const struct fvl_block_q8_0 *x,
                            const struct fvl_block_q8_0 *y);
float fvl_q8_0_q8_dot__neondot(size_t n, const struct fvl_block_q8_0 *x,
                               const struct fvl_block_q8_0 *y);

/* Quantize n floats (n % 32 == 0) into n/32 blocks, bit-exact with ggml's reference rounding. */
void fvl_quantize_row_q8_0__scalar(const float *x, struct fvl_block_q8_0 *y, size_t n);
void fvl_quantize_row_q4_0__scalar(const float *x, struct fvl_block_q4_0 *y, size_t n);
void fvl_dequantize_row_q8_0(const struct fvl_block_q8_0 *x, float *y, size_t n);
void fvl_dequantize_row_q4_0(const struct fvl_block_q4_0 *x, float *y, size_t n);

/* ---- activation quantization --------------------------------------------------------------
 * m rows of k floats (k % 32 == 0, row stride ldx) -> int8 q (row stride k) and one f32 scale per
 * 32 values d (row stride k/32): d = max|x|/127, q = round-half-even(x * (1/d)). */
typedef void (*fvl_q8_quant_fn)(size_t m, size_t k, const float *x, size_t ldx, int8_t *q,
                                float *d);
void fvl_q8_quant__scalar(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d);
void fvl_q8_quant__neon(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d);

/* ---- packed quantized weights ---------------------------------------------------------------
 * The "x4" layout every quantized GEMM/GEMV variant reads: rows in groups of 4 (the last group
 * padded with zero rows); per group, per block of 32: the 4 rows' fp16 scales, then their quants
 * interleaved in 4-byte chunks (chunk c of rows 0..3, then chunk c+1, ...). Q4_0 nibbles are
 * stored xor 8, so `<< 4` (low) or `& 0xf0` (high) yields (q - 8) * 16 as int8. */
struct fvl_block_q4_0x4 {
	uint16_t d[4];
	uint8_t qs[64];  /* chunk c (0..3), row r: bytes 16c + 4r .. +3 = src qs[4c .. 4c+3] ^ 0x88 */
};
static_assert(sizeof(struct fvl_block_q4_0x4) == 72, "4 x block_q4_0");
struct fvl_block_q8_0x4 {
	uint16_t d[4];
	int8_t qs[128];  /* chunk c (0..7), row r: bytes 16c + 4r .. +3 = src qs[4c .. 4c+3] */
};
static_assert(sizeof(struct fvl_block_q8_0x4) == 136, "4 x block_q8_0");

/* Bytes of the packed form of n rows of k. */
size_t fvl_pack_x4_size(int type, size_t n, size_t k);
/* src: n rows of k/32 blocks (the model file's layout). */
void fvl_pack_q4_0_x4(const struct fvl_block_q4_0 *src, size_t n, size_t k,
                      struct fvl_block_q4_0x4 *dst);
void fvl_pack_q8_0_x4(const struct fvl_block_q8_0 *src, size_t n, size_t k,
                      struct fvl_block_q8_0x4 *dst);

/* ---- quantized GEMM / GEMV -------------------------------------------------------------------
 * y[i * ldy + j] = sum_k W[j][k] * A[i][k] for act rows i < m and weight rows j < n, with W packed
 * (x4, starting at a group boundary) and A quantized by fvl_q8_quant (aq: m x k, ad: m x k/32).
 * m == 1 is the decode GEMV. */
typedef void (*fvl_qgemm_fn)(size_t k, size_t n, const void *w, size_t m, const int8_t *aq,
                             const float *ad, float *y, size_t ldy);
#define FVL_QGEMM_VARIANTS(type)                                                                    \
	void fvl_##type##x4_q8_gemm__scalar(size_t, size_t, const void *, size_t, const int8_t *, \
	                                    const float *, float *, size_t);                       \
	void fvl_##type##x4_q8_gemm__neon(size_t, size_t, const void *, size_t, const int8_t *,   \
	                                  const float *, float *, size_t);                         \
	void fvl_##type##x4_q8_gemm__neondot(size_t, size_t, const void *, size_t,                 \
	                                     const int8_t *, const float *, float *, size_t);      \
	void fvl_##type##x4_q8_gemm__neoni8mm(size_t, size_t, const void *, size_t,                \
	                                      const int8_t *, const float *, float *, size_t);    \
	void fvl_##type##x4_q8_gemm__avx2(size_t, size_t, const void *, size_t, const int8_t *,   \
	                                  const float *, float *, size_t);
FVL_QGEMM_VARIANTS(q4_0)
FVL_QGEMM_VARIANTS(q8_0)

/* ---- float GEMM: y[i*ldy + j] = sum_k W[j][k] * x[i][k] (+ bias[j]), W f32 or f16 rows ---- */
typedef void (*fvl_fgemm_fn)(size_t k, size_t n, const void *w, const float *bias, size_t m,
                             const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f32_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                          const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f32_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                          const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16_gemm__avx2(size_t k, size_t n, const void *w, const float *bias, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy);

/* ---- fp16-arithmetic GEMM (cores with FEAT_FP16: Cortex-A76/A78AE) ------------------------------
 * fvl_f16_act turns m rows of k floats (stride ldx) into f16 rows xh (stride FVL_F16_ACT_STRIDE(k),
 * zero padded) scaled by a power of two per row so max |x| lands in [2, 4) (products and 32-term
 * f16 sums then stay far below the f16 limit); xs[i] is that row's inverse scale. fvl_hgemm gives
 * y[i*ldy + j] = xs[i] * sum_k W[j][k] xh[i][k] (+ bias[j]) with W packed in panels of 16 columns
 * (fvl_pack_f16_panels; w starts at a panel); the NEON variant sums in f16 over 32 values of k
 * and in f32 beyond (relative error ~1e-3 of sum |terms|). */
#define FVL_F16_ACT_STRIDE(k) (((k) + 7) & ~(size_t)7)
#define FVL_HPANEL 16
/* Panel p holds columns 16p..16p+15 (zeros past n), k-major: element (j, e) at
 * (j / 16) * 16 k + e * 16 + j % 16. Size in halves: ceil(n / 16) * 16 * k. */
size_t fvl_pack_f16_panels_size(size_t n, size_t k);
void fvl_pack_f16_panels(const uint16_t *w, size_t n, size_t k, uint16_t *dst);
/* The exponent e with amax / 2^e in [2, 4); 0 for 0, nan and inf; clamped so 2^-e is a normal. */
static inline int fvl_f16_act_exponent(float amax)
{
	if (!(amax > 0.0f) || amax > 3.0e38f)
		return 0;
	int e;
	frexpf(amax, &e); /* amax = f 2^e, f in [0.5, 1) */
	e -= 2;
	return e < -100 ? -100 : e > 120 ? 120 : e;
}
typedef void (*fvl_f16_act_fn)(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh,
                               float *xs);
typedef void (*fvl_hgemm_fn)(size_t k, size_t n, const void *w, const float *bias, size_t m,
                             const uint16_t *xh, const float *xs, float *y, size_t ldy);
void fvl_f16_act__scalar(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh, float *xs);
void fvl_f16_act__neonfp16(size_t m, size_t k, const float *x, size_t ldx, uint16_t *xh, float *xs);
/* f16 weights in panels with f32 arithmetic (cores without fp16 arithmetic; the fvl_fgemm_fn
 * contract with W packed by fvl_pack_f16_panels). aarch64 runtimes keep all f16 weights in panels
 * (fvl_kernels.f16_panels); x86-64 hosts keep them row-major for f16_gemm. */
void fvl_f16p_gemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                           const float *x, size_t ldx, float *y, size_t ldy);
void fvl_f16p_gemm__neon(size_t k, size_t n, const void *w, const float *bias, size_t m,
                         const float *x, size_t ldx, float *y, size_t ldy);
void fvl_hgemm__scalar(size_t k, size_t n, const void *w, const float *bias, size_t m,
                       const uint16_t *xh, const float *xs, float *y, size_t ldy);
void fvl_hgemm__neonfp16(size_t k, size_t n, const void *w, const float *bias, size_t m,
                         const uint16_t *xh, const float *xs, float *y, size_t ldy);

/* ---- elementwise and normalization (row-wise over n values) --------------------------------- */
/* y = (x - mean) / sqrt(var + eps) * g + b over each of m rows of n (in place allowed). */
typedef void (*fvl_layernorm_fn)(size_t m, size_t n, const float *x, const float *g,
                                 const float *b, float eps, float *y);
/* y = x / sqrt(mean(x^2) + eps) * g */
typedef void (*fvl_rmsnorm_fn)(size_t m, size_t n, const float *x, const float *g, float eps,
                               float *y);
/* In place: x = softmax(x * scale) over each of m rows of n. */
typedef void (*fvl_softmax_fn)(size_t m, size_t n, float *x, float scale);
/* y = x * Phi(x) (exact erf form), y = silu(g) * u, y = a + b, y = a * s. */
typedef void (*fvl_unary_fn)(size_t n, const float *x, float *y);
typedef void (*fvl_binary_fn)(size_t n, const float *a, const float *b, float *y);
typedef void (*fvl_scale_fn)(size_t n, const float *x, float s, float *y);
/* Rotate-half RoPE in place on m rows of n_heads x head_dim: for i < rot/2, pairs (i, i + rot/2)
 * use cos/sin tables of row position pos[r]: tables are (positions, rot/2). */
typedef void (*fvl_rope_fn)(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x,
                            size_t ldx, const int32_t *pos, const float *cos_t, const float *sin_t);
/* Depthwise 3x3 convolution, stride 1, zero padding 1, NHWC: y[h][w][c] = b[c] +
 * sum_{dy,dx} x[h+dy-1][w+dx-1][c] * k[(3 dy + dx) * C + c]  (k tap-major: PyTorch's (C, 1, 3, 3)
 * transposed once at load). */
typedef void (*fvl_dwconv3x3_fn)(size_t h, size_t w, size_t c, const float *x, const float *k,
                                 const float *b, float *y);

#define FVL_ELEMENTWISE_VARIANT(isa)                                                           \
	void fvl_layernorm__##isa(size_t, size_t, const float *, const float *, const float *, \
	                          float, float *);                                             \
	void fvl_rmsnorm__##isa(size_t, size_t, const float *, const float *, float, float *); \
	void fvl_softmax__##isa(size_t, size_t, float *, float);                               \
	void fvl_gelu__##isa(size_t, const float *, float *);                                  \
	void fvl_silu_mul__##isa(size_t, const float *, const float *, float *);               \
	void fvl_add__##isa(size_t, const float *, const float *, float *);                    \
	void fvl_scale__##isa(size_t, const float *, float, float *);                          \
	void fvl_rope__##isa(size_t, size_t, size_t, size_t, float *, size_t, const int32_t *,  \
	                     const float *, const float *);                                    \
	void fvl_dwconv3x3__##isa(size_t, size_t, size_t, const float *, const float *,        \
	                          const float *, float *);
FVL_ELEMENTWISE_VARIANT(scalar)
FVL_ELEMENTWISE_VARIANT(neon)

/* ---- attention -------------------------------------------------------------------------------
 * o[i][h][:] = softmax_j(scale * q[i][h] . k[j][h/g]) v[j][h/g] over j < n_kv (causal: j <=
 * i + q_pos0, q row i sits at position q_pos0 + i of the key sequence), with g = n_heads /
 * n_kv_heads (grouped-query). K and V are f32 or f16 (kv_f16), rows of n_kv_heads * head_dim with
 * strides ldk / ldv elements. Online softmax over blocks of keys: no n_q x n_kv matrix. */
/* Contract limits: the callers check every model-file hyperparameter against these at load, so
 * no file can drive a kernel past them. */
#define FVL_ATTN_MAX_HEAD_DIM 256 /* fvl_attn_*: head_dim (the accumulator lives on the stack) */

struct fvl_attn_args {
	size_t n_q, n_kv, n_heads, n_kv_heads, head_dim;
	const float *q;
	size_t ldq;
	const void *k, *v;
	size_t ldk, ldv;
	bool kv_f16, causal;
	size_t q_pos0;
	float scale;
	float *o;
	size_t ldo;
	size_t head0, head1; /* heads [head0, head1) (for splitting across threads) */
};
typedef void (*fvl_attn_fn)(const struct fvl_attn_args *a);
void fvl_attn__scalar(const struct fvl_attn_args *a);
void fvl_attn__neon(const struct fvl_attn_args *a);

/* The table: one function per op, filled once from the CPU features. */
struct fvl_kernels {
	enum fvl_isa isa;
	bool f16_panels; /* f16 linears are packed in panels: hgemm, else f16p_gemm, run them */
#define FVL_KERNEL(type, op) type op; const char *op##_name;
	FVL_KERNEL(fvl_q8_0_q8_dot_fn, q8_0_q8_dot)
	FVL_KERNEL(fvl_q8_quant_fn, q8_quant)
	FVL_KERNEL(fvl_qgemm_fn, q4_0_gemm)
	FVL_KERNEL(fvl_qgemm_fn, q8_0_gemm)
	FVL_KERNEL(fvl_fgemm_fn, f32_gemm)
	FVL_KERNEL(fvl_fgemm_fn, f16_gemm)
	/* fp16 arithmetic for f16 weights: NULL unless the CPU has it (then f16_gemm is the path) */
	FVL_KERNEL(fvl_f16_act_fn, f16_act)
	FVL_KERNEL(fvl_hgemm_fn, hgemm)
	FVL_KERNEL(fvl_fgemm_fn, f16p_gemm)
	FVL_KERNEL(fvl_layernorm_fn, layernorm)
	FVL_KERNEL(fvl_rmsnorm_fn, rmsnorm)
	FVL_KERNEL(fvl_softmax_fn, softmax)
	FVL_KERNEL(fvl_unary_fn, gelu)
	FVL_KERNEL(fvl_binary_fn, silu_mul)
	FVL_KERNEL(fvl_binary_fn, add)
	FVL_KERNEL(fvl_scale_fn, scale)
	FVL_KERNEL(fvl_rope_fn, rope)
	FVL_KERNEL(fvl_dwconv3x3_fn, dwconv3x3)
	FVL_KERNEL(fvl_attn_fn, attn)
#undef FVL_KERNEL
};

/* Fills k for the best variant the CPU runs, or for isa_name ("scalar", "baseline", "dotprod",
 * "i8mm", "avx2") when it is not NULL: UNSUPPORTED if the CPU or the build cannot run it. */
enum fvl_status fvl_kernels_init(struct fvl_kernels *k, const struct fvl_cpu *cpu,
                                 const char *isa_name);

#endif /* FVL_KERNELS_H */
