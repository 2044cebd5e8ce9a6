/* image.c — image decoding and preprocessing, bit-compatible with PIL where the reference uses it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <spng.h>
#include <turbojpeg.h>

#include "common.h"
#include "image.h"

void fvl_image_free(struct fvl_image *img)
{
	if (!img)
		return;
	free(img->rgb);
	memset(img, 0, sizeof(*img));
}

static enum fvl_status alloc_image(struct fvl_image *img, uint32_t w, uint32_t h)
{
	img->w = w;
	img->h = h;
	img->rgb = malloc((size_t)w * h * 3);
	return img->rgb ? FVL_STATUS_OK
	                : fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory for a %ux%u image", w,
	                           h);
}

static enum fvl_status check_size(uint64_t w, uint64_t h, uint64_t max_pixels)
{
	if (max_pixels == 0)
		max_pixels = FVL_IMAGE_MAX_PIXELS_DEFAULT;
	if (w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "image has no pixels (%llux%llu)",
		                (unsigned long long)w, (unsigned long long)h);
	if (w * h > max_pixels)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "image of %llux%llu is over the limit of %llu "
		                "pixels",
		                (unsigned long long)w, (unsigned long long)h,
		                (unsigned long long)max_pixels);
	return FVL_STATUS_OK;
}

static enum fvl_status
decode_jpeg(const uint8_t *data, size_t n, uint64_t max_pixels, struct fvl_image *out)
{
	tjhandle tj = tjInitDecompress();
	int w = 0, h = 0, sub = 0, cs = 0;
	enum fvl_status st = FVL_STATUS_OK;
	uint8_t *cmyk = NULL;
	if (!tj)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "cannot start the JPEG decoder");
	if (tjDecompressHeader3(tj, data, (unsigned long)n, &w, &h, &sub, &cs) != 0 || w <= 0 ||
	    h <= 0) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt JPEG: %s", tjGetErrorStr2(tj));
		goto done;
	}
	if ((st = check_size((uint64_t)w, (uint64_t)h, max_pixels)) != FVL_STATUS_OK ||
	    (st = alloc_image(out, (uint32_t)w, (uint32_t)h)) != FVL_STATUS_OK)
		goto done;
	/* Accurate DCT and fancy upsampling: libjpeg's defaults, as PIL decodes. */
	if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
		cmyk = malloc((size_t)w * h * 4);
		if (!cmyk) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		if (tjDecompress2(tj, data, (unsigned long)n, cmyk, w, 0, h, TJPF_CMYK, 0) != 0) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt JPEG: %s", tjGetErrorStr2(tj));
			goto done;
		}
		/* PIL's convert("RGB") of CMYK: channel = (255 - k) - c (255 - k) / 255, rounded as
		 * its MULDIV255. */
		for (size_t i = 0; i < (size_t)w * h; i++) {
			const int nk = 255 - cmyk[4 * i + 3];
			for (int c = 0; c < 3; c++) {
				int t = cmyk[4 * i + c] * nk + 128;
				int v = nk - ((t + (t >> 8)) >> 8);
				out->rgb[3 * i + c] = (uint8_t)(v < 0 ? 0 : v);
			}
		}
	} else if (tjDecompress2(tj, data, (unsigned long)n, out->rgb, w, 0, h, TJPF_RGB, 0) != 0) {
		/* A warning (e.g. premature end of data) still yields an image in libjpeg; PIL
		 * raises on truncated files unless told otherwise, so refuse. */
		st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt or truncated JPEG: %s",
		              tjGetErrorStr2(tj));
	}
done:
	if (st != FVL_STATUS_OK)
		fvl_image_free(out);
	free(cmyk);
	tjDestroy(tj);
	return st;
}

/* A PNM header integer (skipping whitespace and # comments). */
static bool pnm_int(const uint8_t *d, size_t n, size_t *at, uint64_t *v)
{
	for (;;) {
		while (*at < n &&
		       (d[*at] == ' ' || d[*at] == '\t' || d[*at] == '\n' || d[*at] == '\r'))
			(*at)++;
		if (*at < n && d[*at] == '#') {
			while (*at < n && d[*at] != '\n')
				(*at)++;
			continue;
		}
		break;
	}
	if (*at >= n || d[*at] < '0' || d[*at] > '9')
		return false;
	*v = 0;
	while (*at < n && d[*at] >= '0' && d[*at] <= '9') {
		*v = *v * 10 + (uint64_t)(d[*at] - '0');
		if (*v > (1u << 30))
			return false;
		(*at)++;
	}
	return true;
}

