/* davit.c — DaViT: a convolutional patch embedding per stage, then spatial blocks (window
 * attention) and channel blocks (channel attention), each with depthwise-conv residuals and a
 * GELU MLP. Scratch is bounded at any image size: convolutions and MLPs run in tiles of TB
 * tokens, window attention one strip of window rows at a time. Reference:
 * docs/florence-vl-inference.md section 3. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "ops.h"
#include "names.h"
#include "davit.h"

#define TB             256 /* tokens per tile in convolutions and MLPs */
#define NAME(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

/* (C, 1, 3, 3) f32 -> tap-major (9, C). */
static enum fvl_status load_dw(const struct fvl_gguf *g, const char *name, size_t c, float **out)
{
	const float *w;
	enum fvl_status st = fvl_tensor_f32(g, name, 9 * c, &w);
	if (st != FVL_STATUS_OK)
		return st;
	*out = malloc(9 * c * sizeof(float));
	if (!*out)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t ch = 0; ch < c; ch++)
		for (size_t t = 0; t < 9; t++)
			(*out)[t * c + ch] = w[ch * 9 + t];
	return FVL_STATUS_OK;
}

static enum fvl_status load_block(struct fvl_davit_block *b, const struct fvl_gguf *g, size_t s,
                                  size_t j, const char *tag, size_t c)
{
	char n1[96], n2[96];
	enum fvl_status st;
#define P(x) NAME(n1, FVL_TN_V_BLK x, s, j, tag)
#define Q(x) NAME(n2, FVL_TN_V_BLK x, s, j, tag)
	if ((st = load_dw(g, P(FVL_TN_DW1 FVL_W), c, &b->dw1)) ||
	    (st = load_dw(g, P(FVL_TN_DW2 FVL_W), c, &b->dw2)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_DW1 FVL_B), c, &b->dw1_b)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_DW2 FVL_B), c, &b->dw2_b)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_W), c, &b->attn_norm_w)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_B), c, &b->attn_norm_b)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_W), c, &b->ffn_norm_w)) ||
	    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_B), c, &b->ffn_norm_b)) ||
	    (st = fvl_linear_init(&b->qkv, g, P(FVL_TN_ATTN_QKV FVL_W), Q(FVL_TN_ATTN_QKV FVL_B), c,
	                          3 * c)) ||
	    (st = fvl_linear_init(&b->attn_out, g, P(FVL_TN_ATTN_OUT FVL_W),
	                          Q(FVL_TN_ATTN_OUT FVL_B), c, c)) ||
	    (st = fvl_linear_init(&b->ffn_up, g, P(FVL_TN_FFN_UP FVL_W), Q(FVL_TN_FFN_UP FVL_B), c,
	                          4 * c)) ||
	    (st = fvl_linear_init(&b->ffn_down, g, P(FVL_TN_FFN_DOWN FVL_W),
	                          Q(FVL_TN_FFN_DOWN FVL_B), 4 * c, c)))
		return st;
#undef P
#undef Q
	return FVL_STATUS_OK;
}

static void free_block(struct fvl_davit_block *b)
{
	free(b->dw1);
	free(b->dw2);
	fvl_linear_free(&b->qkv);
	fvl_linear_free(&b->attn_out);
	fvl_linear_free(&b->ffn_up);
	fvl_linear_free(&b->ffn_down);
}

enum fvl_status fvl_davit_load(struct fvl_davit *v, const struct fvl_gguf *g)
{
	size_t dims[FVL_DAVIT_MAX_STAGES], depth[FVL_DAVIT_MAX_STAGES], heads[FVL_DAVIT_MAX_STAGES];
	size_t groups[FVL_DAVIT_MAX_STAGES], ks[FVL_DAVIT_MAX_STAGES],
	        strides[FVL_DAVIT_MAX_STAGES];
	size_t pads[FVL_DAVIT_MAX_STAGES], pre[FVL_DAVIT_MAX_STAGES];
	const struct fvl_gguf_kv *kv;
	enum fvl_status st;
	char n1[96], n2[96];

