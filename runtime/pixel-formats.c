/* pixel-formats.c — frames to RGB8: image views (fvl.h: RGB8, BGR8, RGBA8, GRAY8, YUYV, NV12, with
 * a stride; YUV with BT.601 limited-range coefficients) and camera frames in V4L2's formats
 * (MJPEG through the image decoder, YUYV and RGB24 through the views). */
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pixel-formats.h"

static inline uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline void yuv_to_rgb(int y, int u, int v, uint8_t *o)
{
	const int Y = y - 16, U = u - 128, V = v - 128;
	o[0] = clamp8((298 * Y + 409 * V + 128) >> 8);
	o[1] = clamp8((298 * Y - 100 * U - 208 * V + 128) >> 8);
	o[2] = clamp8((298 * Y + 516 * U + 128) >> 8);
}

static void nv12_to_rgb(const uint8_t *nv12, uint32_t w, uint32_t h, size_t stride, uint8_t *rgb)
{
	const uint8_t *uv = nv12 + (size_t)h * stride;
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *yr = nv12 + (size_t)y * stride, *c = uv + (size_t)(y / 2) * stride;
		uint8_t *o = rgb + (size_t)y * w * 3;
		for (uint32_t x = 0; x < w; x++)
			yuv_to_rgb(yr[x], c[x & ~1u], c[(x & ~1u) + 1], o + 3 * x);
	}
}

void fvl_yuyv_to_rgb(const uint8_t *yuyv, uint32_t w, uint32_t h, uint32_t stride, uint8_t *rgb)
{
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *s = yuyv + (size_t)y * stride;
		uint8_t *o = rgb + (size_t)y * w * 3;
		for (uint32_t x = 0; x < w; x++)
			yuv_to_rgb(s[2 * x], s[(2 * x & ~3u) + 1], s[(2 * x & ~3u) + 3], o + 3 * x);
	}
}

/* Bytes per pixel of a packed row (YUYV: per pixel of a pair's two), 0 for an unknown format. */
static uint32_t view_bpp(enum fvl_pixel_format f)
{
	switch (f) {
	case FVL_PIXEL_RGB8:
	case FVL_PIXEL_BGR8: return 3;
	case FVL_PIXEL_RGBA8: return 4;
	case FVL_PIXEL_GRAY8:
	case FVL_PIXEL_NV12: return 1;
	case FVL_PIXEL_YUYV: return 2;
	}
	return 0;
}

enum fvl_status fvl_image_from_view(const struct fvl_image_view *v, struct fvl_image *out)
{
	if (!v || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_image_from_view: NULL argument");
	const uint32_t bpp = view_bpp(v->format), w = v->w, h = v->h;
	if (!bpp)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "unknown pixel format %d",
		                (int)v->format);
	if (!v->data || w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "an empty image view (%ux%u)", w, h);
	if ((uint64_t)w * h > (64u << 20) || w > 65535 || h > 65535)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "a %ux%u view is over 64 Mpixel", w,
		                h);
	if ((v->format == FVL_PIXEL_YUYV || v->format == FVL_PIXEL_NV12) && w % 2)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%s needs an even width, not %u",
		                v->format == FVL_PIXEL_YUYV ? "YUYV" : "NV12", w);
	if (v->format == FVL_PIXEL_NV12 && h % 2)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "NV12 needs an even height, not %u",
		                h);
	const size_t row = (size_t)w * bpp, stride = v->stride ? v->stride : row;
	if (stride < row)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "a stride of %zu bytes is shorter than a %ux%u row (%zu)", stride,
		                w, bpp, row);
	const uint64_t rows = v->format == FVL_PIXEL_NV12 ? (uint64_t)h + h / 2 : h;
	const uint64_t need = (rows - 1) * stride + row;
	if (v->size && v->size < need)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "a %ux%u view with stride %zu needs %llu bytes, %zu given", w, h,
		                stride, (unsigned long long)need, v->size);
	if (out->w != w || out->h != h || !out->rgb) {
		uint8_t *rgb = malloc((size_t)w * h * 3);
		if (!rgb)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for a %ux%u image",
			                w, h);
		fvl_image_free(out);
		out->rgb = rgb, out->w = w, out->h = h;
	}
	if (v->format == FVL_PIXEL_YUYV) {
		fvl_yuyv_to_rgb(v->data, w, h, (uint32_t)stride, out->rgb);
		return FVL_STATUS_OK;
	}
	if (v->format == FVL_PIXEL_NV12) {
		nv12_to_rgb(v->data, w, h, stride, out->rgb);
		return FVL_STATUS_OK;
	}
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *src = v->data + (size_t)y * stride;
		uint8_t *o = out->rgb + (size_t)y * w * 3;
		if (v->format == FVL_PIXEL_RGB8) {
			memcpy(o, src, row);
			continue;
		}
		for (uint32_t x = 0; x < w; x++, o += 3) {
			const uint8_t *p = src + (size_t)x * bpp;
			if (v->format == FVL_PIXEL_BGR8)
				o[0] = p[2], o[1] = p[1], o[2] = p[0];
			else if (v->format == FVL_PIXEL_RGBA8)
				o[0] = p[0], o[1] = p[1], o[2] = p[2];
			else
				o[0] = o[1] = o[2] = p[0];
		}
	}
	return FVL_STATUS_OK;
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
		const struct fvl_image_view v = {
		        .data = data,
		        .w = w,
		        .h = h,
		        .stride = stride,
		        .format = fourcc == V4L2_PIX_FMT_YUYV ? FVL_PIXEL_YUYV : FVL_PIXEL_RGB8,
		        .size = n ? n : 1, /* 0 bytes: a short frame, not "unchecked" */
		};
		st = fvl_image_from_view(&v, out);
		if (st == FVL_STATUS_INVALID_ARGUMENT) { /* the frame is bad, not the caller */
			char why[256];
			snprintf(why, sizeof(why), "%s", fvl_last_error());
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: short frame (%zu bytes: %s)",
			              source, n, why);
		}
	}
	return st;
}
