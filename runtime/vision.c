/* vision.c — Florence-VL's vision side end to end: pixels through DaViT and _encode_image, the
 * BART encoder over the prompts (detailed caption, OCR, dense region caption) in one pass, Depth-Breadth Fusion
 * and the projector (fusion.c), to the embeddings the LLM takes at the <image> placeholder. */
#include <string.h>

#include "common.h"
#include "names.h"
#include "vision.h"

enum fvl_status fvl_vision_load(struct fvl_vision *v, const struct fvl_gguf *g)
{
	const struct fvl_gguf_kv *kv;
	uint32_t count, len, hidden;
	enum fvl_status st;
	memset(v, 0, sizeof(*v));
	if ((st = fvl_f2_load(&v->f2, g)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_gguf_get_u32(g, FVL_KEY_MM_HIDDEN_SIZE, &hidden)) ||
	    (st = fvl_gguf_get_u32(g, FVL_KEY_PROMPTS_COUNT, &count)) ||
	    (st = fvl_gguf_get_u32(g, FVL_KEY_PROMPTS_LENGTH, &len)) ||
	    (st = fvl_gguf_get_arr(g, FVL_KEY_PROMPTS_IDS, FVL_GGUF_TYPE_INT32, &kv)))
		goto error;
	if (count < 1 || count > FVL_VISION_MAX_PROMPTS || len < 1 || len > 64 ||
	    kv->n != (uint64_t)count * len || hidden != v->f2.encoder.n_embd) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "%u prompts of %u (ids %llu), mm hidden %u vs d_model "
		              "%zu",
		              count, len, (unsigned long long)kv->n, hidden, v->f2.encoder.n_embd);
		goto error;
	}
	v->n_prompts = count, v->prompt_len = len;
	bool drop = false;
	if (fvl_gguf_get_bool(g, FVL_KEY_MM_DROP_POOLED, &drop) == FVL_STATUS_OK && drop) {
		if (fvl_f2_n_visual(&v->f2.encoder) < 2 || v->f2.encoder.n_pools < 2 ||
		    !v->f2.encoder.pool_spatial[0]) {
			st = fvl_fail(FVL_STATUS_BAD_FILE,
			              "fvl.mm.drop_pooled_token is set, but the first "
			              "visual token is not the pooled one (image_feature_source)");
			goto error;
		}
		v->drop = 1;
	}
	for (size_t i = 0; i < kv->n; i++)
		v->prompts[i] = (int32_t)fvl_gguf_arr_int(kv, i);
	if ((st = fvl_projector_load(&v->projector, g, (1 + count) * v->f2.encoder.n_embd)) ||
	    (st = fvl_preprocess_load(g, &v->preprocess)) != FVL_STATUS_OK)
		goto error;
	return FVL_STATUS_OK;
error:
	fvl_vision_free(v);
	return st;
}

void fvl_vision_free(struct fvl_vision *v)
{
	fvl_f2_free(&v->f2);
	fvl_projector_free(&v->projector);
	memset(v, 0, sizeof(*v));
}

size_t fvl_vision_n_tokens(const struct fvl_vision *v)
{
	return fvl_f2_n_visual(&v->f2.encoder) - v->drop;
}

enum fvl_status
fvl_vision_preprocess(const struct fvl_vision *v, const struct fvl_image *img, float *pixels)
{
	return fvl_preprocess_run(&v->preprocess, img, pixels);
}

enum fvl_status fvl_vision_embed(const struct fvl_vision *v, struct fvl_compute *compute,
                                 const float *pixels, float *out,
                                 const struct fvl_vision_dump *dump)
{
	const struct fvl_f2 *f = &v->f2;
	const size_t grid = fvl_davit_grid(&f->davit), n = fvl_f2_n_visual(&f->encoder),
	             d = f->encoder.n_embd;
	const size_t cl = f->davit.stages[f->davit.n_stages - 1].c, L = n + v->prompt_len;
	float *dav = malloc(grid * grid * cl * sizeof(float)),
	      *feat = malloc(n * d * sizeof(float));
	float *enc_all = malloc(v->n_prompts * L * d * sizeof(float)); /* (n_prompts, L, d) */
	float *enc[FVL_VISION_MAX_PROMPTS] = {0};
	enum fvl_status st = FVL_STATUS_OK;
	if (!dav || !feat || !enc_all)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (size_t p = 0; p < v->n_prompts && enc_all; p++)
		enc[p] = enc_all + p * L * d;
	/* progress: every DaViT block, _encode_image, every encoder layer, fusion + projector */
	compute->progress_done = 0;
	compute->progress_total =
	        (uint32_t)(fvl_davit_n_blocks(&f->davit) + f->encoder.n_layer + 2);
	if (st == FVL_STATUS_OK)
		st = fvl_compute_check_abort(compute);
	if (st == FVL_STATUS_OK)
		st = fvl_davit_forward(&f->davit, compute, pixels, dav, NULL);
	if (st == FVL_STATUS_OK)
		st = fvl_f2_encode_image(&f->encoder, compute, dav, feat);
	if (st == FVL_STATUS_OK) /* the prompts in one pass: each weight read once */
		st = fvl_f2_encoder_forward_prompts(&f->encoder, compute, feat, n, v->prompts,
		                                    v->prompt_len, v->n_prompts, enc_all);
	float *fused = dump && dump->fused ? dump->fused
	                                   : malloc(n * (1 + v->n_prompts) * d * sizeof(float));
	if (!fused && st == FVL_STATUS_OK)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (st == FVL_STATUS_OK) {
		fvl_dbfusion(n - v->drop, v->drop, d, v->n_prompts, feat, (const float *const *)enc,
		             fused);
		st = fvl_projector_forward(&v->projector, compute, n - v->drop, fused, out);
		if (st == FVL_STATUS_OK)
			st = fvl_compute_step(compute, "fusion + projector");
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
	free(enc_all);
	return st;
}
