/* system.c — fvl_system_info: what this machine and build run, as fvl cpu and fvl doctor show it:
 * the CPU's features, the kernel level and the function behind every kernel contract, XNNPACK, the
 * CPUs and threads, the board profile. */
#include <string.h>

#include "common.h"
#include "compute.h"
#include "linear.h"

#ifndef FVL_BOARD
#define FVL_BOARD "none"
#endif

enum fvl_status fvl_system_info(const char *isa, struct fvl_system_info *out)
{
	struct fvl_cpu cpu;
	struct fvl_kernels k;
	if (!out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_system_info: NULL argument");
	memset(out, 0, sizeof(*out));
	fvl_cpu_detect(&cpu);
	const enum fvl_kernels_status ks = fvl_kernels_init(&k, &cpu, isa);
	if (ks == FVL_KERNELS_UNKNOWN_ISA)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "'%s' is not one of scalar, baseline, "
		                "dotprod, i8mm, avx2, avxvnni, avx512vnni",
		                isa);
	if (ks != FVL_KERNELS_OK)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "'%s': this CPU or build cannot run that "
		                "variant",
		                isa);
	out->arch = cpu.arch;
	out->simde = cpu.simde;
	out->asimd = cpu.asimd, out->fp16 = cpu.fp16, out->dotprod = cpu.dotprod;
	out->i8mm = cpu.i8mm, out->avx2 = cpu.avx2;
	out->avxvnni = cpu.avxvnni, out->avx512vnni = cpu.avx512vnni;
	out->kernel_level = fvl_isa_name(k.isa);
	out->best_level = fvl_isa_name(fvl_isa_best(&cpu));
	for (size_t i = 0; i < k.n_names && i < FVL_MAX_KERNELS; i++) {
		out->kernels[i].contract = k.names[i].contract;
		out->kernels[i].function = k.names[i].function;
		out->n_kernels++;
	}
	out->f16_weights = k.f16p16_f16_gemm ? fvl_kernel_name(&k, "f16p16_f16_gemm")
	                   : k.f16p16        ? fvl_kernel_name(&k, "f16p16_f32_gemm")
	                                     : fvl_kernel_name(&k, "f16_f32_gemm");
	out->xnnpack = fvl_xnnpack_available();
	out->n_cpus = (uint32_t)fvl_cpus_available();
#ifdef FVL_DEFAULT_THREADS
	out->default_threads = FVL_DEFAULT_THREADS;
#else
	out->default_threads = out->n_cpus;
#endif
	out->board = FVL_BOARD;
	return FVL_STATUS_OK;
}
