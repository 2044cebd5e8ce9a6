/* pixel-formats.c — camera frames in V4L2's pixel formats to RGB8: MJPEG through the image decoder,
 * YUYV 4:2:2 with BT.601 limited-range coefficients, packed RGB24 rows with a stride. */
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pixel-formats.h"

static inline uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void fvl_yuyv_to_rgb(const uint8_t *yuyv, uint32_t w, uint32_t h, uint32_t stride, uint8_t *rgb)
{
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *s = yuyv + (size_t)y * stride;
		uint8_t *o = rgb + (size_t)y * w * 3;
		for (uint32_t x = 0; x < w; x++) {
			const int Y = s[2 * x] - 16, U = s[(2 * x & ~3u) + 1] - 128,
			          Vv = s[(2 * x & ~3u) + 3] - 128;
			o[3 * x] = clamp8((298 * Y + 409 * Vv + 128) >> 8);
			o[3 * x + 1] = clamp8((298 * Y - 100 * U - 208 * Vv + 128) >> 8);
			o[3 * x + 2] = clamp8((298 * Y + 516 * U + 128) >> 8);
		}
	}
}

enum fvl_status fvl_frame_to_rgb(uint32_t fourcc, const uint8_t *data, size_t n, uint32_t w,
                                 uint32_t h, uint32_t stride, const char *source,
                                 struct fvl_image *out)
{
	enum fvl_status st = FVL_STATUS_OK;
	if (fourcc == V4L2_PIX_FMT_MJPEG) {
		struct fvl_image img;
		st = fvl_image_decode(data, n, 0, &img);
		if (st == FVL_STATUS_OK) {
			fvl_image_free(out);
			*out = img;
		} else if (st != FVL_STATUS_OUT_OF_MEMORY) { /* the frame is bad, not the device */
			char why[256];
			snprintf(why, sizeof(why), "%s", fvl_last_error());
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: a corrupt frame (%s)", source, why);
		}
	} else {
		const uint32_t bpp = fourcc == V4L2_PIX_FMT_YUYV ? 2 : 3;
		const uint32_t row = stride ? stride : w * bpp;
		if ((uint64_t)row * h > n) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: short frame (%zu bytes)", source,
			              n);
		} else if (out->w != w || out->h != h || !out->rgb) {
			fvl_image_free(out);
			out->rgb = malloc((size_t)w * h * 3);
			out->w = w, out->h = h;
			if (!out->rgb)
				st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		}
		if (st == FVL_STATUS_OK) {
			if (bpp == 2)
				fvl_yuyv_to_rgb(data, w, h, row, out->rgb);
			else
				for (uint32_t y = 0; y < h; y++)
					memcpy(out->rgb + (size_t)y * w * 3, data + (size_t)y * row,
					       (size_t)w * 3);
		}
	}
	return st;
}