static enum fvl_status
decode_pnm(const uint8_t *d, size_t n, uint64_t max_pixels, struct fvl_image *out)
{
	uint64_t w, h, maxval;
	size_t at = 2;
	const bool gray = d[1] == '5';
	enum fvl_status st;
	if (!pnm_int(d, n, &at, &w) || !pnm_int(d, n, &at, &h) || !pnm_int(d, n, &at, &maxval) ||
	    at >= n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "corrupt PNM header");
	at++; /* one whitespace byte before the raster */
	if (maxval != 255)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "PNM with maxval %llu (fvl reads 8-bit, 255)",
		                (unsigned long long)maxval);
	if ((st = check_size(w, h, max_pixels)) != FVL_STATUS_OK)
		return st;
	const uint64_t need = w * h * (gray ? 1 : 3);
	if (n - at < need)
		return fvl_fail(FVL_STATUS_BAD_FILE, "truncated PNM: %zu of %llu raster bytes",
		                n - at, (unsigned long long)need);
	if ((st = alloc_image(out, (uint32_t)w, (uint32_t)h)) != FVL_STATUS_OK)
		return st;
	if (gray)
		for (size_t i = 0; i < w * h; i++)
			out->rgb[3 * i] = out->rgb[3 * i + 1] = out->rgb[3 * i + 2] = d[at + i];
	else
		memcpy(out->rgb, d + at, need);
	return FVL_STATUS_OK;
}

/* PNG through libspng, as PIL's open + convert("RGB"): alpha and tRNS dropped (not composited),
 * palettes expanded, low bit depths scaled to 0..255, 16-bit samples cut to their high byte, no
 * gamma applied. */
static enum fvl_status
decode_png(const uint8_t *data, size_t n, uint64_t max_pixels, struct fvl_image *out)
{
	spng_ctx *ctx = spng_ctx_new(0);
	struct spng_ihdr ihdr;
	size_t need = 0;
	enum fvl_status st = FVL_STATUS_OK;
	int e;
	if (!ctx)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "cannot start the PNG decoder");
	/* ancillary chunks (text, ICC profiles) are not kept: cap what the decoder may hold */
	spng_set_chunk_limits(ctx, 1u << 24, 1u << 24);
	if ((e = spng_set_png_buffer(ctx, data, n)) || (e = spng_get_ihdr(ctx, &ihdr))) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt PNG: %s", spng_strerror(e));
		goto done;
	}
	if ((st = check_size(ihdr.width, ihdr.height, max_pixels)) != FVL_STATUS_OK)
		goto done;
	if ((e = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need)) ||
	    need != (size_t)ihdr.width * ihdr.height * 3) {
		st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt PNG: %s",
		              e ? spng_strerror(e) : "size");
		goto done;
	}
	if ((st = alloc_image(out, ihdr.width, ihdr.height)) != FVL_STATUS_OK)
		goto done;
	if ((e = spng_decode_image(ctx, out->rgb, need, SPNG_FMT_RGB8, 0)))
		st = fvl_fail(FVL_STATUS_BAD_FILE, "corrupt or truncated PNG: %s",
		              spng_strerror(e));
done:
	if (st != FVL_STATUS_OK)
		fvl_image_free(out);
	spng_ctx_free(ctx);
	return st;
}

enum fvl_status
fvl_image_decode(const uint8_t *data, size_t n, uint64_t max_pixels, struct fvl_image *out)
{
	memset(out, 0, sizeof(*out));
	if (n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
		return decode_jpeg(data, n, max_pixels, out);
	if (n >= 3 && data[0] == 'P' && (data[1] == '5' || data[1] == '6'))
		return decode_pnm(data, n, max_pixels, out);
	if (n >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8))
		return decode_png(data, n, max_pixels, out);
	if (n == 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "empty image file");
	return fvl_fail(FVL_STATUS_UNSUPPORTED, "unsupported image type (fvl reads JPEG, PNG and "
	                                        "binary PNM: P5, P6)");
}

enum fvl_status fvl_image_decode_ex(const uint8_t *data, size_t n, uint64_t max_pixels,
                                    uint32_t flags, struct fvl_image *out)
{
	enum fvl_status st = fvl_image_decode(data, n, max_pixels, out);
	if (st == FVL_STATUS_OK && (flags & FVL_IMAGE_EXIF_TRANSPOSE) &&
	    (st = fvl_image_orient(out, fvl_image_exif_orientation(data, n))) != FVL_STATUS_OK)
		fvl_image_free(out);
	return st;
}

