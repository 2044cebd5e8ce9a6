/* florence2.c — DaViT (conv patch embeddings; spatial blocks with window attention and channel
 * blocks with channel attention, each with depthwise-conv residuals and a GELU MLP), Florence-2's
 * _encode_image (2-D position embedding, cosine temporal embedding at t = 0, pools, projection,
 * LayerNorm) and its post-LN BART encoder. Reference: docs/florence-vl-inference.md sections 3-5. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "florence2.h"

#define TB 256 /* tokens per tile in convolutions and MLPs: bounded scratch at any image size */
#define NAME(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

static enum fvl_status u32_arr(const struct fvl_gguf *g, const char *key, size_t n, size_t *out)
{
	const struct fvl_gguf_kv *kv;
	enum fvl_status st = fvl_gguf_get_arr(g, key, FVL_GGUF_UINT32, &kv);
	if (st != FVL_STATUS_OK)
		return st;
	if (kv->n != n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' has %llu entries, expected %zu", key,
		                (unsigned long long)kv->n, n);
	for (size_t i = 0; i < n; i++)
		out[i] = (size_t)fvl_gguf_arr_int(kv, i);
	return FVL_STATUS_OK;
}

static enum fvl_status get_size(const struct fvl_gguf *g, const char *key, size_t *out)
{
	uint32_t v;
	enum fvl_status st = fvl_gguf_get_u32(g, key, &v);
	if (st == FVL_STATUS_OK && v == 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "metadata '%s' is 0", key);
	*out = v;
	return st;
}

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

static enum fvl_status load_block(struct fvl_f2_block *b, const struct fvl_gguf *g, size_t s,
                                  size_t j, const char *tag, size_t c)
{
	char n1[96], n2[96];
	enum fvl_status st;
#define P(x) NAME(n1, "v.blk.%zu.%zu.%s." x, s, j, tag)
#define Q(x) NAME(n2, "v.blk.%zu.%zu.%s." x, s, j, tag)
	if ((st = load_dw(g, P("dw1.weight"), c, &b->dw1)) ||
	    (st = load_dw(g, P("dw2.weight"), c, &b->dw2)) ||
	    (st = fvl_tensor_f32(g, P("dw1.bias"), c, &b->dw1_b)) ||
	    (st = fvl_tensor_f32(g, P("dw2.bias"), c, &b->dw2_b)) ||
	    (st = fvl_tensor_f32(g, P("attn_norm.weight"), c, &b->an_w)) ||
	    (st = fvl_tensor_f32(g, P("attn_norm.bias"), c, &b->an_b)) ||
	    (st = fvl_tensor_f32(g, P("ffn_norm.weight"), c, &b->fn_w)) ||
	    (st = fvl_tensor_f32(g, P("ffn_norm.bias"), c, &b->fn_b)) ||
	    (st = fvl_linear_init(&b->qkv, g, P("attn_qkv.weight"), Q("attn_qkv.bias"), c, 3 * c)) ||
	    (st = fvl_linear_init(&b->out, g, P("attn_out.weight"), Q("attn_out.bias"), c, c)) ||
	    (st = fvl_linear_init(&b->up, g, P("ffn_up.weight"), Q("ffn_up.bias"), c, 4 * c)) ||
	    (st = fvl_linear_init(&b->down, g, P("ffn_down.weight"), Q("ffn_down.bias"), 4 * c, c)))
		return st;
#undef P
#undef Q
	return FVL_STATUS_OK;
}

static void free_block(struct fvl_f2_block *b)
{
	free(b->dw1);
	free(b->dw2);
	fvl_linear_free(&b->qkv);
	fvl_linear_free(&b->out);
	fvl_linear_free(&b->up);
	fvl_linear_free(&b->down);
}

enum fvl_status fvl_f2_load(struct fvl_f2 *f, const struct fvl_gguf *g)
{
	size_t dims[FVL_F2_MAX_STAGES], depth[FVL_F2_MAX_STAGES], heads[FVL_F2_MAX_STAGES];
	size_t groups[FVL_F2_MAX_STAGES], ks[FVL_F2_MAX_STAGES], strides[FVL_F2_MAX_STAGES];
	size_t pads[FVL_F2_MAX_STAGES], pre[FVL_F2_MAX_STAGES];
	const struct fvl_gguf_kv *kv;
	enum fvl_status st;
	char n1[96], n2[96];

