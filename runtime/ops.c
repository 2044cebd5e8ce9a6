/* ops.c — non-GEMM kernels split across the pool (ops.h). A call too small to be worth waking the
 * workers (under MIN_WORK values) runs on the calling thread. */
#include "ops.h"
#include "pool.h"

#define MIN_WORK 8192 /* values: below this, one call on this thread */
#define Q_BLOCK  32   /* query rows per attention task */

struct range_ctx {
	fvl_range_fn fn;
	void *ctx;
	size_t n;
};

static void range_task(void *p, size_t i0, size_t len)
{
	const struct range_ctx *c = p;
	c->fn(c->ctx, i0, i0 + len < c->n ? i0 + len : c->n);
}

void fvl_op_for(struct fvl_compute *compute, size_t n, size_t tile, fvl_range_fn fn, void *ctx)
{
	if (n == 0)
		return;
	if (tile == 0)
		tile = 1;
	if (!compute->pool || fvl_pool_threads(compute->pool) < 2 || n <= tile) {
		fn(ctx, 0, n);
		return;
	}
	struct range_ctx c = {.fn = fn, .ctx = ctx, .n = n};
	fvl_pool_run(compute->pool, n, tile, range_task, &c);
}

/* Rows of `per_row` values in tiles of about 1/(4 threads) of the work, at least MIN_WORK
 * values each. */
static size_t row_tile(const struct fvl_compute *compute, size_t m, size_t per_row)
{
	const size_t threads = compute->pool ? fvl_pool_threads(compute->pool) : 1;
	size_t t = (m + 4 * threads - 1) / (4 * threads);
	const size_t min_rows = (MIN_WORK + per_row - 1) / (per_row ? per_row : 1);
	if (t < min_rows)
		t = min_rows;
	return t ? t : 1;
}

/* One row or element-range op: y = op(x) with norm weights g, b (add: y = x + b; bias: y += b). */
struct rows_ctx {
	const struct fvl_kernels *k;
	size_t n, ldy; /* row length; y's row stride (bias) */
	const float *x, *g, *b;
	float *y;
	float eps;
};

static void layernorm_rows(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	c->k->layernorm(i1 - i0, c->n, c->x + i0 * c->n, c->g, c->b, c->eps, c->y + i0 * c->n);
}

void fvl_op_layernorm(struct fvl_compute *compute, size_t m, size_t n, const float *x,
                      const float *g, const float *b, float eps, float *y)
{
	struct rows_ctx c = {
	        .k = &compute->kernels, .n = n, .x = x, .g = g, .b = b, .y = y, .eps = eps};
	fvl_op_for(compute, m, row_tile(compute, m, n), layernorm_rows, &c);
}

static void rmsnorm_rows(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	c->k->rmsnorm(i1 - i0, c->n, c->x + i0 * c->n, c->g, c->eps, c->y + i0 * c->n);
}

void fvl_op_rmsnorm(struct fvl_compute *compute, size_t m, size_t n, const float *x, const float *g,
                    float eps, float *y)
{
	struct rows_ctx c = {.k = &compute->kernels, .n = n, .x = x, .g = g, .y = y, .eps = eps};
	fvl_op_for(compute, m, row_tile(compute, m, n), rmsnorm_rows, &c);
}

static void silu_mul_rows(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	for (size_t i = i0; i < i1; i++)
		c->k->silu_mul(c->n, c->x + i * 2 * c->n, c->x + i * 2 * c->n + c->n,
		               c->y + i * c->n);
}

void fvl_op_silu_mul_halves(struct fvl_compute *compute, size_t m, size_t n, const float *x,
                            float *y)
{
	struct rows_ctx c = {.k = &compute->kernels, .n = n, .x = x, .y = y};
	fvl_op_for(compute, m, row_tile(compute, m, 2 * n), silu_mul_rows, &c);
}

static void gelu_range(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	c->k->gelu(i1 - i0, c->x + i0, c->y + i0);
}

void fvl_op_gelu(struct fvl_compute *compute, size_t n, const float *x, float *y)
{
	struct rows_ctx c = {.k = &compute->kernels, .x = x, .y = y};
	fvl_op_for(compute, n, row_tile(compute, (n + 63) / 64, 64) * 64, gelu_range, &c);
}

static void add_range(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	c->k->add(i1 - i0, c->x + i0, c->b + i0, c->y + i0);
}

void fvl_op_add(struct fvl_compute *compute, size_t n, const float *a, const float *b, float *y)
{
	struct rows_ctx c = {.k = &compute->kernels, .x = a, .b = b, .y = y};
	fvl_op_for(compute, n, row_tile(compute, (n + 63) / 64, 64) * 64, add_range, &c);
}

