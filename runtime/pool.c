/* pool.c — fvl's thread pool, the row-split drivers that run the GEMM kernels on it (each task
 * owns a tile of output columns, a multiple of 16), and a memory bandwidth probe for benchmarks.
 *
 * The pool: each thread of a job (the caller and its workers) first runs a contiguous share of
 * the tiles (the same rows of consecutive jobs stay in one core's cache), then takes tiles from
 * the end of the others' shares, so a thread the OS has paused holds up at most the tile it is
 * on. A thread waiting (a worker for the next job, the caller for the last tile) spins for up
 * to 1 ms, so back-to-back jobs start without a system call, then sleeps on a futex (a worker on
 * one of its own, so jobs on fewer threads wake only theirs); fvl_pool_rest sends waiting workers
 * to sleep at once. pthreadpool, which XNNPACK's own threading needs, spins a million rounds
 * instead (~50 ms on x86-64): f32 linears run XNNPACK single-threaded as tasks of this pool
 * (linear.c), and a pthreadpool is made only for the benchmarks' XNNPACK reference.
 *
 * How many threads a job runs on adapts: the tiles' CPU time over the jobs' wall time says how
 * many cores' work the pool gets (waiting is not counted). When k threads get less than k - 1
 * cores' worth (another program runs: a kiosk's UI), a 50 ms window tries k - 1, kept if it gets
 * at least 92% as much; k + 1 is tried back after 0.1 s, doubling to 2 s while the count stands,
 * kept if it gets 8% more. On a quiet machine k threads get nearly k cores and nothing is tried.
 * FVL_ADAPT_THREADS=0 keeps every thread. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compute.h"
#include "kernels.h"
#include "pool.h"

#define ROW_TILE  16          /* output columns per task: 64 bytes of floats */
#define WAIT_NS   1000000u    /* how long a thread waits (for a job, for the last tile) awake */
#define WINDOW_NS 50000000u   /* the jobs' wall time one measurement of a thread count takes */
#define PROBE_MIN 100000000u  /* the wait before the count is questioned: after a change, */
#define PROBE_MAX 2000000000u /* doubling to this while it stands */

/* A worker's own words, a cache line apart from the others'. */
struct worker {
	alignas(64) _Atomic uint32_t go; /* the job it is asked to join: its futex */
	_Atomic uint32_t asleep;         /* it sleeps on go (the caller wakes it) */
	uint64_t cpu_ns;                 /* its tiles' CPU time in the last job it joined */
	pthread_t thread;
	struct fvl_pool *pool;
	size_t index;
};

/* A thread's share of a job's tiles: it takes them from the front, others from the back; left
 * counts what nobody has taken yet (it may go below 0: a take that found none). */
struct share {
	alignas(64) _Atomic size_t front, back;
	_Atomic ptrdiff_t left;
};

/* One thread count's window: the tiles' CPU time and the jobs' wall time. */
struct window {
	uint64_t cpu_ns, wall_ns;
};

struct fvl_pool {
	size_t n_threads; /* the caller included */
	struct worker *w; /* (n_threads - 1) */
	size_t n_started;
	_Atomic uint32_t busy;    /* workers still in the current job: what the caller waits on */
	_Atomic uint32_t waiting; /* the caller sleeps on busy (the last worker wakes it) */
	_Atomic bool stop;
	_Atomic bool
	        rest;   /* set by fvl_pool_rest until the next job: waiting workers sleep at once */
	uint32_t epoch; /* jobs posted (the caller's) */
	/* the current job, written before the workers are asked in */
	fvl_pool_fn fn;
	void *ctx;
	size_t n, tile, used;
	struct share *share; /* (n_threads): thread 0 is the caller, 1 + i worker i */
	/* the adaptive thread count (the caller's alone) */
	bool adapt;
	size_t k;     /* threads a job runs on */
	size_t probe; /* 0, or the count a window is trying */
	struct window cur, trial;
	uint64_t next_probe_ns, probe_wait_ns;
	pthreadpool_t xnn; /* for XNNPACK's operators, made on first use */
};

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__aarch64__)
	__asm__ volatile("yield");
