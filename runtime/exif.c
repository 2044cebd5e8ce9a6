/* exif.c — EXIF orientation: read from a JPEG's APP1 "Exif" segment (or a PNG's eXIf chunk), and
 * applied as PIL's ImageOps.exif_transpose does. The reference (Florence-VL's and Florence-2's
 * processors) opens images with PIL and does not transpose them, so fvl does this only when asked
 * (FVL_IMAGE_EXIF_TRANSPOSE). Every offset is checked against the bytes there are. */
#include <string.h>

#include "common.h"
#include "image.h"

static uint32_t rd16(const uint8_t *p, bool le)
{
	return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, bool le)
{
	return le ? rd16(p, true) | rd16(p + 2, true) << 16
	          : rd16(p, false) << 16 | rd16(p + 2, false);
}

/* The Orientation tag (0x0112) of IFD0 in a TIFF structure of n bytes; 1 if absent. */
static uint32_t tiff_orientation(const uint8_t *t, size_t n)
{
	if (n < 8 || !((t[0] == 'I' && t[1] == 'I') || (t[0] == 'M' && t[1] == 'M')))
		return 1;
	const bool le = t[0] == 'I';
	if (rd16(t + 2, le) != 42)
		return 1;
	const uint32_t ifd = rd32(t + 4, le);
	if (ifd > n - 2)
		return 1;
	const uint32_t count = rd16(t + ifd, le);
	for (uint32_t i = 0; i < count; i++) {
		const size_t at = (size_t)ifd + 2 + (size_t)i * 12;
		if (at + 12 > n)
			break;
		/* SHORT, count 1: the value sits in the first two bytes of the value field */
		if (rd16(t + at, le) == 0x0112 && rd16(t + at + 2, le) == 3 &&
		    rd32(t + at + 4, le) == 1) {
			const uint32_t v = rd16(t + at + 8, le);
			return v >= 1 && v <= 8 ? v : 1;
		}
	}
	return 1;
}

static uint32_t jpeg_orientation(const uint8_t *d, size_t n)
{
	size_t at = 2; /* after SOI */
	while (at + 4 <= n && d[at] == 0xff) {
		const uint8_t marker = d[at + 1];
		if (marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) {
			at += 2;
			continue;
		}
		if (marker == 0xda || marker == 0xd9) /* the scan: metadata comes before it */
			break;
		const size_t len = rd16(d + at + 2, false);
		if (len < 2 || at + 2 + len > n)
			break;
		const uint8_t *seg = d + at + 4;
		if (marker == 0xe1 && len >= 8 && !memcmp(seg, "Exif\0\0", 6))
			return tiff_orientation(seg + 6, len - 2 - 6);
		at += 2 + len;
	}
	return 1;
}

static uint32_t png_orientation(const uint8_t *d, size_t n)
{
	size_t at = 8;
	while (at + 12 <= n) {
		const size_t len = rd32(d + at, false);
		if (len > n - at - 12)
			break;
		if (!memcmp(d + at + 4, "eXIf", 4))
			return tiff_orientation(d + at + 8, len);
		if (!memcmp(d + at + 4, "IDAT", 4) || !memcmp(d + at + 4, "IEND", 4))
			break;
		at += 12 + len;
	}
	return 1;
}

uint32_t fvl_image_exif_orientation(const uint8_t *data, size_t n)
{
	if (!data)
		return 1;
	if (n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
		return jpeg_orientation(data, n);
	if (n >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8))
		return png_orientation(data, n);
	return 1;
}

/* PIL's transposes for orientations 2..8: output pixel (x, y) of an ow x oh image comes from the
 * input pixel this returns. */
static void
source_of(uint32_t o, uint32_t w, uint32_t h, uint32_t x, uint32_t y, uint32_t *sx, uint32_t *sy)
{
	switch (o) {
	case 2: *sx = w - 1 - x, *sy = y; break;         /* FLIP_LEFT_RIGHT */
	case 3: *sx = w - 1 - x, *sy = h - 1 - y; break; /* ROTATE_180 */
	case 4: *sx = x, *sy = h - 1 - y; break;         /* FLIP_TOP_BOTTOM */
	case 5: *sx = y, *sy = x; break;                 /* TRANSPOSE */
	case 6: *sx = y, *sy = h - 1 - x; break;         /* ROTATE_270 (clockwise 90) */
	case 7: *sx = w - 1 - y, *sy = h - 1 - x; break; /* TRANSVERSE */
	case 8: *sx = w - 1 - y, *sy = x; break;         /* ROTATE_90 (counter-clockwise) */
	default: *sx = x, *sy = y; break;
	}
}

enum fvl_status fvl_image_orient(struct fvl_image *img, uint32_t orientation)
{
	if (!img || !img->rgb)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_image_orient: no image");
	if (orientation < 1 || orientation > 8)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "EXIF orientation %u is not one of 1..8", orientation);
	if (orientation == 1)
		return FVL_STATUS_OK;
	const uint32_t w = img->w, h = img->h;
	const bool swap = orientation >= 5;
	const uint32_t ow = swap ? h : w, oh = swap ? w : h;
	uint8_t *out = malloc((size_t)w * h * 3);
	if (!out)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	for (uint32_t y = 0; y < oh; y++)
		for (uint32_t x = 0; x < ow; x++) {
			uint32_t sx, sy;
			source_of(orientation, w, h, x, y, &sx, &sy);
			memcpy(out + ((size_t)y * ow + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3,
			       3);
		}
	free(img->rgb);
	img->rgb = out;
	img->w = ow;
	img->h = oh;
	return FVL_STATUS_OK;
}