	memset(v, 0, sizeof(*v));
	if ((st = fvl_gguf_get_arr(g, FVL_KEY_V_DIM_EMBED, FVL_GGUF_TYPE_UINT32, &kv)))
		return st;
	if (kv->n == 0 || kv->n > FVL_DAVIT_MAX_STAGES)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%llu DaViT stages",
		                (unsigned long long)kv->n);
	v->n_stages = kv->n;
	const size_t ns = v->n_stages;
	if ((st = fvl_gguf_get_dims(g, FVL_KEY_V_DIM_EMBED, ns, dims)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_DEPTHS, ns, depth)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_NUM_HEADS, ns, heads)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_NUM_GROUPS, ns, groups)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_PATCH_SIZE, ns, ks)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_PATCH_STRIDE, ns, strides)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_PATCH_PADDING, ns, pads)) ||
	    (st = fvl_gguf_get_dims(g, FVL_KEY_V_PATCH_PRENORM, ns, pre)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_V_WINDOW_SIZE, 1, 64, &v->window)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_PRE_HEIGHT, 1, 16384, &v->image_size)))
		return st;
	v->eps = 1e-5f; /* nn.LayerNorm's default, what files without the key were converted from */
	if (fvl_gguf_get_f32(g, FVL_KEY_V_LAYER_NORM_EPS, &v->eps) == FVL_STATUS_OK &&
	    !(v->eps > 0.0f && v->eps < 1.0f))
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "f2.vision.layer_norm_eps %g is outside (0, 1)", (double)v->eps);
	size_t cin = 3, grid = v->image_size;
	for (size_t s = 0; s < ns; s++) {
		struct fvl_davit_stage *t = &v->stages[s];
		t->c = dims[s], t->cin = cin, t->depth = depth[s], t->heads = heads[s];
		t->groups = groups[s], t->k = ks[s], t->stride = strides[s], t->pad = pads[s];
		t->prenorm = pre[s] != 0;
		if (t->c == 0 || t->heads == 0 || t->groups == 0 || t->c % t->heads ||
		    t->c % t->groups || t->k == 0 || t->k > 64 || t->stride == 0 ||
		    t->stride > 64 || t->pad >= t->k || t->depth > 64 ||
		    t->c / t->heads > FVL_ATTN_MAX_HEAD_DIM || grid + 2 * t->pad < t->k) {
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "DaViT stage %zu: dim %zu, %zu heads, %zu groups, "
			              "patch %zu stride %zu pad %zu, depth %zu on a %zu grid: not "
			              "a shape fvl "
			              "runs (head dim <= %d)",
			              s, t->c, t->heads, t->groups, t->k, t->stride, t->pad,
			              t->depth, grid, FVL_ATTN_MAX_HEAD_DIM);
			goto error;
		}
		grid = (grid + 2 * t->pad - t->k) / t->stride + 1;
		size_t nc = t->prenorm ? cin : t->c;
		if ((st = fvl_linear_init(&t->conv, g, NAME(n1, FVL_TN_V_CONV FVL_W, s),
		                          NAME(n2, FVL_TN_V_CONV FVL_B, s), cin * t->k * t->k,
		                          t->c)) ||
		    (st = fvl_tensor_f32(g, NAME(n1, FVL_TN_V_CONV_NORM FVL_W, s), nc,
		                         &t->norm_w)) ||
		    (st = fvl_tensor_f32(g, NAME(n1, FVL_TN_V_CONV_NORM FVL_B, s), nc, &t->norm_b)))
			goto error;
		t->spatial = calloc(t->depth, sizeof(*t->spatial));
		t->channel = calloc(t->depth, sizeof(*t->channel));
		if (!t->spatial || !t->channel) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			goto error;
		}
		for (size_t j = 0; j < t->depth; j++)
			if ((st = load_block(&t->spatial[j], g, s, j, FVL_TN_V_SPATIAL, t->c)) ||
			    (st = load_block(&t->channel[j], g, s, j, FVL_TN_V_CHANNEL, t->c)))
				goto error;
		cin = t->c;
	}
	return FVL_STATUS_OK;
