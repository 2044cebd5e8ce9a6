/* cpu.c — CPU feature detection (getauxval on aarch64) and the kernel table filled from it. */
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "kernels.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/* From the kernel's asm/hwcap.h, spelled out so older headers still build. */
#define FVL_HWCAP_ASIMD (1ul << 1)
#define FVL_HWCAP_ASIMDHP (1ul << 10)
#define FVL_HWCAP_ASIMDDP (1ul << 20)
#define FVL_HWCAP2_I8MM (1ul << 13)
#endif

/* Variants compiled into this build: the Makefile defines FVL_HAVE_I8MM and FVL_HAVE_FP16 where
 * the compiler targets aarch64; baseline and dotprod build everywhere (through SIMDe off aarch64). */
#if defined(FVL_HAVE_I8MM)
#define HAVE_I8MM 1
#else
#define HAVE_I8MM 0
#endif
#if defined(FVL_HAVE_FP16)
#define HAVE_FP16 1
#else
#define HAVE_FP16 0
#endif
#if defined(FVL_HAVE_AVX2)
#define HAVE_AVX2 1
#else
#define HAVE_AVX2 0
#endif

#if defined(__x86_64__) && !defined(__aarch64__)
/* AVX2, FMA and F16C, with the OS saving the YMM registers (CPUID and XGETBV, so GCC and clang
 * agree: clang's __builtin_cpu_supports knows no "f16c"). */
static bool x86_avx2_fma_f16c(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
	const bool f16c = c & (1u << 29);
	if (!(fma && osxsave && avx && f16c))
		return false;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6) /* XMM and YMM state */
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return b & (1u << 5);
}
#endif

void fvl_cpu_detect(struct fvl_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
#if defined(__aarch64__)
	cpu->arch = "aarch64";
#if defined(__linux__)
	unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
	cpu->asimd = (hw & FVL_HWCAP_ASIMD) != 0;
	cpu->fp16 = (hw & FVL_HWCAP_ASIMDHP) != 0;
	cpu->dotprod = (hw & FVL_HWCAP_ASIMDDP) != 0;
	cpu->i8mm = (hw2 & FVL_HWCAP2_I8MM) != 0;
#else
	cpu->asimd = true;
#endif
#else
	/* Off aarch64 the NEON kernels run through SIMDe, which translates the baseline and
	 * dot-product intrinsics but not fp16 arithmetic or smmla. */
#if defined(__x86_64__)
	cpu->arch = "x86-64";
#else
	cpu->arch = "host";
#endif
	cpu->simde = true;
	cpu->asimd = true;
	cpu->dotprod = true;
#if defined(__x86_64__)
	cpu->avx2 = x86_avx2_fma_f16c();
#endif
#endif
}

static const char *const isa_names[FVL_ISA_N] = {"scalar", "baseline", "dotprod", "i8mm", "avx2"};

const char *fvl_isa_name(enum fvl_isa isa)
{
	return isa < FVL_ISA_N ? isa_names[isa] : "?";
}

bool fvl_isa_from_name(const char *name, enum fvl_isa *out)
{
	for (int i = 0; i < FVL_ISA_N; i++) {
		if (strcmp(name, isa_names[i]) == 0) {
			*out = (enum fvl_isa)i;
			return true;
		}
	}
	return false;
}

bool fvl_isa_supported(const struct fvl_cpu *cpu, enum fvl_isa isa)
{
	switch (isa) {
	case FVL_ISA_SCALAR: return true;
	case FVL_ISA_BASELINE: return cpu->asimd;
	case FVL_ISA_DOTPROD: return cpu->asimd && cpu->dotprod;
	case FVL_ISA_I8MM: return HAVE_I8MM && cpu->asimd && cpu->dotprod && cpu->i8mm;
	case FVL_ISA_AVX2: return HAVE_AVX2 && cpu->asimd && cpu->dotprod && cpu->avx2;
	default: return false;
	}
}

enum fvl_isa fvl_isa_best(const struct fvl_cpu *cpu)
{
	enum fvl_isa best = FVL_ISA_SCALAR;
	for (int i = 0; i < FVL_ISA_N; i++)
		if (fvl_isa_supported(cpu, (enum fvl_isa)i))
			best = (enum fvl_isa)i;
	return best;
}

