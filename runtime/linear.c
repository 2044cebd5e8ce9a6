/* linear.c — linear layers: weights packed for the kernels at load, the forward pass through the
 * kernel the weight type and CPU call for (XNNPACK for f32), tensors read as floats. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xnnpack.h>

#include "common.h"
#include "fp16.h"
#include "linear.h"
#include "ops.h"
#include "pool.h"

static enum fvl_status
find(const struct fvl_gguf *g, const char *name, const struct fvl_gguf_tensor **t)
{
	*t = fvl_gguf_find_tensor(g, name);
	if (!*t)
		return fvl_fail(FVL_STATUS_BAD_FILE, "the model file has no tensor '%s'", name);
	return FVL_STATUS_OK;
}

enum fvl_status
fvl_tensor_f32(const struct fvl_gguf *g, const char *name, size_t n, const float **out)
{
	const struct fvl_gguf_tensor *t;
	enum fvl_status st = find(g, name, &t);
	if (st != FVL_STATUS_OK)
		return st;
	if (t->type != FVL_TYPE_F32 || t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] != n)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "tensor '%s': expected %zu f32 values, found "
		                "%llu of %s",
		                name, n,
		                (unsigned long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]),
		                fvl_type_info(t->type)->name);
	*out = t->data;
	return FVL_STATUS_OK;
}

void fvl_tensor_row(const struct fvl_gguf_tensor *t, size_t r, float *out)
{
	const size_t n = t->ne[0];
	const uint8_t *p = t->data;
	switch (t->type) {
	case FVL_TYPE_F32: memcpy(out, p + r * n * 4, n * 4); break;
	case FVL_TYPE_F16:
		for (size_t j = 0; j < n; j++) {
			uint16_t h;
			memcpy(&h, p + (r * n + j) * 2, 2);
			out[j] = fvl_fp16_to_fp32(h);
		}
		break;
	case FVL_TYPE_BF16:
		for (size_t j = 0; j < n; j++) {
			uint16_t h;
			memcpy(&h, p + (r * n + j) * 2, 2);
			out[j] = fvl_bf16_to_fp32(h);
		}
		break;
	case FVL_TYPE_Q8_0:
		fvl_dequantize_row_q8_0((const void *)(p + r * (n / 32) * 34), out, n);
		break;
	case FVL_TYPE_Q4_0:
		fvl_dequantize_row_q4_0((const void *)(p + r * (n / 32) * 18), out, n);
		break;
	}
}

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static bool xnn_ok;

static void xnn_init_once(void)
{
	const char *off = getenv("FVL_NO_XNNPACK");
	if (off && *off && strcmp(off, "0") != 0) {
		FVL_LOG_I("XNNPACK off (FVL_NO_XNNPACK): f32 linears run on fvl's own kernels");
		return;
	}
	const enum xnn_status st = xnn_initialize(NULL);
	xnn_ok = st == xnn_status_success;
	if (!xnn_ok)
		FVL_LOG_W("XNNPACK cannot start here (status %d): f32 linears run on fvl's own "
		          "kernels",
		          (int)st);
}

bool fvl_xnnpack_available(void)
{
	pthread_once(&xnn_once, xnn_init_once);
	return xnn_ok;
}

#define XNN_SLICES 8 /* operators per f32 linear: the tasks fvl's pool splits it into */

static void xnn_delete(struct fvl_linear *l)
{
	for (size_t s = 0; s < l->n_xnn; s++)
		if (l->xnn[s])
			xnn_delete_operator(l->xnn[s]);
	free(l->xnn);
	if (l->xnn_lock) {
		pthread_mutex_destroy(l->xnn_lock);
		free(l->xnn_lock);
	}
	l->xnn = NULL, l->xnn_lock = NULL, l->n_xnn = 0;
}

/* XNNPACK packs the weights (and bias) into its own layout: a copy the size of the tensor. The
 * layer is split by outputs into up to XNN_SLICES operators (multiples of 16 columns, writing
 * into the full-width output), each run single-threaded as one task of fvl's pool: one pool for
 * everything (XNNPACK's own threading needs pthreadpool, whose workers spin against fvl's). */