error:
	fvl_davit_free(v);
	return st;
}

void fvl_davit_free(struct fvl_davit *v)
{
	for (size_t s = 0; s < v->n_stages; s++) {
		struct fvl_davit_stage *t = &v->stages[s];
		fvl_linear_free(&t->conv);
		for (size_t j = 0; t->spatial && j < t->depth; j++)
			free_block(&t->spatial[j]);
		for (size_t j = 0; t->channel && j < t->depth; j++)
			free_block(&t->channel[j]);
		free(t->spatial);
		free(t->channel);
	}
	memset(v, 0, sizeof(*v));
}

static size_t conv_out(size_t in, size_t k, size_t s, size_t p)
{
	return (in + 2 * p - k) / s + 1;
}

size_t fvl_davit_grid(const struct fvl_davit *v)
{
	size_t g = v->image_size;
	for (size_t s = 0; s < v->n_stages; s++)
		g = conv_out(g, v->stages[s].k, v->stages[s].stride, v->stages[s].pad);
	return g;
}

size_t fvl_davit_n_blocks(const struct fvl_davit *v)
{
	size_t n = 0;
	for (size_t s = 0; s < v->n_stages; s++)
		n += 2 * v->stages[s].depth;
	return n;
}

size_t fvl_davit_channels(const struct fvl_davit *v)
{
	return v->n_stages ? v->stages[v->n_stages - 1].c : 0;
}

/* ---- forward ---------------------------------------------------------------------------------- */

struct buf {
	float *p;
	size_t cap;
};

static float *need(struct buf *b, size_t n)
{
	if (n > b->cap) {
		float *p = realloc(b->p, n * sizeof(float));
		if (!p)
			return NULL;
		b->p = p;
		b->cap = n;
	}
	return b->p;
}

struct im2col_ctx {
	const struct fvl_davit_stage *t;
	const float *in;
	bool chw;
	size_t h, w, wo, p0, kk;
	float *cols; /* (m, kk) */
};

/* rows [i0, i1) of the tile's patch matrix: token p0 + i, columns (ci, ky, kx), the weights'
 * order; taps outside the input are zeros. From planar input each (ci, ky) is a run of k
 * columns from one input row; from tokens each (ky, kx) scatters one token's cin values. */
static void im2col_rows(void *p, size_t i0, size_t i1)
{
	const struct im2col_ctx *c = p;
	const struct fvl_davit_stage *t = c->t;
	const size_t k = t->k, kk2 = k * k, cin = t->cin;
	for (size_t i = i0; i < i1; i++) {
		const size_t oy = (c->p0 + i) / c->wo, ox = (c->p0 + i) % c->wo;
		const ptrdiff_t y0 = (ptrdiff_t)(oy * t->stride) - (ptrdiff_t)t->pad,
		                x0 = (ptrdiff_t)(ox * t->stride) - (ptrdiff_t)t->pad;
		/* the taps [kx0, kx1) of a row land inside the input */
		const size_t kx0 = x0 < 0 ? (size_t)-x0 : 0,
		             kx1 = x0 + (ptrdiff_t)k > (ptrdiff_t)c->w
		                           ? (size_t)((ptrdiff_t)c->w - x0)
		                           : k;
		float *row = c->cols + i * c->kk;
		if (kx0 > 0 || kx1 < k || y0 < 0 || y0 + (ptrdiff_t)k > (ptrdiff_t)c->h)
			memset(row, 0, c->kk * sizeof(float)); /* an edge token: padding taps */
		for (size_t ky = 0; ky < k; ky++) {
			const ptrdiff_t y = y0 + (ptrdiff_t)ky;
			if (y < 0 || y >= (ptrdiff_t)c->h || kx1 <= kx0)
				continue;
			if (c->chw) {
				for (size_t ci = 0; ci < cin; ci++)
					memcpy(row + ci * kk2 + ky * k + kx0,
					       c->in + (ci * c->h + (size_t)y) * c->w +
					               (size_t)(x0 + (ptrdiff_t)kx0),
					       (kx1 - kx0) * sizeof(float));
				continue;
			}
			for (size_t kx = kx0; kx < kx1; kx++) {
				const float *src =
				        c->in +
				        ((size_t)y * c->w + (size_t)(x0 + (ptrdiff_t)kx)) * cin;
				float *dst = row + ky * k + kx;
				for (size_t ci = 0; ci < cin; ci++)
					dst[ci * kk2] = src[ci];
			}
		}
	}
}

