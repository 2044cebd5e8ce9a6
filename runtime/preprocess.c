/* preprocess.c — the model file's preprocessing (preprocess.* metadata) applied to an image; kept
 * apart from image.c so the image decoders build (and fuzz) without the model-file code. */
#include <string.h>

#include "common.h"
#include "names.h"
#include "image.h"

enum fvl_status fvl_preprocess_load(const struct fvl_gguf *g, struct fvl_preprocess *preprocess)
{
	const struct fvl_gguf_kv *mean, *stdv, *fill;
	struct fvl_str aspect;
	uint32_t h, w;
	enum fvl_status st;
	memset(preprocess, 0, sizeof(*preprocess));
	if ((st = fvl_gguf_get_arr(g, FVL_KEY_PRE_MEAN, FVL_GGUF_TYPE_FLOAT32, &mean)) ||
	    (st = fvl_gguf_get_arr(g, FVL_KEY_PRE_STD, FVL_GGUF_TYPE_FLOAT32, &stdv)) ||
	    (st = fvl_gguf_get_arr(g, FVL_KEY_PRE_FILL, FVL_GGUF_TYPE_UINT8, &fill)) ||
	    (st = fvl_gguf_get_f32(g, FVL_KEY_PRE_RESCALE, &preprocess->rescale)) ||
	    (st = fvl_gguf_get_str(g, FVL_KEY_PRE_ASPECT, &aspect)) ||
	    (st = fvl_gguf_get_u32(g, FVL_KEY_PRE_HEIGHT, &h)) ||
	    (st = fvl_gguf_get_u32(g, FVL_KEY_PRE_WIDTH, &w)))
		return st;
	if (mean->n != 3 || stdv->n != 3 || fill->n != 3 || h != w || h == 0 || h > 16384)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "preprocess: mean/std/fill are not 3 values, or the "
		                "size %ux%u is not square",
		                w, h);
	for (int c = 0; c < 3; c++) {
		preprocess->mean[c] = (float)fvl_gguf_arr_float(mean, (uint64_t)c);
		preprocess->std[c] = (float)fvl_gguf_arr_float(stdv, (uint64_t)c);
		preprocess->fill[c] = (uint8_t)fvl_gguf_arr_int(fill, (uint64_t)c);
		if (!(preprocess->std[c] > 0))
			return fvl_fail(FVL_STATUS_BAD_FILE, "preprocess.std[%d] is not positive",
			                c);
	}
	preprocess->size = h;
	preprocess->pad_square = fvl_str_eq(aspect, "pad");
	return FVL_STATUS_OK;
}

enum fvl_status fvl_preprocess_run(const struct fvl_preprocess *preprocess,
                                   const struct fvl_image *img, float *pixels)
{
	struct fvl_image sq = {0}, rs = {0};
	const struct fvl_image *src = img;
	enum fvl_status st = FVL_STATUS_OK;
	if (preprocess->pad_square && img->w != img->h) {
		if ((st = fvl_image_pad_square(img, preprocess->fill, &sq)) != FVL_STATUS_OK)
			return st;
		src = &sq;
	}
	if ((st = fvl_image_resize_bicubic(src, preprocess->size, preprocess->size, &rs)) ==
	    FVL_STATUS_OK)
		fvl_image_normalize(&rs, preprocess->rescale, preprocess->mean, preprocess->std,
		                    pixels);
	fvl_image_free(&sq);
	fvl_image_free(&rs);
	return st;
}
