/* pool.c — the thread pool (pthreadpool, shared with XNNPACK), the row-split drivers that run the
 * GEMM kernels on it (each task owns a tile of output columns, a multiple of 16), and a memory
 * bandwidth probe for benchmarks. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "pool.h"

#define ROW_TILE 16 /* output columns per task: 64 bytes of floats */

enum fvl_status fvl_pool_init(size_t n_threads, pthreadpool_t *out)
{
	*out = pthreadpool_create(n_threads);
	return *out ? FVL_STATUS_OK : FVL_STATUS_OUT_OF_MEMORY;
}

void fvl_pool_free(pthreadpool_t pool)
{
	if (pool)
		pthreadpool_destroy(pool);
}

size_t fvl_pool_threads(pthreadpool_t pool)
{
	return pthreadpool_get_threads_count(pool);
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

void fvl_pool_x4_q8_gemm(pthreadpool_t pool, fvl_x4_q8_gemm_fn fn, enum fvl_wtype type, size_t k,
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
	pthreadpool_parallelize_1d_tile_1d(pool, x4_q8_gemm_task, &c, n, tile, 0);
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

void fvl_pool_f32_gemm(pthreadpool_t pool, fvl_f32_gemm_fn fn, enum fvl_wtype type, size_t k,
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
	pthreadpool_parallelize_1d_tile_1d(pool, f32_gemm_task, &c, n, ROW_TILE, 0);
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

void fvl_pool_f16_gemm(pthreadpool_t pool, fvl_f16_gemm_fn fn, size_t k, size_t n, const void *w,
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
	pthreadpool_parallelize_1d_tile_1d(pool, f16_gemm_task, &c, n, ROW_TILE, 0);
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

double fvl_pool_read_bandwidth(pthreadpool_t pool, size_t bytes)
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
		pthreadpool_parallelize_1d_tile_1d(pool, bw_task, &c, c.n, c.tile, 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
		if (s > 0 && (double)bytes / s / 1e9 > best)
			best = (double)bytes / s / 1e9;
	}
	free(p);
	return best;
}