/* Dense conv as a GEMM over im2col tiles of TB tokens: in is (cin, H, W) planar if chw, else
 * (H, W, cin) tokens; out (Ho, Wo, C). */
static enum fvl_status conv(const struct fvl_davit_stage *t, struct fvl_compute *compute,
                            const float *in, bool chw, size_t h, size_t w, float *out,
                            struct buf *cols)
{
	const size_t ho = conv_out(h, t->k, t->stride, t->pad),
	             wo = conv_out(w, t->k, t->stride, t->pad);
	const size_t kk = t->cin * t->k * t->k, n = ho * wo;
	float *c = need(cols, TB * kk);
	if (!c || fvl_compute_reserve(compute, TB, kk) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t p0 = 0; p0 < n; p0 += TB) {
		const size_t m = n - p0 < TB ? n - p0 : TB;
		struct im2col_ctx ic = {.t = t,
		                        .in = in,
		                        .chw = chw,
		                        .h = h,
		                        .w = w,
		                        .wo = wo,
		                        .p0 = p0,
		                        .kk = kk,
		                        .cols = c};
		fvl_op_for(compute, m, 16, im2col_rows, &ic);
		fvl_linear_forward(compute, &t->conv, m, c, kk, out + p0 * t->c, t->c);
	}
	return FVL_STATUS_OK;
}

struct ws {
	struct buf a, b, c, d, e;
};

/* x += MLP(LN(x)) in token tiles. */
static enum fvl_status mlp(const struct fvl_davit_block *b, float eps, struct fvl_compute *compute,
                           float *x, size_t n, size_t c, struct ws *w)
{
	float *h = need(&w->a, TB * c), *u = need(&w->b, TB * 4 * c), *d = need(&w->c, TB * c);
	if (!h || !u || !d || fvl_compute_reserve(compute, TB, 4 * c) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		fvl_op_layernorm(compute, m, c, x + t0 * c, b->ffn_norm_w, b->ffn_norm_b, eps, h);
		fvl_linear_forward(compute, &b->ffn_up, m, h, c, u, 4 * c);
		fvl_op_gelu(compute, m * 4 * c, u, u);
		fvl_linear_forward(compute, &b->ffn_down, m, u, 4 * c, d, c);
		fvl_op_add(compute, m * c, x + t0 * c, d, x + t0 * c);
	}
	return FVL_STATUS_OK;
}

/* x += dwconv3x3(x) */
static enum fvl_status dw_residual(struct fvl_compute *compute, const float *k, const float *bias,
                                   float *x, size_t h, size_t w, size_t c, struct ws *ws)
{
	float *t = need(&ws->d, h * w * c);
	if (!t)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	fvl_op_dwconv3x3(compute, h, w, c, x, k, bias, t);
	fvl_op_add(compute, h * w * c, x, t, x);
	return FVL_STATUS_OK;
}

/* The windows of one strip: qkv (win, wp, 3c) strip rows -> wq (n_win, win*win, 3c) window-major,
 * attention per (window, head) into att (n_win, win*win, c), back to wo (win, wp, c). */
struct windows_ctx {
	fvl_attn_fn attn;
	size_t win, wp, c, heads;
	const float *qkv;
	float *wq, *att, *wo;
};