bool fvl_f16_panels(const struct fvl_cpu *cpu)
{
	return !cpu->simde; /* aarch64: the panel kernels beat the row-major one */
}

#define SET(k, op, fn) ((k)->op = fn, (k)->op##_name = #fn)

enum fvl_status fvl_kernels_init(struct fvl_kernels *k, const struct fvl_cpu *cpu,
                                 const char *isa_name)
{
	enum fvl_isa isa = fvl_isa_best(cpu);
	if (isa_name && *isa_name) {
		if (!fvl_isa_from_name(isa_name, &isa))
			return FVL_STATUS_INVALID_ARGUMENT;
		if (!fvl_isa_supported(cpu, isa))
			return FVL_STATUS_UNSUPPORTED;
	}
	memset(k, 0, sizeof(*k));
	k->isa = isa;
	k->f16_panels = fvl_f16_panels(cpu);
	/* Each op takes the best variant at or below the chosen ISA. */
#define ALL(isa_) \
	SET(k, q8_quant, fvl_q8_quant__##isa_); SET(k, f32_gemm, fvl_f32_gemm__##isa_); \
	SET(k, f16_gemm, fvl_f16_gemm__##isa_); SET(k, layernorm, fvl_layernorm__##isa_); \
	SET(k, f16p_gemm, fvl_f16p_gemm__##isa_); \
	SET(k, rmsnorm, fvl_rmsnorm__##isa_); SET(k, softmax, fvl_softmax__##isa_); \
	SET(k, gelu, fvl_gelu__##isa_); SET(k, silu_mul, fvl_silu_mul__##isa_); \
	SET(k, add, fvl_add__##isa_); SET(k, scale, fvl_scale__##isa_); \
	SET(k, rope, fvl_rope__##isa_); SET(k, dwconv3x3, fvl_dwconv3x3__##isa_); \
	SET(k, attn, fvl_attn__##isa_)
	ALL(scalar);
	SET(k, q8_0_q8_dot, fvl_q8_0_q8_dot__scalar);
	SET(k, q4_0_gemm, fvl_q4_0x4_q8_gemm__scalar);
	SET(k, q8_0_gemm, fvl_q8_0x4_q8_gemm__scalar);
	if (isa >= FVL_ISA_BASELINE) {
		ALL(neon);
		SET(k, q8_0_q8_dot, fvl_q8_0_q8_dot__neon);
		SET(k, q4_0_gemm, fvl_q4_0x4_q8_gemm__neon);
		SET(k, q8_0_gemm, fvl_q8_0x4_q8_gemm__neon);
	}
	if (isa >= FVL_ISA_DOTPROD) {
		SET(k, q8_0_q8_dot, fvl_q8_0_q8_dot__neondot);
		SET(k, q4_0_gemm, fvl_q4_0x4_q8_gemm__neondot);
		SET(k, q8_0_gemm, fvl_q8_0x4_q8_gemm__neondot);
	}
#if HAVE_FP16
	/* Every dot-product core fvl targets (A76, A78AE) also has fp16 arithmetic; the feature
	 * is checked on its own all the same. */
	if (isa >= FVL_ISA_DOTPROD && cpu->fp16) {
		SET(k, f16_act, fvl_f16_act__neonfp16);
		SET(k, hgemm, fvl_hgemm__neonfp16);
	}
#endif
#if HAVE_I8MM
	if (isa >= FVL_ISA_I8MM) {
		SET(k, q4_0_gemm, fvl_q4_0x4_q8_gemm__neoni8mm);
		SET(k, q8_0_gemm, fvl_q8_0x4_q8_gemm__neoni8mm);
	}
#endif
#if HAVE_AVX2
	if (isa == FVL_ISA_AVX2) {
		SET(k, q4_0_gemm, fvl_q4_0x4_q8_gemm__avx2);
		SET(k, q8_0_gemm, fvl_q8_0x4_q8_gemm__avx2);
		SET(k, f16_gemm, fvl_f16_gemm__avx2);
	}
#endif
#undef ALL
	return FVL_STATUS_OK;
}
