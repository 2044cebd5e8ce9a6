/* kernels.c — the kernel table: for a chosen instruction-set level, the best variant of every
 * contract at or below it. One block per level, in order; a later level overrides what it
 * improves. */
#include <string.h>

#include "kernels.h"

/* Records that contract runs fn (the table keeps each contract once, in first-set order). */
static void set_name(struct fvl_kernels *k, const char *contract, const char *fn)
{
	for (size_t i = 0; i < k->n_names; i++)
		if (strcmp(k->names[i].contract, contract) == 0) {
			k->names[i].function = fn;
			return;
		}
	if (k->n_names < sizeof(k->names) / sizeof(k->names[0]))
		k->names[k->n_names++] = (struct fvl_kernel_name){contract, fn};
}

#define SET(op, fn) ((k)->op = (fn), set_name((k), #op, #fn))

static void set_scalar(struct fvl_kernels *k)
{
	SET(f32_q8_quant, fvl_f32_q8_quant__scalar);
	SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__scalar);
	SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__scalar);
	SET(f32_f32_gemm, fvl_f32_f32_gemm__scalar);
	SET(f16_f32_gemm, fvl_f16_f32_gemm__scalar);
	SET(f16p16_f32_gemm, fvl_f16p16_f32_gemm__scalar);
	SET(layernorm, fvl_layernorm__scalar);
	SET(rmsnorm, fvl_rmsnorm__scalar);
	SET(softmax, fvl_softmax__scalar);
	SET(gelu, fvl_gelu__scalar);
	SET(silu_mul, fvl_silu_mul__scalar);
	SET(add, fvl_add__scalar);
	SET(scale, fvl_scale__scalar);
	SET(rope, fvl_rope__scalar);
	SET(dwconv3x3, fvl_dwconv3x3__scalar);
	SET(gram, fvl_gram__scalar);
	SET(gram_apply, fvl_gram_apply__scalar);
	SET(attn, fvl_attn__scalar);
}

static void set_neon(struct fvl_kernels *k)
{
	SET(f32_q8_quant, fvl_f32_q8_quant__neon);
	SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__neon);
	SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__neon);
	SET(f32_f32_gemm, fvl_f32_f32_gemm__neon);
	SET(f16_f32_gemm, fvl_f16_f32_gemm__neon);
	SET(f16p16_f32_gemm, fvl_f16p16_f32_gemm__neon);
	SET(layernorm, fvl_layernorm__neon);
	SET(rmsnorm, fvl_rmsnorm__neon);
	SET(softmax, fvl_softmax__neon);
	SET(gelu, fvl_gelu__neon);
	SET(silu_mul, fvl_silu_mul__neon);
	SET(add, fvl_add__neon);
	SET(scale, fvl_scale__neon);
	SET(rope, fvl_rope__neon);
	SET(dwconv3x3, fvl_dwconv3x3__neon);
	SET(gram, fvl_gram__neon);
	SET(gram_apply, fvl_gram_apply__neon);
	SET(attn, fvl_attn__neon);
}

static void set_neondot(struct fvl_kernels *k, const struct fvl_cpu *cpu)
{
	SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__neondot);
	SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__neondot);
#if defined(FVL_HAVE_FP16)
	/* Every dot-product core fvl targets (A76, A78AE) also has fp16 arithmetic; the feature is
	 * checked on its own all the same. */
	if (cpu->fp16) {
		SET(f32_f16_quant, fvl_f32_f16_quant__neonfp16);
		SET(f16p16_f16_gemm, fvl_f16p16_f16_gemm__neonfp16);
	}
#else
	(void)cpu;
#endif
}

static void set_neoni8mm(struct fvl_kernels *k)
{
#if defined(FVL_HAVE_I8MM)
	SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__neoni8mm);
	SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__neoni8mm);
#else
	(void)k;
#endif
}

static void set_avx2(struct fvl_kernels *k, enum fvl_isa isa)
{
#if defined(FVL_HAVE_AVX2)
	SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__avx2);
	SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__avx2);
	SET(f16_f32_gemm, fvl_f16_f32_gemm__avx2);
	SET(attn, fvl_attn__avx2);
	if (isa == FVL_ISA_AVXVNNI) {
		SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__avxvnni);
		SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__avxvnni);
	} else if (isa == FVL_ISA_AVX512VNNI) {
		SET(q4_0x4_q8_gemm, fvl_q4_0x4_q8_gemm__avx512vnni);
		SET(q8_0x4_q8_gemm, fvl_q8_0x4_q8_gemm__avx512vnni);
	}
#else
	(void)k, (void)isa;
#endif
}

enum fvl_kernels_status
fvl_kernels_init(struct fvl_kernels *k, const struct fvl_cpu *cpu, const char *isa_name)
{
	enum fvl_isa isa = fvl_isa_best(cpu);
	if (isa_name && *isa_name) {
		if (!fvl_isa_from_name(isa_name, &isa))
			return FVL_KERNELS_UNKNOWN_ISA;
		if (!fvl_isa_supported(cpu, isa))
			return FVL_KERNELS_ISA_UNSUPPORTED;
	}
	memset(k, 0, sizeof(*k));
	k->isa = isa;
	k->f16p16 = fvl_f16p16_preferred(cpu);
	set_scalar(k);
	if (isa >= FVL_ISA_BASELINE)
		set_neon(k);
	if (isa >= FVL_ISA_DOTPROD)
		set_neondot(k, cpu);
	const bool x86 = isa >= FVL_ISA_AVX2; /* the x86-64 levels come after aarch64's */
	if (isa >= FVL_ISA_I8MM && !x86)
		set_neoni8mm(k);
	if (x86)
		set_avx2(k, isa);
	return FVL_KERNELS_OK;
}

const char *fvl_kernel_name(const struct fvl_kernels *k, const char *contract)
{
	for (size_t i = 0; i < k->n_names; i++)
		if (strcmp(k->names[i].contract, contract) == 0)
			return k->names[i].function;
	return "-";
}
