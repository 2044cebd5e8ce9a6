/* vision.c — the Florence-VL vision pipeline: fusion is the channel concatenation of the depth
 * feature (the _encode_image output) and the BART encoder's last hidden state at the image
 * positions for prompts 0, 1, 2 (docs/florence-vl-inference.md 14.2), then the mlpNx_gelu
 * projector (exact GELU between linears). */
#include <string.h>

#include "common.h"
#include "vision.h"

enum fvl_status fvl_vision_load(struct fvl_vision *v, const struct fvl_gguf *g)
{
	const struct fvl_gguf_kv *kv;
	uint32_t depth, count, len, hidden;
	enum fvl_status st;
	memset(v, 0, sizeof(*v));
	if ((st = fvl_f2_load(&v->f2, g)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_gguf_get_u32(g, "fvl.mm.depth", &depth)) ||
	    (st = fvl_gguf_get_u32(g, "fvl.mm.hidden_size", &hidden)) ||
	    (st = fvl_gguf_get_u32(g, "fvl.prompts.count", &count)) ||
	    (st = fvl_gguf_get_u32(g, "fvl.prompts.length", &len)) ||
	    (st = fvl_gguf_get_arr(g, "fvl.prompts.ids", FVL_GGUF_INT32, &kv)))
		goto error;
	if (depth < 1 || depth > 16 || count < 1 || count > FVL_VISION_MAX_PROMPTS || len < 1 ||
	    len > 64 || kv->n != (uint64_t)count * len || hidden != v->f2.d) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "projector depth %u, %u prompts of %u (ids %llu), "
		              "mm hidden %u vs d_model %zu", depth, count, len,
		              (unsigned long long)kv->n, hidden, v->f2.d);
		goto error;
	}
	v->depth = depth, v->n_prompts = count, v->prompt_len = len;
	bool drop = false;
	if (fvl_gguf_get_bool(g, "fvl.mm.drop_pooled_token", &drop) == FVL_STATUS_OK && drop) {
		if (fvl_f2_n_visual(&v->f2) < 2 || v->f2.n_pools < 2 || !v->f2.pool_spatial[0]) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "fvl.mm.drop_pooled_token is set, but the first "
			              "visual token is not the pooled one (image_feature_source)");
			goto error;
		}
		v->drop = 1;
	}
	for (size_t i = 0; i < kv->n; i++)
		v->prompts[i] = (int32_t)fvl_gguf_arr_int(kv, i);
	for (size_t k = 0; k < depth; k++) {
		char w[32], b[32];
		snprintf(w, sizeof(w), "mm.%zu.weight", k);
		snprintf(b, sizeof(b), "mm.%zu.bias", k);
		if ((st = fvl_linear_init(&v->mm[k], g, w, b, k ? v->out_dim : (1 + count) * v->f2.d,
		                          k ? v->out_dim : 0)) != FVL_STATUS_OK)
			goto error;
		v->out_dim = v->mm[k].n;
	}
	if ((st = fvl_preprocess_load(g, &v->preprocess)) != FVL_STATUS_OK)
		goto error;
	return FVL_STATUS_OK;
error:
	fvl_vision_free(v);
	return st;
}

void fvl_vision_free(struct fvl_vision *v)
{
	fvl_f2_free(&v->f2);
	for (size_t k = 0; k < 16; k++)
		fvl_linear_free(&v->mm[k]);
	memset(v, 0, sizeof(*v));
}

size_t fvl_vision_n_tokens(const struct fvl_vision *v)
{
	return fvl_f2_n_visual(&v->f2) - v->drop;
}

enum fvl_status fvl_vision_preprocess(const struct fvl_vision *v, const struct fvl_image *img,
                                  float *pixels)
{
	return fvl_preprocess_run(&v->preprocess, img, pixels);
}