	memset(f, 0, sizeof(*f));
	if ((st = fvl_gguf_get_arr(g, "f2.vision.dim_embed", FVL_GGUF_UINT32, &kv)))
		return st;
	if (kv->n == 0 || kv->n > FVL_F2_MAX_STAGES)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%llu DaViT stages", (unsigned long long)kv->n);
	f->n_stages = kv->n;
	const size_t ns = f->n_stages;
	if ((st = u32_arr(g, "f2.vision.dim_embed", ns, dims)) ||
	    (st = u32_arr(g, "f2.vision.depths", ns, depth)) ||
	    (st = u32_arr(g, "f2.vision.num_heads", ns, heads)) ||
	    (st = u32_arr(g, "f2.vision.num_groups", ns, groups)) ||
	    (st = u32_arr(g, "f2.vision.patch_size", ns, ks)) ||
	    (st = u32_arr(g, "f2.vision.patch_stride", ns, strides)) ||
	    (st = u32_arr(g, "f2.vision.patch_padding", ns, pads)) ||
	    (st = u32_arr(g, "f2.vision.patch_prenorm", ns, pre)) ||
	    (st = get_size(g, "f2.vision.window_size", &f->window)) ||
	    (st = get_size(g, "f2.vision.projection_dim", &f->proj_dim)) ||
	    (st = get_size(g, "f2.vision.pos_embed_max", &f->pos_max)) ||
	    (st = get_size(g, "preprocess.height", &f->image_size)))
		return st;
	size_t cin = 3, grid = f->image_size;
	if (f->window == 0 || f->window > 64 || grid == 0 || grid > 16384 || f->proj_dim == 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "DaViT window %zu, image size %zu, projection %zu: "
		                "outside 1..64, 1..16384, > 0", f->window, grid, f->proj_dim);
	for (size_t s = 0; s < ns; s++) {
		struct fvl_f2_stage *t = &f->st[s];
		t->c = dims[s], t->cin = cin, t->depth = depth[s], t->heads = heads[s];
		t->groups = groups[s], t->k = ks[s], t->stride = strides[s], t->pad = pads[s];
		t->prenorm = pre[s] != 0;
		if (t->c == 0 || t->heads == 0 || t->groups == 0 || t->c % t->heads || t->c % t->groups ||
		    t->k == 0 || t->k > 64 || t->stride == 0 || t->stride > 64 || t->pad >= t->k ||
		    t->depth > 64 || t->c / t->heads > FVL_ATTN_MAX_HEAD_DIM || grid + 2 * t->pad < t->k)
			return fvl_fail(FVL_STATUS_BAD_FILE, "DaViT stage %zu: dim %zu, %zu heads, %zu groups, "
			                "patch %zu stride %zu pad %zu, depth %zu on a %zu grid: not a shape fvl "
			                "runs (head dim <= %d)", s, t->c, t->heads, t->groups, t->k, t->stride,
			                t->pad, t->depth, grid, FVL_ATTN_MAX_HEAD_DIM);
		grid = (grid + 2 * t->pad - t->k) / t->stride + 1;
		size_t nc = t->prenorm ? cin : t->c;
		if ((st = fvl_linear_init(&t->conv, g, NAME(n1, "v.conv.%zu.weight", s),
		                          NAME(n2, "v.conv.%zu.bias", s), cin * t->k * t->k, t->c)) ||
		    (st = fvl_tensor_f32(g, NAME(n1, "v.conv.%zu.norm.weight", s), nc, &t->norm_w)) ||
		    (st = fvl_tensor_f32(g, NAME(n1, "v.conv.%zu.norm.bias", s), nc, &t->norm_b)))
			goto error;
		t->sp = calloc(t->depth, sizeof(*t->sp));
		t->ch = calloc(t->depth, sizeof(*t->ch));
		if (!t->sp || !t->ch) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			goto error;
		}
		for (size_t j = 0; j < t->depth; j++)
			if ((st = load_block(&t->sp[j], g, s, j, "sp", t->c)) ||
			    (st = load_block(&t->ch[j], g, s, j, "ch", t->c)))
				goto error;
		cin = t->c;
	}
	/* _encode_image */
	const struct fvl_gguf_kv *src;
	if ((st = fvl_gguf_get_arr(g, "f2.vision.image_feature_source", FVL_GGUF_STRING, &src)))
		goto error;
	if (src->n == 0 || src->n > 4) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "image_feature_source has %llu entries",
		              (unsigned long long)src->n);
		goto error;
	}
	f->n_pools = src->n;
	for (size_t i = 0; i < src->n; i++)
		f->pool_spatial[i] = fvl_str_eq(fvl_gguf_arr_str(src, i), "spatial_avg_pool");
	if (grid > f->pos_max || cin % 2) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "a %zux%zu grid of %zu channels for %zu position "
		              "embeddings (an even width up to them)", grid, grid, cin, f->pos_max);
		goto error;
	}
	const size_t cl = cin;
	if ((st = fvl_linear_init(&f->img_proj, g, "v.img_proj.weight", NULL, cl, f->proj_dim)) ||
	    (st = fvl_tensor_f32(g, "v.img_proj_norm.weight", f->proj_dim, &f->pn_w)) ||
	    (st = fvl_tensor_f32(g, "v.img_proj_norm.bias", f->proj_dim, &f->pn_b)) ||
	    (st = fvl_tensor_f32(g, "v.pos_row.weight", f->pos_max * cl / 2, &f->pos_row)) ||
	    (st = fvl_tensor_f32(g, "v.pos_col.weight", f->pos_max * cl / 2, &f->pos_col)))
		goto error;
	/* BART encoder */
	if ((st = get_size(g, "f2.text.d_model", &f->d)) ||
	    (st = get_size(g, "f2.text.encoder_layers", &f->enc_layers)) ||
	    (st = get_size(g, "f2.text.encoder_heads", &f->enc_heads)) ||
	    (st = get_size(g, "f2.text.encoder_ffn_dim", &f->enc_ffn)) ||
	    (st = get_size(g, "f2.text.vocab_size", &f->vocab)) ||
	    (st = get_size(g, "f2.text.max_position_embeddings", &f->max_pos)))
		goto error;
	if (f->d != f->proj_dim || f->enc_heads == 0 || f->d % f->enc_heads ||
	    f->d / f->enc_heads > FVL_ATTN_MAX_HEAD_DIM || f->enc_layers > 256 ||
	    f->max_pos < fvl_f2_n_visual(f)) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "BART encoder: d_model %zu vs projection_dim %zu, %zu "
		              "heads (head dim <= %d), %zu layers, %zu positions for %zu visual tokens",
		              f->d, f->proj_dim, f->enc_heads, FVL_ATTN_MAX_HEAD_DIM, f->enc_layers,
		              f->max_pos, fvl_f2_n_visual(f));
		goto error;
	}
	f->tok_embd = fvl_gguf_find_tensor(g, "fe.token_embd.weight");
	if (!f->tok_embd || f->tok_embd->ne[0] != f->d || f->tok_embd->ne[1] != f->vocab) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "fe.token_embd.weight is missing or not [%zu, %zu]",
		              f->d, f->vocab);
		goto error;
	}
	if ((st = fvl_tensor_f32(g, "fe.pos_embd.weight", (f->max_pos + 2) * f->d, &f->pos_embd)) ||
	    (st = fvl_tensor_f32(g, "fe.embd_norm.weight", f->d, &f->en_w)) ||
	    (st = fvl_tensor_f32(g, "fe.embd_norm.bias", f->d, &f->en_b)))
		goto error;
	f->enc = calloc(f->enc_layers, sizeof(*f->enc));
	if (!f->enc) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	for (size_t l = 0; l < f->enc_layers; l++) {
		struct fvl_f2_layer *y = &f->enc[l];
		const size_t d = f->d, ff = f->enc_ffn;
#define P(x) NAME(n1, "fe.blk.%zu." x, l)
#define Q(x) NAME(n2, "fe.blk.%zu." x, l)
		if ((st = fvl_linear_init(&y->q, g, P("attn_q.weight"), Q("attn_q.bias"), d, d)) ||
		    (st = fvl_linear_init(&y->k, g, P("attn_k.weight"), Q("attn_k.bias"), d, d)) ||
		    (st = fvl_linear_init(&y->v, g, P("attn_v.weight"), Q("attn_v.bias"), d, d)) ||
		    (st = fvl_linear_init(&y->o, g, P("attn_out.weight"), Q("attn_out.bias"), d, d)) ||
		    (st = fvl_linear_init(&y->up, g, P("ffn_up.weight"), Q("ffn_up.bias"), d, ff)) ||
		    (st = fvl_linear_init(&y->down, g, P("ffn_down.weight"), Q("ffn_down.bias"), ff, d)) ||
		    (st = fvl_tensor_f32(g, P("attn_norm.weight"), d, &y->an_w)) ||
		    (st = fvl_tensor_f32(g, P("attn_norm.bias"), d, &y->an_b)) ||
		    (st = fvl_tensor_f32(g, P("ffn_norm.weight"), d, &y->fn_w)) ||
		    (st = fvl_tensor_f32(g, P("ffn_norm.bias"), d, &y->fn_b)))
			goto error;
#undef P
#undef Q
	}
	return FVL_STATUS_OK;
