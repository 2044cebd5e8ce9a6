/* florence2-encoder.c — Florence-2's _encode_image (2-D position embedding, cosine temporal
 * embedding at t = 0, pools, projection, LayerNorm) and its post-LN BART encoder, and the loading
 * of the whole tower. Reference: docs/florence-vl-inference.md sections 4-5. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "names.h"
#include "florence2-encoder.h"

#define NAME(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

/* A LayerNorm epsilon from the file (nn.LayerNorm's default 1e-5 when absent: files converted
 * before the key was written), in (0, 1). */
static enum fvl_status layer_norm_eps(const struct fvl_gguf *g, const char *key, float *out)
{
	*out = 1e-5f;
	if (fvl_gguf_get_f32(g, key, out) == FVL_STATUS_OK && !(*out > 0.0f && *out < 1.0f))
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s %g is outside (0, 1)", key, (double)*out);
	return FVL_STATUS_OK;
}

static void encoder_free(struct fvl_f2_encoder *e)
{
	fvl_linear_free(&e->img_proj);
	for (size_t l = 0; e->layers && l < e->n_layer; l++) {
		struct fvl_f2_encoder_layer *y = &e->layers[l];
		struct fvl_linear *all[] = {&y->q, &y->k, &y->v, &y->o, &y->ffn_up, &y->ffn_down};
		for (size_t i = 0; i < 6; i++)
			fvl_linear_free(all[i]);
	}
	free(e->layers);
	memset(e, 0, sizeof(*e));
}