enum fvl_status fvl_image_read(const char *path, uint64_t max_pixels, struct fvl_image *out)
{
	return fvl_image_read_ex(path, max_pixels, 0, out);
}

enum fvl_status
fvl_image_read_ex(const char *path, uint64_t max_pixels, uint32_t flags, struct fvl_image *out)
{
	struct stat sb;
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(path, "rb");
	if (!f)
		return fvl_fail(errno == ENOENT ? FVL_STATUS_NOT_FOUND : FVL_STATUS_IO,
		                "%s: cannot open: %s", path, strerror(errno));
	/* the size and kind first: /dev/zero or a FIFO would otherwise be read until memory runs
	 * out */
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		const bool dir = S_ISDIR(sb.st_mode);
		fclose(f);
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: %s, not an image file", path,
		                dir ? "a directory"
		                    : "not a regular file (a device, FIFO or socket)");
	}
	if ((uint64_t)sb.st_size > FVL_IMAGE_MAX_FILE_BYTES) {
		fclose(f);
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: %lld bytes; image files are read up to %u MB", path,
		                (long long)sb.st_size, FVL_IMAGE_MAX_FILE_BYTES >> 20);
	}
	const size_t n = (size_t)sb.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		fclose(f);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	const size_t got = fread(buf, 1, n, f);
	const bool err = ferror(f) || got != n;
	fclose(f);
	enum fvl_status st =
	        err ? fvl_fail(FVL_STATUS_IO, "%s: read error (%zu of %zu bytes)", path, got, n)
	            : fvl_image_decode_ex(buf, n, max_pixels, flags, out);
	free(buf);
	if (st != FVL_STATUS_OK && !err)
		fvl_error_prefix(path);
	return st;
}

enum fvl_status
fvl_image_pad_square(const struct fvl_image *in, const uint8_t fill[3], struct fvl_image *out)
{
	const uint32_t side = in->w > in->h ? in->w : in->h;
	enum fvl_status st = alloc_image(out, side, side);
	if (st != FVL_STATUS_OK)
		return st;
	for (size_t i = 0; i < (size_t)side * side; i++)
		memcpy(out->rgb + 3 * i, fill, 3);
	const uint32_t x0 = (side - in->w) / 2, y0 = (side - in->h) / 2;
	for (uint32_t y = 0; y < in->h; y++)
		memcpy(out->rgb + ((size_t)(y + y0) * side + x0) * 3,
		       in->rgb + (size_t)y * in->w * 3, (size_t)in->w * 3);
	return FVL_STATUS_OK;
}

#define PRECISION_BITS 22

static double bicubic(double x)
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

/* PIL's coefficient table for in_size -> out_size: per output, a first input index, a count,
 * and ksize fixed-point weights. */
static int coeffs(uint32_t in_size, uint32_t out_size, int **bounds, int32_t **kk)
{
	const double scale = (double)in_size / out_size;
	const double filterscale = scale < 1.0 ? 1.0 : scale;
	const double support = 2.0 * filterscale;
	const int ksize = (int)ceil(support) * 2 + 1;
	double *w = malloc((size_t)ksize * sizeof(double));
	*bounds = malloc((size_t)out_size * 2 * sizeof(int));
	*kk = malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
	if (!w || !*bounds || !*kk) {
		free(w);
		return 0;
	}
	for (uint32_t xx = 0; xx < out_size; xx++) {
		const double center = (xx + 0.5) * scale, ss = 1.0 / filterscale;
		int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
		if (xmin < 0)
			xmin = 0;
		if (xmax > (int)in_size)
			xmax = (int)in_size;
		xmax -= xmin;
		double ww = 0.0;
		for (int x = 0; x < xmax; x++) {
			w[x] = bicubic((x + xmin - center + 0.5) * ss);
			ww += w[x];
		}
		int32_t *k = *kk + (size_t)xx * (size_t)ksize;
		for (int x = 0; x < ksize; x++) {
			double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
			k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
			                       : 0.5 + v * (1 << PRECISION_BITS));
		}
		(*bounds)[2 * xx] = xmin;
		(*bounds)[2 * xx + 1] = xmax;
	}
	free(w);
	return ksize;
}

