/* compute.h — the compute context every stage runs in (compute.c): the kernel table, the thread
 * pool, activation scratch. One per session or task run; not shared between threads. */
#ifndef FVL_COMPUTE_H
#define FVL_COMPUTE_H

#include "fvl.h"
#include "kernels.h"
#include "pool.h"

struct fvl_compute {
	struct fvl_kernels kernels;
	struct fvl_pool *pool;
	/* activation scratch, grown by fvl_compute_reserve before compute: */
	int8_t *aq; /* (aq_cap) q8 values, or (aq_cap) f16 values of the fp16 path (2 bytes each) */
	float *ad;  /* (aq_cap / 32) block scales, or one inverse scale per f16 row */
	size_t aq_cap; /* values */
	/* the caller's callbacks (fvl_session_params), and the progress counted so far */
	bool (*abort_cb)(void *user);
	void (*progress_cb)(void *user, const char *stage, uint32_t done, uint32_t total);
	void *cb_user;
	uint32_t progress_done, progress_total;
};

/* n_threads 0: every CPU this process may run on (its affinity mask; the board's default where a
 * board build sets one); more than that is clamped to it with a warning, since surplus threads
 * only wait for each other. isa: NULL for the best variant, or an FVL_ISA name. */
enum fvl_status fvl_compute_init(struct fvl_compute *compute, size_t n_threads, const char *isa);
void fvl_compute_free(struct fvl_compute *compute);
/* CPUs this process may run on (sched_getaffinity; the online count if that fails). */
size_t fvl_cpus_available(void);
/* Sends the pool's workers to sleep now instead of spinning for the next job: at the end of a
 * stage, before handing control to the caller (other programs on the board get the CPUs). */
void fvl_compute_rest(struct fvl_compute *compute);
/* CANCELLED (with the error set) when the caller's abort callback asks to stop, else OK. */
enum fvl_status fvl_compute_check_abort(struct fvl_compute *compute);
/* One more step of progress_total done: tells the progress callback, then asks the abort one. */
enum fvl_status fvl_compute_step(struct fvl_compute *compute, const char *stage);
/* Makes the activation scratch hold m x k values (call at plan time, not per token). */
enum fvl_status fvl_compute_reserve(struct fvl_compute *compute, size_t m, size_t k);

#endif /* FVL_COMPUTE_H */