static enum fvl_status
encoder_load(struct fvl_f2_encoder *e, const struct fvl_gguf *g, const struct fvl_davit *v)
{
	const struct fvl_gguf_kv *src;
	enum fvl_status st;
	char n1[96], n2[96];
	size_t grid = fvl_davit_grid(v), cin = fvl_davit_channels(v);
	memset(e, 0, sizeof(*e));
	e->grid = grid, e->c = cin;
	/* _encode_image */
	if ((st = fvl_gguf_get_dim(g, FVL_KEY_V_PROJECTION_DIM, 1, SIZE_MAX, &e->proj_dim)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_V_POS_EMBED_MAX, 1, SIZE_MAX, &e->pos_max)))
		return st;
	if ((st = fvl_gguf_get_arr(g, FVL_KEY_V_FEATURE_SOURCE, FVL_GGUF_TYPE_STRING, &src)))
		goto error;
	if (src->n == 0 || src->n > 4) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "image_feature_source has %llu entries",
		              (unsigned long long)src->n);
		goto error;
	}
	e->n_pools = src->n;
	for (size_t i = 0; i < src->n; i++)
		e->pool_spatial[i] = fvl_str_eq(fvl_gguf_arr_str(src, i), "spatial_avg_pool");
	if (grid > e->pos_max || cin % 2) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "a %zux%zu grid of %zu channels for %zu position "
		              "embeddings (an even width up to them)",
		              grid, grid, cin, e->pos_max);
		goto error;
	}
	const size_t cl = cin;
	if ((st = fvl_linear_init(&e->img_proj, g, FVL_TN_V_IMG_PROJ FVL_W, NULL, cl,
	                          e->proj_dim)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_V_IMG_PROJ_NORM FVL_W, e->proj_dim, &e->proj_norm_w)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_V_IMG_PROJ_NORM FVL_B, e->proj_dim, &e->proj_norm_b)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_V_POS_ROW FVL_W, e->pos_max * cl / 2, &e->pos_row)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_V_POS_COL FVL_W, e->pos_max * cl / 2, &e->pos_col)))
		goto error;
	/* BART encoder */
	if ((st = fvl_gguf_get_dim(g, FVL_KEY_T_D_MODEL, 1, SIZE_MAX, &e->n_embd)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_ENC_LAYERS, 1, SIZE_MAX, &e->n_layer)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_ENC_HEADS, 1, SIZE_MAX, &e->n_head)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_ENC_FFN, 1, SIZE_MAX, &e->n_ff)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_VOCAB_SIZE, 1, SIZE_MAX, &e->n_vocab)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_T_MAX_POS, 1, SIZE_MAX, &e->n_pos)) ||
	    (st = layer_norm_eps(g, FVL_KEY_T_LAYER_NORM_EPS, &e->eps)))
		goto error;
	if (e->n_embd != e->proj_dim || e->n_embd % e->n_head ||
	    e->n_embd / e->n_head > FVL_ATTN_MAX_HEAD_DIM || e->n_layer > 256 ||
	    e->n_pos < fvl_f2_n_visual(e)) {
		st = fvl_fail(
		        FVL_STATUS_BAD_FILE,
		        "BART encoder: d_model %zu vs projection_dim %zu, %zu "
		        "heads (head dim <= %d), %zu layers, %zu positions for %zu visual tokens",
		        e->n_embd, e->proj_dim, e->n_head, FVL_ATTN_MAX_HEAD_DIM, e->n_layer,
		        e->n_pos, fvl_f2_n_visual(e));
		goto error;
	}
	e->tok_embd = fvl_gguf_find_tensor(g, FVL_TN_ENC_TOKEN_EMBD);
	if (!e->tok_embd || e->tok_embd->ne[0] != e->n_embd || e->tok_embd->ne[1] != e->n_vocab) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              FVL_TN_ENC_TOKEN_EMBD " is missing or not [%zu, %zu]", e->n_embd,
		              e->n_vocab);
		goto error;
	}
	if ((st = fvl_tensor_f32(g, FVL_TN_ENC_POS_EMBD, (e->n_pos + 2) * e->n_embd,
	                         &e->pos_embd)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_ENC_EMBD_NORM FVL_W, e->n_embd, &e->embd_norm_w)) ||
	    (st = fvl_tensor_f32(g, FVL_TN_ENC_EMBD_NORM FVL_B, e->n_embd, &e->embd_norm_b)))
		goto error;
	e->layers = calloc(e->n_layer, sizeof(*e->layers));
	if (!e->layers) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	for (size_t l = 0; l < e->n_layer; l++) {
		struct fvl_f2_encoder_layer *y = &e->layers[l];
		const size_t d = e->n_embd, ff = e->n_ff;
#define P(x) NAME(n1, FVL_TN_ENC_BLK x, l)
#define Q(x) NAME(n2, FVL_TN_ENC_BLK x, l)
		if ((st = fvl_linear_init(&y->q, g, P(FVL_TN_ATTN_Q FVL_W), Q(FVL_TN_ATTN_Q FVL_B),
		                          d, d)) ||
		    (st = fvl_linear_init(&y->k, g, P(FVL_TN_ATTN_K FVL_W), Q(FVL_TN_ATTN_K FVL_B),
		                          d, d)) ||
		    (st = fvl_linear_init(&y->v, g, P(FVL_TN_ATTN_V FVL_W), Q(FVL_TN_ATTN_V FVL_B),
		                          d, d)) ||
		    (st = fvl_linear_init(&y->o, g, P(FVL_TN_ATTN_OUT FVL_W),
		                          Q(FVL_TN_ATTN_OUT FVL_B), d, d)) ||
		    (st = fvl_linear_init(&y->ffn_up, g, P(FVL_TN_FFN_UP FVL_W),
		                          Q(FVL_TN_FFN_UP FVL_B), d, ff)) ||
		    (st = fvl_linear_init(&y->ffn_down, g, P(FVL_TN_FFN_DOWN FVL_W),
		                          Q(FVL_TN_FFN_DOWN FVL_B), ff, d)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_W), d, &y->attn_norm_w)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_ATTN_NORM FVL_B), d, &y->attn_norm_b)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_W), d, &y->ffn_norm_w)) ||
		    (st = fvl_tensor_f32(g, P(FVL_TN_FFN_NORM FVL_B), d, &y->ffn_norm_b)))
			goto error;
#undef P
#undef Q
	}
	return FVL_STATUS_OK;
error:
	encoder_free(e);
	return st;
}