error:
	fvl_f2_free(f);
	return st;
}

void fvl_f2_free(struct fvl_f2 *f)
{
	for (size_t s = 0; s < f->n_stages; s++) {
		struct fvl_f2_stage *t = &f->st[s];
		fvl_linear_free(&t->conv);
		for (size_t j = 0; t->sp && j < t->depth; j++)
			free_block(&t->sp[j]);
		for (size_t j = 0; t->ch && j < t->depth; j++)
			free_block(&t->ch[j]);
		free(t->sp);
		free(t->ch);
	}
	fvl_linear_free(&f->img_proj);
	for (size_t l = 0; f->enc && l < f->enc_layers; l++) {
		struct fvl_f2_layer *y = &f->enc[l];
		struct fvl_linear *all[] = {&y->q, &y->k, &y->v, &y->o, &y->up, &y->down};
		for (size_t i = 0; i < 6; i++)
			fvl_linear_free(all[i]);
	}
	free(f->enc);
	memset(f, 0, sizeof(*f));
}

static size_t conv_out(size_t in, size_t k, size_t s, size_t p)
{
	return (in + 2 * p - k) / s + 1;
}

size_t fvl_f2_grid(const struct fvl_f2 *f)
{
	size_t g = f->image_size;
	for (size_t s = 0; s < f->n_stages; s++)
		g = conv_out(g, f->st[s].k, f->st[s].stride, f->st[s].pad);
	return g;
}

