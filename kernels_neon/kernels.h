/* kernels.h — every compute kernel's contract, the CPU feature probe and the kernel table that
 * picks one variant per op from those features (or from an override, for tests). */
#ifndef FVL_KERNELS_H
#define FVL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "fvl.h"
#include "quant.h"

struct fvl_cpu {
	const char *arch; /* "aarch64", or the host's name when NEON comes through SIMDe */
	bool simde;       /* NEON code runs translated (x86 host tests) */
	bool asimd, fp16, dotprod, i8mm;
};

/* Instruction-set variants, in order of preference. */
enum fvl_isa {
	FVL_ISA_SCALAR = 0, /* the reference twins */
	FVL_ISA_BASELINE,   /* armv8-a NEON (Cortex-A72, Pi 4) */
	FVL_ISA_DOTPROD,    /* + sdot (Cortex-A76/A78AE: Pi 5, Orin) */
	FVL_ISA_I8MM,       /* + smmla (Armv8.6 cores) */
	FVL_ISA_N
};

void fvl_cpu_detect(struct fvl_cpu *cpu);
const char *fvl_isa_name(enum fvl_isa isa);
bool fvl_isa_from_name(const char *name, enum fvl_isa *out);
/* The CPU can run the variant and this build contains it. */
bool fvl_isa_supported(const struct fvl_cpu *cpu, enum fvl_isa isa);
enum fvl_isa fvl_isa_best(const struct fvl_cpu *cpu);

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

/* The table: one function per op, filled once from the CPU features. */
struct fvl_kernels {
	enum fvl_isa isa;
	fvl_q8_0_q8_dot_fn q8_0_q8_dot;
	const char *q8_0_q8_dot_name;
};

/* Fills k for the best variant the CPU runs, or for isa_name ("scalar", "baseline", "dotprod",
 * "i8mm") when it is not NULL: UNSUPPORTED if the CPU or the build cannot run it. */
enum fvl_status fvl_kernels_init(struct fvl_kernels *k, const struct fvl_cpu *cpu,
                                 const char *isa_name);

#endif /* FVL_KERNELS_H */
