/* image.h — decoded images and Florence-VL's preprocessing: decode (JPEG through libjpeg-turbo,
 * PNG through libspng, binary PNM), pad to square with the mean colour (LLaVA expand2square), PIL-compatible bicubic
 * resize, rescale and normalize into f32 CHW. */
#ifndef FVL_IMAGE_H
#define FVL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "fvl.h"
#include "gguf.h"

#define FVL_IMAGE_MAX_PIXELS_DEFAULT (64u * 1000u * 1000u)
#define FVL_IMAGE_MAX_FILE_BYTES     (256u << 20) /* image files larger than this are refused */

/* struct fvl_image, fvl_image_load, fvl_image_free and fvl_image_change are fvl.h's. */

/* fvl_image_decode (JPEG, PNG, binary PNM from memory) is fvl.h's. */
/* fvl_image_read with fvl.h's FVL_IMAGE_* flags. */
enum fvl_status
fvl_image_read_ex(const char *path, uint64_t max_pixels, uint32_t flags, struct fvl_image *out);
/* A JPEG, PNG or PNM file: regular files only, up to FVL_IMAGE_MAX_FILE_BYTES, checked before reading. */
enum fvl_status fvl_image_read(const char *path, uint64_t max_pixels, struct fvl_image *out);

/* expand2square: a side x side canvas of fill, the image pasted at ((side-w)/2, (side-h)/2). */
enum fvl_status
fvl_image_pad_square(const struct fvl_image *in, const uint8_t fill[3], struct fvl_image *out);
/* PIL's Image.resize(BICUBIC): separable, support widened when shrinking, 22-bit fixed-point
 * coefficients, rounding and clamping to 8 bits after each pass. */
enum fvl_status
fvl_image_resize_bicubic(const struct fvl_image *in, uint32_t w, uint32_t h, struct fvl_image *out);
/* out (3, h, w) = (rgb * rescale - mean) / std */
void fvl_image_normalize(const struct fvl_image *img, float rescale, const float mean[3],
                         const float std[3], float *out);

/* The model's preprocessing (preprocess.* metadata): pad or not, resize, rescale, normalize. */
struct fvl_preprocess {
	uint32_t size;   /* square output side */
	bool pad_square; /* expand2square with fill before resizing */
	uint8_t fill[3];
	float mean[3], std[3], rescale;
};

enum fvl_status fvl_preprocess_load(const struct fvl_gguf *g, struct fvl_preprocess *preprocess);
/* img -> (3, size, size) f32 pixels */
enum fvl_status fvl_preprocess_run(const struct fvl_preprocess *preprocess,
                                   const struct fvl_image *img, float *pixels);

#endif /* FVL_IMAGE_H */