static inline uint8_t clip8(int32_t v)
{
	v >>= PRECISION_BITS; /* arithmetic: floor, as PIL's table lookup */
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

enum fvl_status
fvl_image_resize_bicubic(const struct fvl_image *in, uint32_t w, uint32_t h, struct fvl_image *out)
{
	enum fvl_status st;
	struct fvl_image tmp = {0};
	const struct fvl_image *src = in;
	int *b = NULL;
	int32_t *kk = NULL;
	memset(out, 0, sizeof(*out));
	if (w == 0 || h == 0)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "resize to %ux%u", w, h);
	/* Horizontal pass, if the width changes (PIL skips an unchanged axis). */
	if (w != in->w) {
		int ks = coeffs(in->w, w, &b, &kk);
		if (!ks || (st = alloc_image(&tmp, w, in->h)) != FVL_STATUS_OK) {
			st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory resizing");
			goto done;
		}
		for (uint32_t y = 0; y < in->h; y++) {
			const uint8_t *row = in->rgb + (size_t)y * in->w * 3;
			for (uint32_t xx = 0; xx < w; xx++) {
				const int xmin = b[2 * xx], xmax = b[2 * xx + 1];
				const int32_t *k = kk + (size_t)xx * (size_t)ks;
				int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
				for (int x = 0; x < xmax; x++) {
					const uint8_t *p = row + (size_t)(x + xmin) * 3;
					s0 += p[0] * k[x];
					s1 += p[1] * k[x];
					s2 += p[2] * k[x];
				}
				uint8_t *o = tmp.rgb + ((size_t)y * w + xx) * 3;
				o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
			}
		}
		free(b);
		free(kk);
		b = NULL, kk = NULL;
		src = &tmp;
	}
	if ((st = alloc_image(out, w, h)) != FVL_STATUS_OK)
		goto done;
	if (h == src->h) {
		memcpy(out->rgb, src->rgb, (size_t)w * h * 3);
		goto done;
	}
	int ks = coeffs(src->h, h, &b, &kk);
	if (!ks) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory resizing");
		goto done;
	}
	for (uint32_t yy = 0; yy < h; yy++) {
		const int ymin = b[2 * yy], ymax = b[2 * yy + 1];
		const int32_t *k = kk + (size_t)yy * (size_t)ks;
		for (uint32_t xx = 0; xx < w; xx++) {
			int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
			for (int y = 0; y < ymax; y++) {
				const uint8_t *p = src->rgb + ((size_t)(y + ymin) * w + xx) * 3;
				s0 += p[0] * k[y];
				s1 += p[1] * k[y];
				s2 += p[2] * k[y];
			}
			uint8_t *o = out->rgb + ((size_t)yy * w + xx) * 3;
			o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
		}
	}
done:
	if (st != FVL_STATUS_OK)
		fvl_image_free(out);
	free(b);
	free(kk);
	fvl_image_free(&tmp);
	return st;
}

void fvl_image_normalize(const struct fvl_image *img, float rescale, const float mean[3],
                         const float std[3], float *out)
{
	const size_t n = (size_t)img->w * img->h;
	for (int c = 0; c < 3; c++)
		for (size_t i = 0; i < n; i++)
			out[(size_t)c * n + i] =
			        ((float)img->rgb[3 * i + (size_t)c] * rescale - mean[c]) / std[c];
}

double fvl_image_change(const struct fvl_image *a, const struct fvl_image *b)
{
	if (!a->rgb || !b->rgb)
		return 255.0;
	double sum = 0;
	for (uint32_t ty = 0; ty < 32; ty++)
		for (uint32_t tx = 0; tx < 32; tx++) {
			const struct fvl_image *im[2] = {a, b};
			int g[2];
			for (int k = 0; k < 2; k++) {
				const uint32_t x = tx * im[k]->w / 32, y = ty * im[k]->h / 32;
				const uint8_t *p = im[k]->rgb + ((size_t)y * im[k]->w + x) * 3;
				g[k] = (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8;
			}
			sum += abs(g[0] - g[1]);
		}
	return sum / 1024.0;
}

enum fvl_status fvl_image_load(const char *path, struct fvl_image *out)
{
	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_image_load: NULL argument");
	return fvl_image_read(path, 0, out);
}

enum fvl_status fvl_image_load_ex(const char *path, uint32_t flags, struct fvl_image *out)
{
	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_image_load_ex: NULL argument");
	return fvl_image_read_ex(path, 0, flags, out);
}