static void gather_windows(void *p, size_t w0, size_t w1)
{
	const struct windows_ctx *x = p;
	const size_t ww = x->win * x->win;
	for (size_t wx = w0; wx < w1; wx++)
		for (size_t i = 0; i < ww; i++)
			memcpy(x->wq + (wx * ww + i) * 3 * x->c,
			       x->qkv +
			               ((i / x->win) * x->wp + wx * x->win + i % x->win) * 3 * x->c,
			       3 * x->c * sizeof(float));
}

static void scatter_windows(void *p, size_t w0, size_t w1)
{
	const struct windows_ctx *x = p;
	const size_t ww = x->win * x->win;
	for (size_t wx = w0; wx < w1; wx++)
		for (size_t i = 0; i < ww; i++)
			memcpy(x->wo + ((i / x->win) * x->wp + wx * x->win + i % x->win) * x->c,
			       x->att + (wx * ww + i) * x->c, x->c * sizeof(float));
}

/* tasks [t0, t1) of window t / heads, head t % heads */
static void window_heads(void *p, size_t t0, size_t t1)
{
	const struct windows_ctx *x = p;
	const size_t ww = x->win * x->win, c = x->c, hd = c / x->heads;
	for (size_t t = t0; t < t1; t++) {
		const size_t wx = t / x->heads, h = t % x->heads;
		const float *wq = x->wq + wx * ww * 3 * c;
		const struct fvl_attn_args a = {
		        .n_q = ww,
		        .n_kv = ww,
		        .n_heads = x->heads,
		        .n_kv_heads = x->heads,
		        .head_dim = hd,
		        .q = wq,
		        .ldq = 3 * c,
		        .k = wq + c,
		        .v = wq + 2 * c,
		        .ldk = 3 * c,
		        .ldv = 3 * c,
		        .kv_f16 = false,
		        .causal = false,
		        .scale = 1.0f / sqrtf((float)hd),
		        .o = x->att + wx * ww * c,
		        .ldo = c,
		        .head0 = h,
		        .head1 = h + 1,
		};
		x->attn(&a);
	}
}

/* Window attention one strip of window rows at a time: scratch is a strip, not the image. The
 * windows' gathers, their (window, head) attentions and the scatters run on the pool. */
static enum fvl_status spatial_block(const struct fvl_davit_block *b, const struct fvl_davit *v,
                                     const struct fvl_davit_stage *t, struct fvl_compute *compute,
                                     float *x, size_t h, size_t w, struct ws *ws)
{
	const float eps = v->eps;
	const size_t c = t->c, win = v->window, n = h * w;
	const size_t wp = (w + win - 1) / win * win, hp = (h + win - 1) / win * win, ns = win * wp;
	enum fvl_status st = dw_residual(compute, b->dw1, b->dw1_b, x, h, w, c, ws);
	if (st != FVL_STATUS_OK)
		return st;
	float *hs = need(&ws->a, ns * c), *qkv = need(&ws->b, ns * 3 * c);
	float *wq = need(&ws->c, ns * 3 * c), *wo = need(&ws->e, ns * c);
	float *att = need(&ws->d, ns * c);
	if (!hs || !qkv || !wq || !wo || !att ||
	    (st = fvl_compute_reserve(compute, ns, c)) != FVL_STATUS_OK)
		return st != FVL_STATUS_OK ? st
		                           : fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct windows_ctx wc = {
	        .attn = compute->kernels.attn,
	        .win = win,
	        .wp = wp,
	        .c = c,
	        .heads = t->heads,
	        .qkv = qkv,
	        .wq = wq,
	        .att = att,
	        .wo = wo,
	};
	const size_t n_win = wp / win;
	for (size_t wy = 0; wy < hp / win; wy++) {
		const size_t rows = h - wy * win < win ? h - wy * win : win;
		float *xs = x + wy * win * w * c; /* the strip's first row in x */
		/* LayerNorm of the strip's rows, zero padding right and below (padded tokens take
		 * part in the attention, as in the reference) */
		memset(hs, 0, ns * c * sizeof(float));
		if (wp == w)
			fvl_op_layernorm(compute, rows * w, c, xs, b->attn_norm_w, b->attn_norm_b,
			                 eps, hs);
		else
			for (size_t r = 0; r < rows; r++)
				fvl_op_layernorm(compute, w, c, xs + r * w * c, b->attn_norm_w,
				                 b->attn_norm_b, eps, hs + r * wp * c);
		fvl_linear_forward(compute, &b->qkv, ns, hs, c, qkv, 3 * c);
		fvl_op_for(compute, n_win, 1, gather_windows, &wc);
		fvl_op_for(compute, n_win * t->heads, 1, window_heads, &wc);
		fvl_op_for(compute, n_win, 1, scatter_windows, &wc);
		/* proj on the kept tokens only, added to x */
		if (wp == w) {
			fvl_linear_forward(compute, &b->attn_out, rows * w, wo, c, att, c);
			fvl_op_add(compute, rows * w * c, xs, att, xs);
		} else {
			for (size_t r = 0; r < rows; r++) {
				fvl_linear_forward(compute, &b->attn_out, w, wo + r * wp * c, c,
				                   att, c);
				fvl_op_add(compute, w * c, xs + r * w * c, att, xs + r * w * c);
			}
		}
	}
	if ((st = dw_residual(compute, b->dw2, b->dw2_b, x, h, w, c, ws)) != FVL_STATUS_OK)
		return st;
	return mlp(b, eps, compute, x, n, c, ws);
}