#elif defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until *w != v for up to WAIT_NS without sleeping (pause instructions, the clock read
 * every 64 of them), or until *quit (if given) is set; true if it changed. */
static bool spin_while(_Atomic uint32_t *w, uint32_t v, _Atomic bool *quit)
{
	uint64_t t0 = 0;
	for (uint32_t i = 1;; i++) {
		if (atomic_load_explicit(w, memory_order_acquire) != v)
			return true;
		if (quit && atomic_load_explicit(quit, memory_order_relaxed))
			return false;
		cpu_relax();
		if (i % 64 == 0) {
			const uint64_t t = clock_ns(CLOCK_MONOTONIC);
			if (!t0)
				t0 = t;
			else if (t - t0 > WAIT_NS)
				return false;
		}
	}
}

static void run_tile(struct fvl_pool *p, size_t t)
{
	const size_t i0 = t * p->tile;
	p->fn(p->ctx, i0, p->n - i0 < p->tile ? p->n - i0 : p->tile);
}

/* Thread me's share, then the others' from their back ends. */
static void run_tiles(struct fvl_pool *p, size_t me)
{
	struct share *own = &p->share[me];
	while (atomic_fetch_sub_explicit(&own->left, 1, memory_order_relaxed) > 0)
		run_tile(p, atomic_fetch_add_explicit(&own->front, 1, memory_order_relaxed));
	for (size_t k = 1; k < p->used; k++) {
		struct share *o = &p->share[(me + k) % p->used];
		while (atomic_fetch_sub_explicit(&o->left, 1, memory_order_relaxed) > 0)
			run_tile(p,
			         atomic_fetch_sub_explicit(&o->back, 1, memory_order_relaxed) - 1);
	}
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	struct fvl_pool *p = me->pool;
	uint32_t seen = 0;
	for (;;) {
		if (!spin_while(&me->go, seen, &p->rest)) {
			atomic_store(&me->asleep, 1); /* seq_cst: pairs with the caller's */
			while (atomic_load(&me->go) == seen)
				futex_wait(&me->go, seen);
			atomic_store(&me->asleep, 0);
		}
		seen = atomic_load_explicit(&me->go, memory_order_acquire);
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			return NULL;
		const uint64_t c0 = p->adapt ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
		run_tiles(p, me->index + 1);
		me->cpu_ns = p->adapt ? clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0 : 0;
		if (atomic_fetch_sub(&p->busy, 1) == 1 && atomic_load(&p->waiting))
			futex_wake(&p->busy, 1);
	}
}

/* Asks workers 0 .. n - 1 into the job just written (or, after stop is set, out). */
static void post(struct fvl_pool *p, size_t n)
{
	atomic_store_explicit(&p->busy, (uint32_t)n, memory_order_relaxed);
	atomic_store_explicit(&p->rest, false, memory_order_relaxed); /* seen with go (seq_cst) */
	p->epoch++;
	for (size_t i = 0; i < n; i++) {
		atomic_store(&p->w[i].go, p->epoch); /* seq_cst: it sees it, or we see it asleep */
		if (atomic_load(&p->w[i].asleep))
			futex_wake(&p->w[i].go, 1);
	}
}

static void wait_workers(struct fvl_pool *p)
{
	uint32_t b;
	while ((b = atomic_load_explicit(&p->busy, memory_order_acquire)) != 0)
		if (!spin_while(&p->busy, b, NULL))
			break;
	if (b == 0)
		return;
	atomic_store(&p->waiting, 1); /* seq_cst: the last worker sees it, or we see busy == 0 */
	while ((b = atomic_load(&p->busy)) != 0)
		futex_wait(&p->busy, b);
	atomic_store(&p->waiting, 0);
}

