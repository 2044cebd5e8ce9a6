/* fuzz-image.c — libFuzzer target for the image decoders (JPEG via libjpeg-turbo, PNM) and the
 * preprocessing of whatever decodes. */
#include <stdint.h>
#include <stdlib.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fvl_image img, sq, rs;
	const uint32_t o = fvl_image_exif_orientation(data, size);
	if (o < 1 || o > 8)
		abort();
	if (fvl_image_decode_ex(data, size, 1u << 22, FVL_IMAGE_EXIF_TRANSPOSE, &img) !=
	    FVL_STATUS_OK)
		return 0;
	static const uint8_t fill[3] = {123, 116, 103};
	if (fvl_image_pad_square(&img, fill, &sq) == FVL_STATUS_OK) {
		if (fvl_image_resize_bicubic(&sq, 16, 16, &rs) == FVL_STATUS_OK)
			fvl_image_free(&rs);
		fvl_image_free(&sq);
	}
	fvl_image_free(&img);
	return 0;
}