/* One tile of m tokens of channel attention, group g per task: the Gram pass adds the group's
 * Q_g^T K_g over the tile's tokens into A_g (the tile's sums made from zero, then added: a blocked
 * sum over the image's tokens) and keeps v; the output pass computes O_g = V_g A_g^T. */
struct channel_ctx {
	const struct fvl_kernels *k;
	size_t c, cg, m, t0;
	const float *qkv; /* (m, 3c) */
	float *am;        /* (g, cg, cg): the sums */
	float *v;         /* (n, c) */
	float *o;         /* (m, c) */
};

static void channel_gram(void *p, size_t g0, size_t g1)
{
	const struct channel_ctx *x = p;
	const size_t c = x->c, cg = x->cg, m = x->m;
	for (size_t g = g0; g < g1; g++) {
		const float *q = x->qkv + g * cg;
		x->k->gram(m, cg, q, q + c, 3 * c, x->am + g * cg * cg);
		for (size_t r = 0; r < m; r++)
			memcpy(x->v + (x->t0 + r) * c + g * cg, q + r * 3 * c + 2 * c,
			       cg * sizeof(float));
	}
}

static void channel_apply(void *p, size_t g0, size_t g1)
{
	const struct channel_ctx *x = p;
	for (size_t g = g0; g < g1; g++) /* o[r][g cg + i] = sum_j v[r][g cg + j] A_g[i][j] */
		x->k->gram_apply(x->m, x->cg, x->am + g * x->cg * x->cg,
		                 x->v + x->t0 * x->c + g * x->cg, x->c, x->o + g * x->cg, x->c);
}

/* Channel attention in token tiles: A_g = softmax(Q_g^T K_g / sqrt(n)) (cg x cg per group)
 * accumulates tile by tile (each tile's sums made by the gram kernel from zero, then added:
 * blocked summation over the up to 36,864 tokens), v is kept; groups run on the pool. */