void fvl_pool_account(struct fvl_pool *p, size_t used, uint64_t cpu_ns, uint64_t wall_ns,
                      uint64_t now)
{
	struct window *win = p->probe ? &p->trial : &p->cur;
	win->cpu_ns += cpu_ns, win->wall_ns += wall_ns;
	if (win->wall_ns < WINDOW_NS)
		return;
	const double rate = (double)p->cur.cpu_ns / (double)p->cur.wall_ns;
	if (p->probe) { /* a probe's window is full: keep the count that does more */
		const double tried = (double)p->trial.cpu_ns / (double)p->trial.wall_ns;
		const bool down = used < p->k;
		if ((down && tried >= 0.92 * rate) || (!down && tried > 1.08 * rate)) {
			p->k = used;
			p->probe_wait_ns = PROBE_MIN;
		} else if (down && p->k < p->n_threads) {
			p->probe = p->k + 1, p->trial = (struct window){0};
			return;
		} else if (p->probe_wait_ns < PROBE_MAX) {
			p->probe_wait_ns *= 2;
		}
		p->next_probe_ns = now + p->probe_wait_ns;
		p->probe = 0, p->cur = (struct window){0};
		return;
	}
	if (now < p->next_probe_ns) { /* steady: keep measuring, a window at a time */
		p->cur = (struct window){0};
		return;
	}
	/* One thread fewer can do at most k - 1 threads' work: worth a try only if the k threads do
	 * less than that / 0.92 (on a quiet machine they do nearly k, and nothing is tried). */
	const bool down = p->k > 1 && 0.92 * rate <= (double)(p->k - 1);
	p->probe = down ? p->k - 1 : p->k < p->n_threads ? p->k + 1 : 0;
	p->trial = (struct window){0};
	if (!p->probe)
		p->next_probe_ns = now + PROBE_MAX, p->cur = (struct window){0};
}

enum fvl_status fvl_pool_init(size_t n_threads, struct fvl_pool **out)
{
	struct fvl_pool *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (!p)
		return FVL_STATUS_OUT_OF_MEMORY;
	p->n_threads = n_threads ? n_threads : fvl_cpus_available();
	p->k = p->n_threads;
	p->probe_wait_ns = PROBE_MIN;
	const char *env = getenv("FVL_ADAPT_THREADS");
	p->adapt = p->n_threads > 1 && !(env && strcmp(env, "0") == 0);
	if (p->n_threads > 1 &&
	    (!(p->w = aligned_alloc(64, (p->n_threads - 1) * sizeof(struct worker))) ||
	     !(p->share = aligned_alloc(64, p->n_threads * sizeof(struct share))))) {
		free(p->w);
		free(p);
		return FVL_STATUS_OUT_OF_MEMORY;
	}
	/* Workers take no signals: they go to the program's own threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->n_started + 1 < p->n_threads; p->n_started++) {
		struct worker *w = &p->w[p->n_started];
		memset(w, 0, sizeof(*w));
		w->pool = p, w->index = p->n_started;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->n_started + 1 < p->n_threads) {
		fvl_pool_free(p);
		return FVL_STATUS_OUT_OF_MEMORY;
	}
	*out = p;
	return FVL_STATUS_OK;
}

void fvl_pool_free(struct fvl_pool *pool)
{
	if (!pool)
		return;
	atomic_store_explicit(&pool->stop, true, memory_order_release);
	post(pool, pool->n_started);
	for (size_t i = 0; i < pool->n_started; i++)
		pthread_join(pool->w[i].thread, NULL);
	if (pool->xnn)
		pthreadpool_destroy(pool->xnn);
	free(pool->w);
	free(pool->share);
	free(pool);
}

size_t fvl_pool_threads(const struct fvl_pool *pool)
{
	return pool ? pool->n_threads : 1;
}

size_t fvl_pool_active(const struct fvl_pool *pool)
{
	return pool ? pool->k : 1;
}

size_t fvl_pool_next_threads(const struct fvl_pool *pool)
{
	return !pool ? 1 : pool->probe ? pool->probe : pool->k;
}

void fvl_pool_run(struct fvl_pool *pool, size_t n, size_t tile, fvl_pool_fn fn, void *ctx)
{
	if (n == 0)
		return;
	tile = tile ? tile : 1;
	const size_t n_tiles = (n + tile - 1) / tile;
	const size_t use = fvl_pool_next_threads(pool);
	if (use < 2 || n_tiles == 1) {
		const bool measure = pool && pool->adapt && use == 1;
		const uint64_t t0 = measure ? clock_ns(CLOCK_MONOTONIC) : 0;
		const uint64_t c0 = measure ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
		for (size_t i0 = 0; i0 < n; i0 += tile)
			fn(ctx, i0, n - i0 < tile ? n - i0 : tile);
		if (measure) {
			const uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
			fvl_pool_account(pool, 1, clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0, t1 - t0,
			                 t1);
		}
		return;
	}
	pool->fn = fn, pool->ctx = ctx, pool->n = n, pool->tile = tile, pool->used = use;
	for (size_t t = 0; t < use; t++) { /* contiguous shares, before the workers are asked */
		struct share *sh = &pool->share[t];
		const size_t a = n_tiles * t / use, b = n_tiles * (t + 1) / use;
		atomic_store_explicit(&sh->front, a, memory_order_relaxed);
		atomic_store_explicit(&sh->back, b, memory_order_relaxed);
		atomic_store_explicit(&sh->left, (ptrdiff_t)(b - a), memory_order_relaxed);
	}
	const uint64_t t0 = pool->adapt ? clock_ns(CLOCK_MONOTONIC) : 0;
	const uint64_t c0 = pool->adapt ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
	post(pool, use - 1);
	run_tiles(pool, 0);
	const uint64_t c1 = pool->adapt ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
	wait_workers(pool);
	if (pool->adapt) {
		uint64_t cpu = c1 - c0;
		for (size_t i = 0; i + 1 < use; i++)
			cpu += pool->w[i].cpu_ns;
		const uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
		fvl_pool_account(pool, use, cpu, t1 - t0, t1);
	}
}