size_t fvl_f2_n_visual(const struct fvl_f2 *f)
{
	size_t n = 0, grid = fvl_f2_grid(f);
	for (size_t i = 0; i < f->n_pools; i++)
		n += f->pool_spatial[i] ? 1 : grid * grid;
	return n;
}

/* ---- DaViT -------------------------------------------------------------------------------- */

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

/* Dense conv: in is (cin, H, W) planar if chw, else (H, W, cin) tokens; out (Ho, Wo, C). */
static enum fvl_status conv(const struct fvl_f2_stage *t, struct fvl_compute *compute, const float *in,
                            bool chw, size_t h, size_t w, float *out, struct buf *cols)
{
	const size_t ho = conv_out(h, t->k, t->stride, t->pad), wo = conv_out(w, t->k, t->stride, t->pad);
	const size_t kk = t->cin * t->k * t->k, n = ho * wo;
	float *c = need(cols, TB * kk);
	if (!c)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t p0 = 0; p0 < n; p0 += TB) {
		const size_t m = n - p0 < TB ? n - p0 : TB;
		for (size_t i = 0; i < m; i++) {
			const size_t oy = (p0 + i) / wo, ox = (p0 + i) % wo;
			float *row = c + i * kk;
			for (size_t ci = 0; ci < t->cin; ci++)
				for (size_t ky = 0; ky < t->k; ky++)
					for (size_t kx = 0; kx < t->k; kx++) {
						const ptrdiff_t y = (ptrdiff_t)(oy * t->stride + ky) - (ptrdiff_t)t->pad;
						const ptrdiff_t x = (ptrdiff_t)(ox * t->stride + kx) - (ptrdiff_t)t->pad;
						float v = 0.0f;
						if (y >= 0 && x >= 0 && y < (ptrdiff_t)h && x < (ptrdiff_t)w)
							v = chw ? in[(ci * h + (size_t)y) * w + (size_t)x] :
							          in[((size_t)y * w + (size_t)x) * t->cin + ci];
						row[(ci * t->k + ky) * t->k + kx] = v;
					}
		}
		if (fvl_compute_reserve(compute, m, kk) != FVL_STATUS_OK)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		fvl_linear_forward(compute, &t->conv, m, c, kk, out + p0 * t->c, t->c);
	}
	return FVL_STATUS_OK;
}