void fvl_linear_attach_xnnpack(struct fvl_linear *l)
{
	if (l->type != FVL_TYPE_F32 || !fvl_xnnpack_available())
		return;
	const size_t cols = ((l->n + XNN_SLICES - 1) / XNN_SLICES + 15) & ~(size_t)15;
	l->xnn_cols = cols;
	l->n_xnn = (l->n + cols - 1) / cols;
	l->xnn = calloc(l->n_xnn, sizeof(*l->xnn));
	pthread_mutex_t *mu = malloc(sizeof(*mu));
	if (!l->xnn || !mu) {
		free(mu);
		free(l->xnn);
		l->xnn = NULL, l->n_xnn = 0;
		return;
	}
	pthread_mutex_init(mu, NULL);
	l->xnn_lock = mu;
	for (size_t s = 0; s < l->n_xnn; s++) {
		const size_t j0 = s * cols, nj = l->n - j0 < cols ? l->n - j0 : cols;
		xnn_operator_t op = NULL;
		const enum xnn_status st = xnn_create_fully_connected_nc_f32(
		        l->k, nj, l->k, l->n, (const float *)l->w + j0 * l->k,
		        l->bias ? l->bias + j0 : NULL, -INFINITY, INFINITY, 0, &op);
		if (st != xnn_status_success) {
			FVL_LOG_I("XNNPACK refused a %zu x %zu f32 linear (status %d): fvl's "
			          "kernels run it",
			          l->n, l->k, (int)st);
			xnn_delete(l);
			return;
		}
		l->xnn[s] = op;
	}
}

/* The file pages of a tensor the runtime copied (packed, widened, XNNPACK) are not read again:
 * drop them from memory so resident size is the copy, not copy plus mapping. */
static void release_pages(const void *p, size_t n)
{
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1),
	          hi = ((uintptr_t)p + n) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* f16 weights are packed into panels on CPUs whose kernel tables want them (aarch64, every
 * level): f16p16_f16_gemm runs them on fp16-arithmetic cores, f16p16_f32_gemm elsewhere (and in
 * any runtime made with another level, down to the scalar twin). */
static bool f16p16_wanted(void)
{
	struct fvl_cpu cpu;
	fvl_cpu_detect(&cpu);
	return fvl_f16p16_preferred(&cpu);
}

/* The kernel layer's name for a weight type the GEMMs take. */
static enum fvl_wtype wtype(int type)
{
	switch (type) {
	case FVL_TYPE_F16: return FVL_WTYPE_F16;
	case FVL_TYPE_Q8_0: return FVL_WTYPE_Q8_0;
	case FVL_TYPE_Q4_0: return FVL_WTYPE_Q4_0;
	default: return FVL_WTYPE_F32;
	}
}

enum fvl_status fvl_linear_init(struct fvl_linear *l, const struct fvl_gguf *g, const char *name,
                                const char *bias_name, size_t k, size_t n)
{
	const struct fvl_gguf_tensor *t;
	enum fvl_status st;
	memset(l, 0, sizeof(*l));
	if ((st = find(g, name, &t)) != FVL_STATUS_OK)
		return st;
	/* A convolution's [kw, kh, cin, cout] is the linear [kw kh cin, cout]. */
	uint64_t tk = 1;
	for (uint32_t d = 0; d + 1 < t->n_dims; d++)
		tk *= t->ne[d];
	const uint64_t tn = t->ne[t->n_dims - 1];
	if (t->n_dims < 2 || (k && tk != k) || (n && tn != n))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "tensor '%s' is %llu x %llu, expected %zu x %zu", name,
		                (unsigned long long)tk, (unsigned long long)tn, k, n);
	l->type = (int)t->type;
	l->k = tk;
	l->n = tn;
	l->w = t->data;
	if (bias_name && (st = fvl_tensor_f32(g, bias_name, l->n, &l->bias)) != FVL_STATUS_OK)
		return st;
	if (t->type == FVL_TYPE_Q4_0 || t->type == FVL_TYPE_Q8_0) {
		size_t bytes = fvl_pack_x4_size(wtype((int)t->type), l->n, l->k);
		l->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
		if (!l->packed)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory packing '%s'",
			                name);
		if (t->type == FVL_TYPE_Q4_0)
			fvl_pack_q4_0x4(t->data, l->n, l->k, l->packed);
		else
			fvl_pack_q8_0x4(t->data, l->n, l->k, l->packed);
	} else if (t->type == FVL_TYPE_F16 && f16p16_wanted()) {
		const size_t bytes = fvl_pack_f16p16_size(l->n, l->k) * 2;
		l->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
		if (!l->packed)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory packing '%s'",
			                name);
		fvl_pack_f16p16(t->data, l->n, l->k, l->packed);
	} else if (t->type == FVL_TYPE_BF16) {
		float *f = malloc(l->n * l->k * sizeof(float));
		if (!f)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory widening '%s'",
			                name);
		for (size_t r = 0; r < l->n; r++)
			fvl_tensor_row(t, r, f + r * l->k);
		l->owned = f;
		l->w = f;
		l->type = FVL_TYPE_F32;
	}
	fvl_linear_attach_xnnpack(l);
	if (l->packed || l->owned || l->xnn)
		release_pages(t->data, t->n_bytes);
	return FVL_STATUS_OK;
}