static void bias_rows(void *p, size_t i0, size_t i1)
{
	const struct rows_ctx *c = p;
	for (size_t i = i0; i < i1; i++)
		c->k->add(c->n, c->y + i * c->ldy, c->b, c->y + i * c->ldy);
}

void fvl_op_add_bias(struct fvl_compute *compute, size_t m, size_t n, float *y, size_t ldy,
                     const float *bias)
{
	struct rows_ctx c = {.k = &compute->kernels, .n = n, .ldy = ldy, .b = bias, .y = y};
	fvl_op_for(compute, m, row_tile(compute, m, n), bias_rows, &c);
}

struct dw_ctx {
	fvl_dwconv3x3_fn fn;
	size_t h, w, c;
	const float *x, *k, *b;
	float *y;
};

static void dw_rows(void *p, size_t i0, size_t i1)
{
	const struct dw_ctx *c = p;
	c->fn(c->h, c->w, c->c, i0, i1, c->x, c->k, c->b, c->y);
}

void fvl_op_dwconv3x3(struct fvl_compute *compute, size_t h, size_t w, size_t c, const float *x,
                      const float *k, const float *b, float *y)
{
	struct dw_ctx d = {.fn = compute->kernels.dwconv3x3,
	                   .h = h,
	                   .w = w,
	                   .c = c,
	                   .x = x,
	                   .k = k,
	                   .b = b,
	                   .y = y};
	fvl_op_for(compute, h, row_tile(compute, h, 9 * w * c), dw_rows, &d);
}

struct attn_ctx {
	fvl_attn_fn fn;
	const struct fvl_attn_args *a;
	size_t n_blocks;
};

/* task t: head head0 + t / n_blocks, query rows of block t % n_blocks */
static void attn_task(void *p, size_t t, size_t len)
{
	const struct attn_ctx *c = p;
	(void)len; /* tiles of 1 */
	struct fvl_attn_args a = *c->a;
	const size_t h = c->a->head0 + t / c->n_blocks, r0 = (t % c->n_blocks) * Q_BLOCK;
	const size_t rows = a.n_q - r0 < Q_BLOCK ? a.n_q - r0 : Q_BLOCK;
	a.head0 = h, a.head1 = h + 1;
	a.q += r0 * a.ldq;
	a.o += r0 * a.ldo;
	a.n_q = rows;
	a.q_pos0 += r0; /* causal: query i sits at q_pos0 + i */
	c->fn(&a);
}

void fvl_op_attn(struct fvl_compute *compute, const struct fvl_attn_args *a)
{
	const size_t heads = a->head1 - a->head0;
	const size_t n_blocks = (a->n_q + Q_BLOCK - 1) / Q_BLOCK;
	if (!compute->pool || fvl_pool_threads(compute->pool) < 2 || heads * n_blocks < 2 ||
	    a->n_q * a->n_kv * heads < MIN_WORK) {
		compute->kernels.attn(a);
		return;
	}
	struct attn_ctx c = {.fn = compute->kernels.attn, .a = a, .n_blocks = n_blocks};
	fvl_pool_run(compute->pool, heads * n_blocks, 1, attn_task, &c);
}

struct quant_ctx {
	const struct fvl_kernels *k;
	size_t kk, ldx;
	const float *x;
	void *q;
	float *d;
};

static void q8_rows(void *p, size_t i0, size_t i1)
{
	const struct quant_ctx *c = p;
	c->k->f32_q8_quant(i1 - i0, c->kk, c->x + i0 * c->ldx, c->ldx, (int8_t *)c->q + i0 * c->kk,
	                   c->d + i0 * (c->kk / 32));
}

void fvl_op_f32_q8_quant(struct fvl_compute *compute, size_t m, size_t k, const float *x,
                         size_t ldx, int8_t *q, float *d)
{
	struct quant_ctx c = {.k = &compute->kernels, .kk = k, .ldx = ldx, .x = x, .q = q, .d = d};
	fvl_op_for(compute, m, row_tile(compute, m, k), q8_rows, &c);
}

static void f16_rows(void *p, size_t i0, size_t i1)
{
	const struct quant_ctx *c = p;
	c->k->f32_f16_quant(i1 - i0, c->kk, c->x + i0 * c->ldx, c->ldx,
	                    (uint16_t *)c->q + i0 * FVL_F16_ROW_STRIDE(c->kk), c->d + i0);
}

void fvl_op_f32_f16_quant(struct fvl_compute *compute, size_t m, size_t k, const float *x,
                          size_t ldx, uint16_t *xh, float *xs)
{
	struct quant_ctx c = {
	        .k = &compute->kernels, .kk = k, .ldx = ldx, .x = x, .q = xh, .d = xs};
	fvl_op_for(compute, m, row_tile(compute, m, k), f16_rows, &c);
}
