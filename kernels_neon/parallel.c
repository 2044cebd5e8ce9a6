/* parallel.c — pthreadpool wrappers: each task owns a 16-row tile of the output columns. */
#include "gguf.h"
#include "kernels.h"
#include "parallel.h"

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

struct qgemm_ctx {
	fvl_qgemm_fn fn;
	size_t k, n, m, ldy, group_bytes;
	const uint8_t *w;
	const int8_t *aq;
	const float *ad;
	float *y;
};

static void qgemm_task(void *p, size_t j0, size_t nj)
{
	const struct qgemm_ctx *c = p;
	size_t n = c->n - j0 < nj ? c->n - j0 : nj;
	c->fn(c->k, n, c->w + (j0 / 4) * c->group_bytes, c->m, c->aq, c->ad, c->y + j0, c->ldy);
}

void fvl_qgemm_run(pthreadpool_t pool, fvl_qgemm_fn fn, int type, size_t k, size_t n,
                   const void *w, size_t m, const int8_t *aq, const float *ad, float *y,
                   size_t ldy)
{
	struct qgemm_ctx c = {fn, k, n, m, ldy, fvl_pack_x4_size(type, 4, k), w, aq, ad, y};
	pthreadpool_parallelize_1d_tile_1d(pool, qgemm_task, &c, n, ROW_TILE, 0);
}

struct fgemm_ctx {
	fvl_fgemm_fn fn;
	size_t k, n, m, ldx, ldy, row_bytes;
	const uint8_t *w;
	const float *bias, *x;
	float *y;
};

static void fgemm_task(void *p, size_t j0, size_t nj)
{
	const struct fgemm_ctx *c = p;
	size_t n = c->n - j0 < nj ? c->n - j0 : nj;
	c->fn(c->k, n, c->w + j0 * c->row_bytes, c->bias ? c->bias + j0 : NULL, c->m, c->x, c->ldx,
	      c->y + j0, c->ldy);
}

void fvl_fgemm_run(pthreadpool_t pool, fvl_fgemm_fn fn, int type, size_t k, size_t n,
                   const void *w, const float *bias, size_t m, const float *x, size_t ldx,
                   float *y, size_t ldy)
{
	struct fgemm_ctx c = {fn, k, n, m, ldx, ldy, k * (type == FVL_TYPE_F16 ? 2 : 4), w, bias, x, y};
	pthreadpool_parallelize_1d_tile_1d(pool, fgemm_task, &c, n, ROW_TILE, 0);
}
