/* camera.c — V4L2 mmap streaming capture and frame conversion. */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "camera.h"
#include "common.h"

#define MAX_BUFFERS 8

struct fvl_camera {
	const struct fvl_v4l2_ops *ops;
	int fd;
	char device[256];
	uint32_t fourcc, w, h, stride;
	void *buf[MAX_BUFFERS];
	size_t len[MAX_BUFFERS];
	uint32_t n_buf;
	int timeout_ms;
	bool streaming;
	char fmt[64];
};

static int lv_open(const char *p, int flags) { return v4l2_open(p, flags); }
static int lv_close(int fd) { return v4l2_close(fd); }
static int lv_ioctl(int fd, unsigned long r, void *a) { return v4l2_ioctl(fd, r, a); }
static void *lv_mmap(void *a, size_t l, int prot, int flags, int fd, int64_t off)
{
	return v4l2_mmap(a, l, prot, flags, fd, off);
}
static int lv_munmap(void *a, size_t l) { return v4l2_munmap(a, l); }

const struct fvl_v4l2_ops *fvl_v4l2_ops_libv4l2(void)
{
	static const struct fvl_v4l2_ops ops = {lv_open, lv_close, lv_ioctl, lv_mmap, lv_munmap, poll};
	return &ops;
}

/* ioctl retried on EINTR */
static int xioctl(const struct fvl_camera *c, unsigned long req, void *arg)
{
	int r;
	do
		r = c->ops->ioctl(c->fd, req, arg);
	while (r == -1 && errno == EINTR);
	return r;
}

static enum fvl_status dev_error(const struct fvl_camera *c, const char *step)
{
	const int e = errno;
	if (e == ENODEV || e == ENXIO)
		return fvl_fail(FVL_STATUS_IO, "%s: the device disappeared (%s: %s)", c->device, step,
		                strerror(e));
	return fvl_fail(FVL_STATUS_IO, "%s: %s failed: %s", c->device, step, strerror(e));
}

const char *fvl_camera_format(const struct fvl_camera *c)
{
	return c->fmt;
}

enum fvl_status fvl_camera_open(const struct fvl_v4l2_ops *ops, const struct fvl_camera_params *p,
                                struct fvl_camera **out)
{
	static const uint32_t prefs[] = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_RGB24};
	struct v4l2_capability cap;
	struct v4l2_format fmt;
	struct v4l2_requestbuffers req;
	enum fvl_status st;
	*out = NULL;
	if (!p || !p->device)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no camera device given");
	struct fvl_camera *c = calloc(1, sizeof(*c));
	if (!c)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	c->ops = ops ? ops : fvl_v4l2_ops_libv4l2();
	snprintf(c->device, sizeof(c->device), "%s", p->device);
	c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 2000;
	c->fd = c->ops->open(p->device, O_RDWR | O_NONBLOCK);
	if (c->fd < 0) {
		const int e = errno;
		free(c);
		if (e == ENOENT || e == ENODEV || e == ENXIO)
			return fvl_fail(FVL_STATUS_NOT_FOUND, "%s: no such camera (%s)", p->device, strerror(e));
		if (e == EBUSY)
			return fvl_fail(FVL_STATUS_IO, "%s: the camera is busy (another program uses it)",
			                p->device);
		if (e == ENOTTY || e == EINVAL) /* libv4l2 probes the device as it opens it */
			return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: not a V4L2 device (%s)", p->device,
			                strerror(e));
		return fvl_fail(FVL_STATUS_IO, "%s: cannot open: %s", p->device, strerror(e));
	}
	memset(&cap, 0, sizeof(cap));
	if (xioctl(c, VIDIOC_QUERYCAP, &cap) != 0) {
		st = errno == ENOTTY ? fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: not a V4L2 device", c->device) :
		                       dev_error(c, "VIDIOC_QUERYCAP");
		goto error;
	}
	const uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED, "%s (%.32s): not a streaming video capture device",
		              c->device, (const char *)cap.card);
		goto error;
	}
	bool ok = false;
	for (size_t i = 0; i < sizeof(prefs) / sizeof(prefs[0]) && !ok; i++) {
		memset(&fmt, 0, sizeof(fmt));
		fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		fmt.fmt.pix.width = p->width ? p->width : 640;
		fmt.fmt.pix.height = p->height ? p->height : 480;
		fmt.fmt.pix.pixelformat = prefs[i];
		fmt.fmt.pix.field = V4L2_FIELD_NONE;
		if (xioctl(c, VIDIOC_S_FMT, &fmt) == 0 && fmt.fmt.pix.pixelformat == prefs[i] &&
		    fmt.fmt.pix.width > 0 && fmt.fmt.pix.height > 0)
			ok = true;
	}
	if (!ok) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: offers none of MJPEG, YUYV, RGB24", c->device);
		goto error;
	}
	c->fourcc = fmt.fmt.pix.pixelformat;
	c->w = fmt.fmt.pix.width;
	c->h = fmt.fmt.pix.height;
	c->stride = fmt.fmt.pix.bytesperline;
	snprintf(c->fmt, sizeof(c->fmt), "%.4s %ux%u", (const char *)&c->fourcc, c->w, c->h);
	memset(&req, 0, sizeof(req));
	req.count = p->n_buffers ? (p->n_buffers > MAX_BUFFERS ? MAX_BUFFERS : p->n_buffers) : 4;
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	if (xioctl(c, VIDIOC_REQBUFS, &req) != 0 || req.count < 1) {
		st = req.count < 1 ? fvl_fail(FVL_STATUS_IO, "%s: no capture buffers", c->device) :
		                     dev_error(c, "VIDIOC_REQBUFS");
		goto error;
	}
	c->n_buf = req.count > MAX_BUFFERS ? MAX_BUFFERS : req.count;
	for (uint32_t i = 0; i < c->n_buf; i++) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = i;
		if (xioctl(c, VIDIOC_QUERYBUF, &b) != 0) {
			st = dev_error(c, "VIDIOC_QUERYBUF");
			goto error;
		}
		c->buf[i] = c->ops->mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		                         b.m.offset);
		if (c->buf[i] == MAP_FAILED) {
			c->buf[i] = NULL;
			st = dev_error(c, "mmap");
			goto error;
		}
		c->len[i] = b.length;
		if (xioctl(c, VIDIOC_QBUF, &b) != 0) {
			st = dev_error(c, "VIDIOC_QBUF");
			goto error;
		}
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (xioctl(c, VIDIOC_STREAMON, &type) != 0) {
		st = dev_error(c, "VIDIOC_STREAMON");
		goto error;
	}
	c->streaming = true;
	*out = c;
	return FVL_STATUS_OK;