struct ws {
	struct buf a, b, c, d, e;
};

/* x += MLP(LN(x)) in token tiles. */
static enum fvl_status mlp(const struct fvl_f2_block *b, struct fvl_compute *compute, float *x, size_t n,
                           size_t c, struct ws *w)
{
	float *h = need(&w->a, TB * c), *u = need(&w->b, TB * 4 * c), *d = need(&w->c, TB * c);
	if (!h || !u || !d || fvl_compute_reserve(compute, TB, 4 * c) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		compute->kernels.layernorm(m, c, x + t0 * c, b->fn_w, b->fn_b, 1e-5f, h);
		fvl_linear_forward(compute, &b->up, m, h, c, u, 4 * c);
		compute->kernels.gelu(m * 4 * c, u, u);
		fvl_linear_forward(compute, &b->down, m, u, 4 * c, d, c);
		compute->kernels.add(m * c, x + t0 * c, d, x + t0 * c);
	}
	return FVL_STATUS_OK;
}

/* x += dwconv3x3(x) */
static enum fvl_status dw_residual(struct fvl_compute *compute, const float *k, const float *bias, float *x,
                                   size_t h, size_t w, size_t c, struct ws *ws)
{
	float *t = need(&ws->d, h * w * c);
	if (!t)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	compute->kernels.dwconv3x3(h, w, c, x, k, bias, t);
	compute->kernels.add(h * w * c, x, t, x);
	return FVL_STATUS_OK;
}