enum fvl_status fvl_f2_load(struct fvl_f2 *f, const struct fvl_gguf *g)
{
	enum fvl_status st;
	memset(f, 0, sizeof(*f));
	if ((st = fvl_davit_load(&f->davit, g)) != FVL_STATUS_OK)
		return st;
	if ((st = encoder_load(&f->encoder, g, &f->davit)) != FVL_STATUS_OK)
		fvl_davit_free(&f->davit);
	return st;
}

void fvl_f2_free(struct fvl_f2 *f)
{
	fvl_davit_free(&f->davit);
	encoder_free(&f->encoder);
}

size_t fvl_f2_n_visual(const struct fvl_f2_encoder *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n_pools; i++)
		n += e->pool_spatial[i] ? 1 : e->grid * e->grid;
	return n;
}

/* ---- _encode_image -------------------------------------------------------------------------- */

enum fvl_status fvl_f2_encode_image(const struct fvl_f2_encoder *e, struct fvl_compute *compute,
                                    const float *feats, float *out)
{
	const size_t grid = e->grid, n = grid * grid, cl = e->c;
	const size_t nv = fvl_f2_n_visual(e);
	if (grid > e->pos_max)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "a %zux%zu grid exceeds the %zu position "
		                "embeddings",
		                grid, grid, e->pos_max);
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
				r[c] = src[c] + e->pos_col[xx * (cl / 2) + c];
				r[cl / 2 + c] = src[cl / 2 + c] + e->pos_row[y * (cl / 2) + c];
			}
			for (size_t c = 1; c < cl; c += 2)
				r[c] += 1.0f;
		}
	size_t row = 0;
	for (size_t i = 0; i < e->n_pools; i++) {
		if (e->pool_spatial[i]) { /* mean over the tokens */
			float *p = pooled + row * cl;
			memset(p, 0, cl * sizeof(float));
			for (size_t t = 0; t < n; t++)
				fvl_op_add(compute, cl, p, x + t * cl, p);
			compute->kernels.scale(cl, p, 1.0f / (float)n, p);
			row++;
		} else { /* temporal mean over one frame: the tokens themselves */
			memcpy(pooled + row * cl, x, n * cl * sizeof(float));
			row += n;
		}
	}
	enum fvl_status st = fvl_compute_reserve(compute, nv, cl);
	if (st == FVL_STATUS_OK) {
		fvl_linear_forward(compute, &e->img_proj, nv, pooled, cl, out, e->proj_dim);
		fvl_op_layernorm(compute, nv, e->proj_dim, out, e->proj_norm_w, e->proj_norm_b,
		                 e->eps, out);
		st = fvl_compute_step(compute, "_encode_image");
	}
	free(x);
	free(pooled);
	return st;
}

/* ---- BART encoder --------------------------------------------------------------------------- */

/* Attention of every prompt over its own rows, in tasks of (prompt, head). */
struct prompts_attn_ctx {
	struct fvl_attn_args a; /* prompt 0's */
	fvl_attn_fn fn;
	size_t n_head, rows; /* rows per prompt */
};

static void prompt_head_attn(void *p, size_t i0, size_t i1)
{
	const struct prompts_attn_ctx *c = p;
	for (size_t i = i0; i < i1; i++) {
		const size_t pr = i / c->n_head, h = i % c->n_head, off = pr * c->rows;
		struct fvl_attn_args a = c->a;
		a.q += off * a.ldq;
		a.k = (const float *)a.k + off * a.ldk;
		a.v = (const float *)a.v + off * a.ldv;
		a.o += off * a.ldo;
		a.head0 = h, a.head1 = h + 1;
		c->fn(&a);
	}
}