error:
	fvl_camera_close(c);
	return st;
}

void fvl_camera_close(struct fvl_camera *c)
{
	if (!c)
		return;
	if (c->streaming) {
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		xioctl(c, VIDIOC_STREAMOFF, &type);
	}
	for (uint32_t i = 0; i < MAX_BUFFERS; i++)
		if (c->buf[i])
			c->ops->munmap(c->buf[i], c->len[i]);
	if (c->fd >= 0)
		c->ops->close(c->fd);
	free(c);
}

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
			const int Y = s[2 * x] - 16, U = s[(2 * x & ~3u) + 1] - 128, Vv = s[(2 * x & ~3u) + 3] - 128;
			o[3 * x] = clamp8((298 * Y + 409 * Vv + 128) >> 8);
			o[3 * x + 1] = clamp8((298 * Y - 100 * U - 208 * Vv + 128) >> 8);
			o[3 * x + 2] = clamp8((298 * Y + 516 * U + 128) >> 8);
		}
	}
}

enum fvl_status fvl_camera_grab(struct fvl_camera *c, struct fvl_image *out, uint64_t *sequence)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	struct v4l2_buffer b;
	for (int tries = 0;; tries++) {
		int r = c->ops->poll(&pfd, 1, c->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return dev_error(c, "poll");
		if (r == 0)
			return fvl_fail(FVL_STATUS_IO, "%s: timed out after %d ms waiting for a frame",
			                c->device, c->timeout_ms);
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			errno = ENODEV;
			return dev_error(c, "poll");
		}
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(c, VIDIOC_DQBUF, &b) == 0)
			break;
		if (errno != EAGAIN || tries > 100)
			return dev_error(c, "VIDIOC_DQBUF");
	}
	if (b.index >= c->n_buf || b.bytesused > c->len[b.index]) {
		xioctl(c, VIDIOC_QBUF, &b);
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: the driver returned a bad buffer", c->device);
	}
	const uint8_t *data = c->buf[b.index];
	enum fvl_status st = FVL_STATUS_OK;
	if (c->fourcc == V4L2_PIX_FMT_MJPEG) {
		struct fvl_image img;
		st = fvl_image_decode(data, b.bytesused, 0, &img);
		if (st == FVL_STATUS_OK) {
			fvl_image_free(out);
			*out = img;
		} else if (st != FVL_STATUS_OUT_OF_MEMORY) { /* the frame is bad, not the device */
			char why[256];
			snprintf(why, sizeof(why), "%s", fvl_last_error());
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: a corrupt frame (%s)", c->device, why);
		}
	} else {
		const uint32_t bpp = c->fourcc == V4L2_PIX_FMT_YUYV ? 2 : 3;
		const uint32_t stride = c->stride ? c->stride : c->w * bpp;
		if ((uint64_t)stride * c->h > b.bytesused) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: short frame (%u bytes)", c->device, b.bytesused);
		} else if (out->w != c->w || out->h != c->h || !out->rgb) {
			fvl_image_free(out);
			out->rgb = malloc((size_t)c->w * c->h * 3);
			out->w = c->w, out->h = c->h;
			if (!out->rgb)
				st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		}
		if (st == FVL_STATUS_OK) {
			if (bpp == 2)
				fvl_yuyv_to_rgb(data, c->w, c->h, stride, out->rgb);
			else
				for (uint32_t y = 0; y < c->h; y++)
					memcpy(out->rgb + (size_t)y * c->w * 3, data + (size_t)y * stride, (size_t)c->w * 3);
		}
	}
	if (sequence)
		*sequence = b.sequence;
	if (xioctl(c, VIDIOC_QBUF, &b) != 0 && st == FVL_STATUS_OK)
		st = dev_error(c, "VIDIOC_QBUF");
	return st;
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
