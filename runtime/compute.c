/* compute.c — the compute context every stage runs in: the kernel table for this CPU (or a forced
 * level), the thread pool sized to the CPUs this process may use, and activation scratch. */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "compute.h"
#include "pool.h"

enum fvl_status fvl_compute_init(struct fvl_compute *compute, size_t n_threads, const char *isa)
{
	struct fvl_cpu cpu;
	memset(compute, 0, sizeof(*compute));
	fvl_cpu_detect(&cpu);
	const enum fvl_kernels_status ks = fvl_kernels_init(&compute->kernels, &cpu, isa);
	if (ks == FVL_KERNELS_UNKNOWN_ISA)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "FVL_ISA=%s is not one of scalar, baseline, "
		                "dotprod, i8mm, avx2",
		                isa);
	if (ks != FVL_KERNELS_OK)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "FVL_ISA=%s: this CPU or build cannot run that "
		                "variant",
		                isa);
	const size_t avail = fvl_cpus_available();
#ifdef FVL_DEFAULT_THREADS
	if (n_threads == 0) /* the board profile's default (boards/<board>/board.mk) */
		n_threads = FVL_DEFAULT_THREADS;
#endif
	if (n_threads == 0 || (n_threads > avail && avail > 0)) {
		if (n_threads > avail)
			FVL_LOG_W("%zu threads asked for, %zu CPUs available: using %zu", n_threads,
			          avail, avail);
		n_threads = avail;
	}
	if (fvl_pool_init(n_threads, &compute->pool) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "cannot create the thread pool");
	if (isa && *isa)
		FVL_LOG_I("kernel level %s forced (FVL_ISA / isa); this CPU's best is %s",
		          fvl_isa_name(compute->kernels.isa), fvl_isa_name(fvl_isa_best(&cpu)));
	FVL_LOG_D("compute: kernel level %s, %zu threads (%zu CPUs available)",
	          fvl_isa_name(compute->kernels.isa), n_threads, avail);
	return FVL_STATUS_OK;
}

size_t fvl_cpus_available(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (size_t)CPU_COUNT(&set);
	const long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

void fvl_compute_rest(struct fvl_compute *compute)
{
	fvl_pool_rest(compute->pool);
	fvl_pool_xnn_rest(compute->pool);
}

void fvl_compute_free(struct fvl_compute *compute)
{
	fvl_pool_free(compute->pool);
	free(compute->aq);
	free(compute->ad);
	memset(compute, 0, sizeof(*compute));
}

enum fvl_status fvl_compute_check_abort(struct fvl_compute *compute)
{
	if (compute->abort_cb && compute->abort_cb(compute->cb_user))
		return fvl_fail(FVL_STATUS_CANCELLED, "cancelled by the caller's abort callback");
	return FVL_STATUS_OK;
}

enum fvl_status fvl_compute_step(struct fvl_compute *compute, const char *stage)
{
	compute->progress_done++;
	if (compute->progress_cb)
		compute->progress_cb(compute->cb_user, stage, compute->progress_done,
		                     compute->progress_total);
	return fvl_compute_check_abort(compute);
}

enum fvl_status fvl_compute_reserve(struct fvl_compute *compute, size_t m, size_t k)
{
	size_t need = m * ((k + 31) & ~(size_t)31);
	if (need <= compute->aq_cap)
		return FVL_STATUS_OK;
	/* aq also holds the f16 activations of the fp16-arithmetic GEMM: 2 bytes per value. */
	int8_t *aq = realloc(compute->aq, 2 * need);
	if (aq)
		compute->aq = aq;
	float *ad = realloc(compute->ad, (need / 32) * sizeof(float));
	if (ad)
		compute->ad = ad;
	if (!aq || !ad)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for %zu activations",
		                need);
	compute->aq_cap = need;
	return FVL_STATUS_OK;
}