/* Window attention one strip of window rows at a time: scratch is a strip, not the image. */
static enum fvl_status spatial_block(const struct fvl_f2_block *b, const struct fvl_f2 *f,
                                     const struct fvl_f2_stage *t, struct fvl_compute *compute, float *x,
                                     size_t h, size_t w, struct ws *ws)
{
	const size_t c = t->c, win = f->window, hd = c / t->heads, n = h * w;
	const size_t wp = (w + win - 1) / win * win, hp = (h + win - 1) / win * win, ns = win * wp;
	enum fvl_status st = dw_residual(compute, b->dw1, b->dw1_b, x, h, w, c, ws);
	if (st != FVL_STATUS_OK)
		return st;
	float *hs = need(&ws->a, ns * c), *qkv = need(&ws->b, ns * 3 * c);
	float *wq = need(&ws->c, win * win * 3 * c), *wo = need(&ws->e, ns * c);
	float *att = need(&ws->d, win * win * c > w * c ? win * win * c : w * c);
	if (!hs || !qkv || !wq || !wo || !att || (st = fvl_compute_reserve(compute, ns, c)) != FVL_STATUS_OK)
		return st != FVL_STATUS_OK ? st : fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t wy = 0; wy < hp / win; wy++) {
		/* LayerNorm of the strip's rows, zero padding right and below (padded tokens take
		 * part in the attention, as in the reference) */
		memset(hs, 0, ns * c * sizeof(float));
		for (size_t r = 0; r < win && wy * win + r < h; r++)
			compute->kernels.layernorm(w, c, x + (wy * win + r) * w * c, b->an_w, b->an_b, 1e-5f,
			                hs + r * wp * c);
		fvl_linear_forward(compute, &b->qkv, ns, hs, c, qkv, 3 * c);
		for (size_t wx = 0; wx < wp / win; wx++) {
			for (size_t i = 0; i < win * win; i++)
				memcpy(wq + i * 3 * c, qkv + ((i / win) * wp + wx * win + i % win) * 3 * c,
				       3 * c * sizeof(float));
			struct fvl_attn_args a = {win * win, win * win, t->heads, t->heads, hd, wq, 3 * c,
			                          wq + c, wq + 2 * c, 3 * c, 3 * c, false, false, 0,
			                          1.0f / sqrtf((float)hd), att, c, 0, t->heads};
			compute->kernels.attn(&a);
			for (size_t i = 0; i < win * win; i++)
				memcpy(wo + ((i / win) * wp + wx * win + i % win) * c, att + i * c,
				       c * sizeof(float));
		}
		/* proj on the kept tokens only, added to x */
		for (size_t r = 0; r < win && wy * win + r < h; r++) {
			fvl_linear_forward(compute, &b->out, w, wo + r * wp * c, c, att, c);
			compute->kernels.add(w * c, x + (wy * win + r) * w * c, att, x + (wy * win + r) * w * c);
		}
	}
	if ((st = dw_residual(compute, b->dw2, b->dw2_b, x, h, w, c, ws)) != FVL_STATUS_OK)
		return st;
	return mlp(b, compute, x, n, c, ws);
}

/* Channel attention in token tiles: the Cg x Cg matrices accumulate over tiles, v is kept. */
static enum fvl_status channel_block(const struct fvl_f2_block *b, const struct fvl_f2_stage *t,
                                     struct fvl_compute *compute, float *x, size_t h, size_t w, struct ws *ws)
{
	const size_t c = t->c, n = h * w, g = t->groups, cg = c / g;
	enum fvl_status st = dw_residual(compute, b->dw1, b->dw1_b, x, h, w, c, ws);
	if (st != FVL_STATUS_OK)
		return st;
	float *hn = need(&ws->a, TB * c), *qkv = need(&ws->b, TB * 3 * c), *v = need(&ws->e, n * c);
	float *am = need(&ws->c, g * cg * cg), *o = need(&ws->d, TB * c);
	if (!hn || !qkv || !v || !am || !o || fvl_compute_reserve(compute, TB, c) != FVL_STATUS_OK)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const float scale = 1.0f / sqrtf((float)n);
	memset(am, 0, g * cg * cg * sizeof(float));
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		compute->kernels.layernorm(m, c, x + t0 * c, b->an_w, b->an_b, 1e-5f, hn);
		fvl_linear_forward(compute, &b->qkv, m, hn, c, qkv, 3 * c);
		for (size_t r = 0; r < m; r++) {
			const float *row = qkv + r * 3 * c;
			memcpy(v + (t0 + r) * c, row + 2 * c, c * sizeof(float));
			for (size_t gi = 0; gi < g; gi++) { /* A_g += (q N^-1/2)^T k over the tokens */
				float *a = am + gi * cg * cg;
				const float *q = row + gi * cg, *k = row + c + gi * cg;
				for (size_t i = 0; i < cg; i++) {
					const float qi = q[i] * scale;
					for (size_t j = 0; j < cg; j++)
						a[i * cg + j] += qi * k[j];
				}
			}
		}
	}
	compute->kernels.softmax(g * cg, cg, am, 1.0f);
	for (size_t t0 = 0; t0 < n; t0 += TB) {
		const size_t m = n - t0 < TB ? n - t0 : TB;
		for (size_t r = 0; r < m; r++) {
			const float *vr = v + (t0 + r) * c;
			for (size_t gi = 0; gi < g; gi++) {
				const float *a = am + gi * cg * cg;
				for (size_t i = 0; i < cg; i++) {
					float sum = 0.0f;
					for (size_t j = 0; j < cg; j++)
						sum += a[i * cg + j] * vr[gi * cg + j];
					o[r * c + gi * cg + i] = sum;
				}
			}
		}
		fvl_linear_forward(compute, &b->out, m, o, c, hn, c);
		compute->kernels.add(m * c, x + t0 * c, hn, x + t0 * c);
	}
	if ((st = dw_residual(compute, b->dw2, b->dw2_b, x, h, w, c, ws)) != FVL_STATUS_OK)
		return st;
	return mlp(b, compute, x, n, c, ws);
}

