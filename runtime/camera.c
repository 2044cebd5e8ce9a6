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
#include "pixel-formats.h"
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

static int lv_open(const char *p, int flags)
{
	return v4l2_open(p, flags);
}
static int lv_close(int fd)
{
	return v4l2_close(fd);
}
static int lv_ioctl(int fd, unsigned long r, void *a)
{
	return v4l2_ioctl(fd, r, a);
}
static void *lv_mmap(void *a, size_t l, int prot, int flags, int fd, int64_t off)
{
	return v4l2_mmap(a, l, prot, flags, fd, off);
}
static int lv_munmap(void *a, size_t l)
{
	return v4l2_munmap(a, l);
}

const struct fvl_v4l2_ops *fvl_v4l2_ops_libv4l2(void)
{
	static const struct fvl_v4l2_ops ops = {lv_open, lv_close,  lv_ioctl,
	                                        lv_mmap, lv_munmap, poll};
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
		return fvl_fail(FVL_STATUS_IO, "%s: the device disappeared (%s: %s)", c->device,
		                step, strerror(e));
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
			return fvl_fail(FVL_STATUS_NOT_FOUND, "%s: no such camera (%s)", p->device,
			                strerror(e));
		if (e == EBUSY)
			return fvl_fail(FVL_STATUS_IO,
			                "%s: the camera is busy (another program uses it)",
			                p->device);
		if (e == ENOTTY || e == EINVAL) /* libv4l2 probes the device as it opens it */
			return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: not a V4L2 device (%s)",
			                p->device, strerror(e));
		return fvl_fail(FVL_STATUS_IO, "%s: cannot open: %s", p->device, strerror(e));
	}
	memset(&cap, 0, sizeof(cap));
	if (xioctl(c, VIDIOC_QUERYCAP, &cap) != 0) {
		st = errno == ENOTTY
		             ? fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: not a V4L2 device", c->device)
		             : dev_error(c, "VIDIOC_QUERYCAP");
		goto error;
	}
	const uint32_t caps =
	        cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED,
		              "%s (%.32s): not a streaming video capture device", c->device,
		              (const char *)cap.card);
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
		st = fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: offers none of MJPEG, YUYV, RGB24",
		              c->device);
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
		st = req.count < 1 ? fvl_fail(FVL_STATUS_IO, "%s: no capture buffers", c->device)
		                   : dev_error(c, "VIDIOC_REQBUFS");
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
			return fvl_fail(FVL_STATUS_IO,
			                "%s: timed out after %d ms waiting for a frame", c->device,
			                c->timeout_ms);
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
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: the driver returned a bad buffer",
		                c->device);
	}
	const enum fvl_status st = fvl_frame_to_rgb(c->fourcc, c->buf[b.index], b.bytesused, c->w,
	                                            c->h, c->stride, c->device, out);
	if (sequence)
		*sequence = b.sequence;
	if (xioctl(c, VIDIOC_QBUF, &b) != 0 && st == FVL_STATUS_OK)
		return dev_error(c, "VIDIOC_QBUF");
	return st;
}