void fvl_pool_rest(struct fvl_pool *pool)
{
	if (pool)
		atomic_store_explicit(&pool->rest, true, memory_order_relaxed);
}

static void xnn_noop(void *ctx, size_t i)
{
	(void)ctx, (void)i;
}

pthreadpool_t fvl_pool_xnn(struct fvl_pool *pool)
{
	if (pool && !pool->xnn && pool->n_threads > 1)
		pool->xnn = pthreadpool_create(pool->n_threads);
	return pool ? pool->xnn : NULL;
}

void fvl_pool_xnn_rest(struct fvl_pool *pool)
{
	if (pool && pool->xnn)
		pthreadpool_parallelize_1d(pool->xnn, xnn_noop, NULL, 1,
		                           PTHREADPOOL_FLAG_YIELD_WORKERS);
}

struct x4_q8_gemm_ctx {
	fvl_x4_q8_gemm_fn fn;
	size_t k, n, m, ldy, group_bytes;
	const uint8_t *w;
	const int8_t *aq;
	const float *ad;
	float *y;
};

static void x4_q8_gemm_task(void *p, size_t j0, size_t nj)
{
	const struct x4_q8_gemm_ctx *c = p;
	size_t n = c->n - j0 < nj ? c->n - j0 : nj;
	c->fn(c->k, n, c->w + (j0 / 4) * c->group_bytes, c->m, c->aq, c->ad, c->y + j0, c->ldy);
}

void fvl_pool_x4_q8_gemm(struct fvl_pool *pool, fvl_x4_q8_gemm_fn fn, enum fvl_wtype type, size_t k,
                         size_t n, const void *w, size_t m, const int8_t *aq, const float *ad,
                         float *y, size_t ldy)
{
	struct x4_q8_gemm_ctx c = {.fn = fn,
	                           .k = k,
	                           .n = n,
	                           .m = m,
	                           .ldy = ldy,
	                           .group_bytes = fvl_pack_x4_size(type, 4, k),
	                           .w = w,
	                           .aq = aq,
	                           .ad = ad,
	                           .y = y};
	/* A GEMM kernel re-lays its activation strips once per call: give each thread about two
	 * big tasks rather than many 16-row ones. */
	size_t tile = ROW_TILE;
	if (m > 1) {
		const size_t tasks = 2 * fvl_pool_threads(pool);
		tile = ((n + tasks - 1) / tasks + ROW_TILE - 1) & ~(size_t)(ROW_TILE - 1);
	}
	fvl_pool_run(pool, n, tile, x4_q8_gemm_task, &c);
}