static double ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

enum fvl_status fvl_f2_davit(const struct fvl_f2 *f, struct fvl_compute *compute, const float *pixels,
                             float *out, double *stage_ms)
{
	struct ws ws = {0};
	struct buf cols = {0}, xa = {0}, xb = {0};
	enum fvl_status st = FVL_STATUS_OK;
	size_t h = f->image_size, w = f->image_size;
	const float *in = pixels;
	bool chw = true;
	for (size_t s = 0; s < f->n_stages && st == FVL_STATUS_OK; s++) {
		const struct fvl_f2_stage *t = &f->st[s];
		const double t0 = ms_now();
		const size_t ho = conv_out(h, t->k, t->stride, t->pad), wo = conv_out(w, t->k, t->stride, t->pad);
		float *x = need(s % 2 ? &xb : &xa, ho * wo * t->c);
		if (!x) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for DaViT stage %zu", s);
			break;
		}
		if (t->prenorm) { /* LayerNorm on the incoming tokens, in place (they are ours) */
			compute->kernels.layernorm(h * w, t->cin, in, t->norm_w, t->norm_b, 1e-5f, (float *)in);
		}
		if ((st = conv(t, compute, in, chw, h, w, x, &cols)) != FVL_STATUS_OK)
			break;
		if (!t->prenorm)
			compute->kernels.layernorm(ho * wo, t->c, x, t->norm_w, t->norm_b, 1e-5f, x);
		h = ho, w = wo;
		for (size_t j = 0; j < t->depth && st == FVL_STATUS_OK; j++) {
			st = spatial_block(&t->sp[j], f, t, compute, x, h, w, &ws);
			if (st == FVL_STATUS_OK)
				st = channel_block(&t->ch[j], t, compute, x, h, w, &ws);
		}
		in = x;
		chw = false;
		if (stage_ms)
			stage_ms[s] = ms_now() - t0;
	}
	if (st == FVL_STATUS_OK)
		memcpy(out, in, h * w * f->st[f->n_stages - 1].c * sizeof(float));
	free(ws.a.p), free(ws.b.p), free(ws.c.p), free(ws.d.p), free(ws.e.p);
	free(cols.p), free(xa.p), free(xb.p);
	return st;
}

/* ---- _encode_image -------------------------------------------------------------------------- */

enum fvl_status fvl_f2_encode_image(const struct fvl_f2 *f, struct fvl_compute *compute, const float *feats,
                                    float *out)
{
	const size_t grid = fvl_f2_grid(f), n = grid * grid, cl = f->st[f->n_stages - 1].c;
	const size_t nv = fvl_f2_n_visual(f);
	if (grid > f->pos_max)
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "a %zux%zu grid exceeds the %zu position "
		                "embeddings", grid, grid, f->pos_max);
	float *x = malloc(n * cl * sizeof(float)), *pooled = malloc(nv * cl * sizeof(float));
	if (!x || !pooled) {
		free(x);
		free(pooled);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	/* 2-D position: column embedding in the first half, row embedding in the second; then the
	 * cosine temporal embedding of frame 0: +0 on even channels, +1 on odd ones. */
	for (size_t y = 0; y < grid; y++)
		for (size_t xx = 0; xx < grid; xx++) {
			float *r = x + (y * grid + xx) * cl;
			const float *src = feats + (y * grid + xx) * cl;
			for (size_t c = 0; c < cl / 2; c++) {
				r[c] = src[c] + f->pos_col[xx * (cl / 2) + c];
				r[cl / 2 + c] = src[cl / 2 + c] + f->pos_row[y * (cl / 2) + c];
			}
			for (size_t c = 1; c < cl; c += 2)
				r[c] += 1.0f;
		}
	size_t row = 0;
	for (size_t i = 0; i < f->n_pools; i++) {
		if (f->pool_spatial[i]) { /* mean over the tokens */
			float *p = pooled + row * cl;
			memset(p, 0, cl * sizeof(float));
			for (size_t t = 0; t < n; t++)
				compute->kernels.add(cl, p, x + t * cl, p);
			compute->kernels.scale(cl, p, 1.0f / (float)n, p);
			row++;
		} else { /* temporal mean over one frame: the tokens themselves */
			memcpy(pooled + row * cl, x, n * cl * sizeof(float));
			row += n;
		}
	}
	enum fvl_status st = fvl_compute_reserve(compute, nv, cl);
	if (st == FVL_STATUS_OK) {
		fvl_linear_forward(compute, &f->img_proj, nv, pooled, cl, out, f->proj_dim);
		compute->kernels.layernorm(nv, f->proj_dim, out, f->pn_w, f->pn_b, 1e-5f, out);
	}
	free(x);
	free(pooled);
	return st;
}

