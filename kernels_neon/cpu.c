/* cpu.c — CPU feature detection (getauxval on aarch64, CPUID on x86-64) and the instruction-set
 * levels fvl_kernels_init chooses from. */
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "kernels.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/* From the kernel's asm/hwcap.h, spelled out so older headers still build. */
#define FVL_HWCAP_ASIMD   (1ul << 1)
#define FVL_HWCAP_ASIMDHP (1ul << 10)
#define FVL_HWCAP_ASIMDDP (1ul << 20)
#define FVL_HWCAP2_I8MM   (1ul << 13)
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
/* the VNNI variants build wherever the AVX2 ones do (x86-64) */
#define HAVE_VNNI HAVE_AVX2

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

/* AVX-VNNI: CPUID.(7, 1).EAX bit 4 (on top of AVX2's checks). */
static bool x86_avxvnni(void)
{
	unsigned a, b, c, d;
	return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
}

/* AVX512 F, BW, VL and VNNI, and XCR0 saving the opmask and both halves of the zmm file. */
static bool x86_avx512vnni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	const bool f = b & (1u << 16), bw = b & (1u << 30), vl = b & (1u << 31),
	           vnni = c & (1u << 11);
	if (!(f && bw && vl && vnni))
		return false;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 0xe6) == 0xe6;
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
	cpu->avxvnni = cpu->avx2 && x86_avxvnni();
	cpu->avx512vnni = cpu->avx2 && x86_avx512vnni();
#endif
#endif
}

static const char *const isa_names[FVL_ISA_N] = {"scalar", "baseline", "dotprod",   "i8mm",
                                                 "avx2",   "avxvnni",  "avx512vnni"};

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
	case FVL_ISA_AVXVNNI:
		return HAVE_VNNI && fvl_isa_supported(cpu, FVL_ISA_AVX2) && cpu->avxvnni;
	case FVL_ISA_AVX512VNNI:
		return HAVE_VNNI && fvl_isa_supported(cpu, FVL_ISA_AVX2) && cpu->avx512vnni;
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

bool fvl_f16p16_preferred(const struct fvl_cpu *cpu)
{
	return !cpu->simde; /* aarch64: the panel kernels beat the row-major one */
}