enum fvl_status fvl_f2_encoder_forward_prompts(const struct fvl_f2_encoder *e,
                                               struct fvl_compute *compute, const float *visual,
                                               size_t n_vis, const int32_t *ids, size_t n_ids,
                                               size_t n_prompts, float *out)
{
	const size_t d = e->n_embd, n = n_vis + n_ids, hd = d / e->n_head, ff = e->n_ff;
	const size_t rows = n_prompts * n; /* every prompt's rows, one after the other */
	const float eps = e->eps;
	if (n > e->n_pos)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "%zu encoder positions, the model has %zu", n, e->n_pos);
	if (n_prompts == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no prompt for the encoder");
	for (size_t i = 0; i < n_prompts * n_ids; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= e->n_vocab)
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
			                "token id %d outside the vocabulary", ids[i]);
	float *q = malloc(rows * d * 4), *k = malloc(rows * d * 4), *v = malloc(rows * d * 4);
	float *a = malloc(rows * d * 4), *u = malloc(rows * ff * 4);
	enum fvl_status st = fvl_compute_reserve(compute, rows, ff > d ? ff : d);
	if (!q || !k || !v || !a || !u) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (st != FVL_STATUS_OK)
		goto done;
	float *x = out; /* (n_prompts, n, d) */
	for (size_t pr = 0; pr < n_prompts; pr++) {
		float *xp = x + pr * n * d;
		memcpy(xp, visual, n_vis * d * sizeof(float));
		for (size_t i = 0; i < n_ids; i++)
			fvl_tensor_row(e->tok_embd, (size_t)ids[pr * n_ids + i],
			               xp + (n_vis + i) * d);
		/* learned positions at offset 2, image tokens included */
		fvl_op_add(compute, n * d, xp, e->pos_embd + 2 * d, xp);
	}
	fvl_op_layernorm(compute, rows, d, x, e->embd_norm_w, e->embd_norm_b, eps, x);
	for (size_t l = 0; l < e->n_layer; l++) {
		const struct fvl_f2_encoder_layer *y = &e->layers[l];
		/* the linears read each weight once for all prompts */
		fvl_linear_forward(compute, &y->q, rows, x, d, q, d);
		fvl_linear_forward(compute, &y->k, rows, x, d, k, d);
		fvl_linear_forward(compute, &y->v, rows, x, d, v, d);
		struct prompts_attn_ctx pa = {
		        .a =
		                {
		                        .n_q = n,
		                        .n_kv = n,
		                        .n_heads = e->n_head,
		                        .n_kv_heads = e->n_head,
		                        .head_dim = hd,
		                        .q = q,
		                        .ldq = d,
		                        .k = k,
		                        .v = v,
		                        .ldk = d,
		                        .ldv = d,
		                        .kv_f16 = false,
		                        .causal = false,
		                        .scale = 1.0f / sqrtf((float)hd),
		                        .o = a,
		                        .ldo = d,
		                        .head0 = 0,
		                        .head1 = e->n_head,
		                },
		        .fn = compute->kernels.attn,
		        .n_head = e->n_head,
		        .rows = n,
		};
		/* all-ones mask: prompt pads are attended, as the reference does */
		if (n_prompts == 1)
			fvl_op_attn(compute, &pa.a);
		else
			fvl_op_for(compute, n_prompts * e->n_head, 1, prompt_head_attn, &pa);
		fvl_linear_forward(compute, &y->o, rows, a, d, q, d);
		fvl_op_add(compute, rows * d, x, q, x);
		fvl_op_layernorm(compute, rows, d, x, y->attn_norm_w, y->attn_norm_b, eps, x);
		fvl_linear_forward(compute, &y->ffn_up, rows, x, d, u, ff);
		fvl_op_gelu(compute, rows * ff, u, u);
		fvl_linear_forward(compute, &y->ffn_down, rows, u, ff, q, d);
		fvl_op_add(compute, rows * d, x, q, x);
		fvl_op_layernorm(compute, rows, d, x, y->ffn_norm_w, y->ffn_norm_b, eps, x);
		if ((st = fvl_compute_step(compute, "BART encoder layer")) != FVL_STATUS_OK)
			break;
	}
done:
	free(q), free(k), free(v), free(a), free(u);
	return st;
}

enum fvl_status fvl_f2_encoder_forward(const struct fvl_f2_encoder *e, struct fvl_compute *compute,
                                       const float *visual, size_t n_vis, const int32_t *ids,
                                       size_t n_ids, float *out)
{
	return fvl_f2_encoder_forward_prompts(e, compute, visual, n_vis, ids, n_ids, 1, out);
}