/* ---- BART encoder --------------------------------------------------------------------------- */

enum fvl_status fvl_f2_encoder(const struct fvl_f2 *f, struct fvl_compute *compute, const float *visual,
                               size_t n_vis, const int32_t *ids, size_t n_ids, float *out)
{
	const size_t d = f->d, n = n_vis + n_ids, hd = d / f->enc_heads, ff = f->enc_ffn;
	if (n > f->max_pos)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%zu encoder positions, the model has %zu",
		                n, f->max_pos);
	for (size_t i = 0; i < n_ids; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= f->vocab)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "token id %d outside the vocabulary",
			                ids[i]);
	float *q = malloc(n * d * 4), *k = malloc(n * d * 4), *v = malloc(n * d * 4);
	float *a = malloc(n * d * 4), *u = malloc(n * ff * 4);
	enum fvl_status st = fvl_compute_reserve(compute, n, ff > d ? ff : d);
	if (!q || !k || !v || !a || !u) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (st != FVL_STATUS_OK)
		goto done;
	float *x = out;
	memcpy(x, visual, n_vis * d * sizeof(float));
	for (size_t i = 0; i < n_ids; i++)
		fvl_tensor_row(f->tok_embd, (size_t)ids[i], x + (n_vis + i) * d);
	for (size_t p = 0; p < n; p++) /* learned positions at offset 2, image tokens included */
		compute->kernels.add(d, x + p * d, f->pos_embd + (p + 2) * d, x + p * d);
	compute->kernels.layernorm(n, d, x, f->en_w, f->en_b, 1e-5f, x);
	for (size_t l = 0; l < f->enc_layers; l++) {
		const struct fvl_f2_layer *y = &f->enc[l];
		fvl_linear_forward(compute, &y->q, n, x, d, q, d);
		fvl_linear_forward(compute, &y->k, n, x, d, k, d);
		fvl_linear_forward(compute, &y->v, n, x, d, v, d);
		struct fvl_attn_args at = {n, n, f->enc_heads, f->enc_heads, hd, q, d, k, v, d, d, false,
		                           false, 0, 1.0f / sqrtf((float)hd), a, d, 0, f->enc_heads};
		compute->kernels.attn(&at); /* all-ones mask: prompt pads are attended, as the reference does */
		fvl_linear_forward(compute, &y->o, n, a, d, q, d);
		compute->kernels.add(n * d, x, q, x);
		compute->kernels.layernorm(n, d, x, y->an_w, y->an_b, 1e-5f, x);
		fvl_linear_forward(compute, &y->up, n, x, d, u, ff);
		compute->kernels.gelu(n * ff, u, u);
		fvl_linear_forward(compute, &y->down, n, u, ff, q, d);
		compute->kernels.add(n * d, x, q, x);
		compute->kernels.layernorm(n, d, x, y->fn_w, y->fn_b, 1e-5f, x);
	}
done:
	free(q), free(k), free(v), free(a), free(u);
	return st;
}