void fvl_linear_free(struct fvl_linear *l)
{
	xnn_delete(l);
	free(l->packed);
	free(l->owned);
	memset(l, 0, sizeof(*l));
}

size_t fvl_linear_owned_bytes(const struct fvl_linear *l)
{
	if (l->xnn)
		return l->n * l->k * sizeof(float);
	if (l->packed && l->type == FVL_TYPE_F16)
		return fvl_pack_f16p16_size(l->n, l->k) * 2;
	if (l->packed)
		return fvl_pack_x4_size(wtype(l->type), l->n, l->k);
	return l->owned ? l->n * l->k * sizeof(float) : 0;
}

struct xnn_ctx {
	const struct fvl_linear *l;
	size_t m;
	const float *x;
	float *y;
	_Atomic bool failed;
};

/* Operators [s0, s0 + ns) of the layer on this thread (no pthreadpool). */
static void xnn_slices(void *p, size_t s0, size_t ns)
{
	struct xnn_ctx *c = p;
	for (size_t s = s0; s < s0 + ns; s++) {
		xnn_operator_t op = c->l->xnn[s];
		if (xnn_setup_fully_connected_nc_f32(op, c->m, c->x, c->y + s * c->l->xnn_cols,
		                                     NULL) != xnn_status_success ||
		    xnn_run_operator(op, NULL) != xnn_status_success)
			atomic_store(&c->failed, true);
	}
}

void fvl_linear_forward(struct fvl_compute *compute, const struct fvl_linear *l, size_t m,
                        const float *x, size_t ldx, float *y, size_t ldy)
{
	const struct fvl_kernels *k = &compute->kernels;
	if (l->type == FVL_TYPE_Q4_0 || l->type == FVL_TYPE_Q8_0) {
		FVL_ASSERT(m * l->k <= compute->aq_cap); /* planned by fvl_compute_reserve */
		fvl_op_f32_q8_quant(compute, m, l->k, x, ldx, compute->aq, compute->ad);
		fvl_pool_x4_q8_gemm(
		        compute->pool,
		        l->type == FVL_TYPE_Q4_0 ? k->q4_0x4_q8_gemm : k->q8_0x4_q8_gemm,
		        wtype(l->type), l->k, l->n, l->packed, m, compute->aq, compute->ad, y, ldy);
		if (l->bias)
			fvl_op_add_bias(compute, m, l->n, y, ldy, l->bias);
		return;
	}
	if (l->xnn && ldx == l->k && ldy == l->n) {
		struct xnn_ctx c = {.l = l, .m = m, .x = x, .y = y};
		pthread_mutex_lock(l->xnn_lock);
		fvl_pool_run(compute->pool, l->n_xnn, 1, xnn_slices, &c);
		pthread_mutex_unlock(l->xnn_lock);
		if (!atomic_load(&c.failed))
			return;
	}
	if (l->type == FVL_TYPE_F16 && l->packed && k->f16p16_f16_gemm) {
		FVL_ASSERT(m * FVL_F16_ROW_STRIDE(l->k) <=
		           compute->aq_cap); /* planned by fvl_compute_reserve */
		uint16_t *xh = (uint16_t *)(void *)compute->aq;
		fvl_op_f32_f16_quant(compute, m, l->k, x, ldx, xh, compute->ad);
		fvl_pool_f16_gemm(compute->pool, k->f16p16_f16_gemm, l->k, l->n, l->packed, l->bias,
		                  m, xh, compute->ad, y, ldy);
		return;
	}
	if (l->type == FVL_TYPE_F16 && l->packed) {
		fvl_pool_f32_gemm(compute->pool, k->f16p16_f32_gemm, FVL_WTYPE_F16, l->k, l->n,
		                  l->packed, l->bias, m, x, ldx, y, ldy);
		return;
	}
	fvl_pool_f32_gemm(compute->pool,
	                  l->type == FVL_TYPE_F16 ? k->f16_f32_gemm : k->f32_f32_gemm,
	                  wtype(l->type), l->k, l->n, l->w, l->bias, m, x, ldx, y, ldy);
}