struct f32_gemm_ctx {
	fvl_f32_gemm_fn fn;
	size_t k, n, m, ldx, ldy, row_bytes;
	const uint8_t *w;
	const float *bias, *x;
	float *y;
};

static void f32_gemm_task(void *p, size_t j0, size_t nj)
{
	const struct f32_gemm_ctx *c = p;
	size_t n = c->n - j0 < nj ? c->n - j0 : nj;
	c->fn(c->k, n, c->w + j0 * c->row_bytes, c->bias ? c->bias + j0 : NULL, c->m, c->x, c->ldx,
	      c->y + j0, c->ldy);
}

void fvl_pool_f32_gemm(struct fvl_pool *pool, fvl_f32_gemm_fn fn, enum fvl_wtype type, size_t k,
                       size_t n, const void *w, const float *bias, size_t m, const float *x,
                       size_t ldx, float *y, size_t ldy)
{
	struct f32_gemm_ctx c = {.fn = fn,
	                         .k = k,
	                         .n = n,
	                         .m = m,
	                         .ldx = ldx,
	                         .ldy = ldy,
	                         .row_bytes = k * (type == FVL_WTYPE_F16 ? 2 : 4),
	                         .w = w,
	                         .bias = bias,
	                         .x = x,
	                         .y = y};
	fvl_pool_run(pool, n, ROW_TILE, f32_gemm_task, &c);
}

struct f16_gemm_ctx {
	fvl_f16_gemm_fn fn;
	size_t k, n, m, ldy;
	const uint16_t *w, *xh;
	const float *bias, *xs;
	float *y;
};

static void f16_gemm_task(void *p, size_t j0, size_t nj)
{
	const struct f16_gemm_ctx *c = p;
	size_t n = c->n - j0 < nj ? c->n - j0 : nj;
	c->fn(c->k, n, c->w + j0 * c->k, c->bias ? c->bias + j0 : NULL, c->m, c->xh, c->xs,
	      c->y + j0, c->ldy);
}

void fvl_pool_f16_gemm(struct fvl_pool *pool, fvl_f16_gemm_fn fn, size_t k, size_t n, const void *w,
                       const float *bias, size_t m, const uint16_t *xh, const float *xs, float *y,
                       size_t ldy)
{
	struct f16_gemm_ctx c = {.fn = fn,
	                         .k = k,
	                         .n = n,
	                         .m = m,
	                         .ldy = ldy,
	                         .w = w,
	                         .xh = xh,
	                         .bias = bias,
	                         .xs = xs,
	                         .y = y};
	fvl_pool_run(pool, n, ROW_TILE, f16_gemm_task, &c);
}

struct bw_ctx {
	const uint64_t *p;
	size_t n, tile;
	uint64_t sink[64 * 8]; /* one cache line per task slot */
};

static void bw_task(void *c_, size_t i0, size_t ni)
{
	struct bw_ctx *c = c_;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = i0; i + 4 <= i0 + ni; i += 4) {
		s0 += c->p[i];
		s1 += c->p[i + 1];
		s2 += c->p[i + 2];
		s3 += c->p[i + 3];
	}
	c->sink[(i0 / c->tile) % 64 * 8] += s0 + s1 + s2 + s3;
}

double fvl_pool_read_bandwidth(struct fvl_pool *pool, size_t bytes)
{
	struct bw_ctx c;
	struct timespec a, b;
	uint64_t *p = malloc(bytes);
	double best = 0;
	if (!p)
		return 0;
	memset(p, 1, bytes);
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.n = bytes / 8;
	c.tile = c.n / 64 + 1;
	for (int r = 0; r < 5; r++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		fvl_pool_run(pool, c.n, c.tile, bw_task, &c);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
		if (s > 0 && (double)bytes / s / 1e9 > best)
			best = (double)bytes / s / 1e9;
	}
	free(p);
	return best;
}