void fvl_dbfusion(const struct fvl_vision *v, const float *features, const float *const *enc,
                 float *fused)
{
	const size_t n = fvl_vision_n_tokens(v), d = v->f2.d, w = (1 + v->n_prompts) * d, o = v->drop;
	for (size_t i = 0; i < n; i++) {
		memcpy(fused + i * w, features + (i + o) * d, d * sizeof(float));
		for (size_t p = 0; p < v->n_prompts; p++)
			memcpy(fused + i * w + (1 + p) * d, enc[p] + (i + o) * d, d * sizeof(float));
	}
}

enum fvl_status fvl_projector_forward(const struct fvl_vision *v, struct fvl_compute *compute, const float *fused,
                               float *out)
{
	const size_t n = fvl_vision_n_tokens(v), w = (1 + v->n_prompts) * v->f2.d, h = v->out_dim;
	float *t[2] = {malloc(n * h * sizeof(float)), malloc(n * h * sizeof(float))};
	enum fvl_status st = fvl_compute_reserve(compute, n, w > h ? w : h);
	if (!t[0] || !t[1])
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	const float *in = fused;
	size_t ld = w;
	for (size_t k = 0; k < v->depth && st == FVL_STATUS_OK; k++) {
		float *o = k + 1 == v->depth ? out : t[k % 2];
		fvl_linear_forward(compute, &v->mm[k], n, in, ld, o, h);
		if (k + 1 < v->depth)
			compute->kernels.gelu(n * h, o, o);
		in = o;
		ld = h;
	}
	free(t[0]);
	free(t[1]);
	return st;
}

enum fvl_status fvl_vision_embed(const struct fvl_vision *v, struct fvl_compute *compute, const float *pixels,
                             float *out, const struct fvl_vision_dump *dump)
{
	const struct fvl_f2 *f = &v->f2;
	const size_t grid = fvl_f2_grid(f), n = fvl_f2_n_visual(f), d = f->d;
	const size_t cl = f->st[f->n_stages - 1].c, L = n + v->prompt_len;
	float *dav = malloc(grid * grid * cl * sizeof(float)), *feat = malloc(n * d * sizeof(float));
	float *enc[FVL_VISION_MAX_PROMPTS] = {0};
	enum fvl_status st = FVL_STATUS_OK;
	if (!dav || !feat)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t p = 0; p < v->n_prompts && st == FVL_STATUS_OK; p++)
		if (!(enc[p] = malloc(L * d * sizeof(float))))
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (st == FVL_STATUS_OK)
		st = fvl_f2_davit(f, compute, pixels, dav, NULL);
	if (st == FVL_STATUS_OK)
		st = fvl_f2_encode_image(f, compute, dav, feat);
	for (size_t p = 0; p < v->n_prompts && st == FVL_STATUS_OK; p++)
		st = fvl_f2_encoder(f, compute, feat, n, v->prompts + p * v->prompt_len, v->prompt_len, enc[p]);
	float *fused = dump && dump->fused ? dump->fused :
	               malloc(n * (1 + v->n_prompts) * d * sizeof(float));
	if (!fused && st == FVL_STATUS_OK)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (st == FVL_STATUS_OK) {
		fvl_dbfusion(v, feat, (const float *const *)enc, fused);
		st = fvl_projector_forward(v, compute, fused, out);
	}
	if (!(dump && dump->fused))
		free(fused);
	if (st == FVL_STATUS_OK && dump) {
		if (dump->davit_out)
			memcpy(dump->davit_out, dav, grid * grid * cl * sizeof(float));
		if (dump->image_features)
			memcpy(dump->image_features, feat, n * d * sizeof(float));
		for (size_t p = 0; p < v->n_prompts; p++)
			if (dump->encoder_out[p])
				memcpy(dump->encoder_out[p], enc[p], L * d * sizeof(float));
	}
	free(dav);
	free(feat);
	for (size_t p = 0; p < v->n_prompts; p++)
		free(enc[p]);
	return st;
}