static enum fvl_status channel_block(const struct fvl_davit_block *b, const struct fvl_davit *davit,
                                     const struct fvl_davit_stage *t, struct fvl_compute *compute,
                                     float *x, size_t h, size_t w, struct ws *ws)
{
	const float eps = davit->eps;
	const size_t c = t->c, n = h * w, g = t->groups, cg = c / g;
	enum fvl_status st = dw_residual(compute, b->dw1, b->dw1_b, x, h, w, c, ws);
	if (st != FVL_STATUS_OK)
		return st;
	float *hn = need(&ws->a, TB * c), *qkv = need(&ws->b, TB * 3 * c), *v = need(&ws->e, n * c);
	float *am = need(&ws->c, g * cg * cg), *o = need(&ws->d, TB * c);
	if (!hn || !qkv || !v || !am || !o || fvl_compute_reserve(compute, TB, c) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct channel_ctx cc = {
	        .k = &compute->kernels,
	        .c = c,
	        .cg = cg,
	        .qkv = qkv,
	        .am = am,
	        .v = v,
	        .o = o,
	};
	memset(am, 0, g * cg * cg * sizeof(float));
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		fvl_op_layernorm(compute, m, c, x + t0 * c, b->attn_norm_w, b->attn_norm_b, eps,
		                 hn);
		fvl_linear_forward(compute, &b->qkv, m, hn, c, qkv, 3 * c);
		cc.m = m, cc.t0 = t0;
		fvl_op_for(compute, g, 1, channel_gram, &cc);
	}
	compute->kernels.softmax(g * cg, cg, am, 1.0f / sqrtf((float)n));
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		cc.m = m, cc.t0 = t0;
		fvl_op_for(compute, g, 1, channel_apply, &cc);
		fvl_linear_forward(compute, &b->attn_out, m, o, c, hn, c);
		fvl_op_add(compute, m * c, x + t0 * c, hn, x + t0 * c);
	}
	if ((st = dw_residual(compute, b->dw2, b->dw2_b, x, h, w, c, ws)) != FVL_STATUS_OK)
		return st;
	return mlp(b, eps, compute, x, n, c, ws);
}

static double ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

enum fvl_status fvl_davit_forward(const struct fvl_davit *v, struct fvl_compute *compute,
                                  const float *pixels, float *out, double *stage_ms)
{
	struct ws ws = {0};
	struct buf cols = {0}, xa = {0}, xb = {0};
	enum fvl_status st = FVL_STATUS_OK;
	size_t h = v->image_size, w = v->image_size;
	const float *in = pixels;
	bool chw = true;
	for (size_t s = 0; s < v->n_stages && st == FVL_STATUS_OK; s++) {
		const struct fvl_davit_stage *t = &v->stages[s];
		const double t0 = ms_now();
		const size_t ho = conv_out(h, t->k, t->stride, t->pad),
		             wo = conv_out(w, t->k, t->stride, t->pad);
		float *x = need(s % 2 ? &xb : &xa, ho * wo * t->c);
		if (!x) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for DaViT stage %zu",
			              s);
			break;
		}
		if (t->prenorm) { /* LayerNorm on the incoming tokens, in place (they are ours) */
			fvl_op_layernorm(compute, h * w, t->cin, in, t->norm_w, t->norm_b, v->eps,
			                 (float *)in);
		}
		if ((st = conv(t, compute, in, chw, h, w, x, &cols)) != FVL_STATUS_OK)
			break;
		if (!t->prenorm)
			fvl_op_layernorm(compute, ho * wo, t->c, x, t->norm_w, t->norm_b, v->eps,
			                 x);
		h = ho, w = wo;
		for (size_t j = 0; j < t->depth && st == FVL_STATUS_OK; j++) {
			st = spatial_block(&t->spatial[j], v, t, compute, x, h, w, &ws);
			if (st == FVL_STATUS_OK)
				st = fvl_compute_step(compute, "DaViT spatial block");
			if (st == FVL_STATUS_OK)
				st = channel_block(&t->channel[j], v, t, compute, x, h, w, &ws);
			if (st == FVL_STATUS_OK)
				st = fvl_compute_step(compute, "DaViT channel block");
		}
		in = x;
		chw = false;
		if (stage_ms) { /* a benchmark: time it, and mark it for counting */
			stage_ms[s] = ms_now() - t0;
			fvl_stage_mark(FVL_VISION_MARK + 1 + (unsigned)s);
		}
	}
	if (st == FVL_STATUS_OK)
		memcpy(out, in, h * w * fvl_davit_channels(v) * sizeof(float));
	free(ws.a.p), free(ws.b.p), free(ws.c.p), free(ws.d.p), free(ws.e.p);
	free(cols.p), free(xa.p), free(xb.p);
	return st;
}
