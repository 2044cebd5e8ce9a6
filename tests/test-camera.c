/* test-camera.c — the V4L2 capture path against a fake device (no machine here has a camera):
 * the whole QUERYCAP -> S_FMT -> REQBUFS -> QUERYBUF -> mmap -> QBUF -> STREAMON -> poll/DQBUF
 * cycle for MJPEG and YUYV, and every fault: no device, busy, not a capture device, no usable
 * format, timeouts, EAGAIN, a device unplugged mid-stream and plugged back. */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "camera.h"
#include "capture.h"
#include "cfg.h"
#include "test.h"

/* ---- the fake device ------------------------------------------------------------------------ */

static struct {
	int open_errno; /* open fails with this */
	bool not_capture;
	uint32_t formats[4]; /* offered, in the driver's order */
	uint32_t w, h;
	uint8_t *jpeg;
	size_t jpeg_n;
	uint8_t *buf[4];
	size_t buf_len;
	bool queued[4];
	bool streaming;
	int eagain;        /* DQBUF answers EAGAIN this many times */
	bool timeout;      /* poll never ready */
	int unplug_after;  /* DQBUF fails with ENODEV after this many frames (0: never) */
	int corrupt_every; /* every Nth MJPEG frame is garbage (0: never) */
	int opens;
	int frames;
	uint32_t seq;
} fake;

static int f_open(const char *p, int flags)
{
	(void)p, (void)flags;
	if (fake.open_errno) {
		errno = fake.open_errno;
		return -1;
	}
	fake.opens++;
	return 42;
}

static int f_close(int fd)
{
	(void)fd;
	return 0;
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
	(void)fd;
	if (req == VIDIOC_QUERYCAP) {
		struct v4l2_capability *c = arg;
		memset(c, 0, sizeof(*c));
		strcpy((char *)c->card, "fake camera");
		c->capabilities = fake.not_capture ? V4L2_CAP_VIDEO_OUTPUT
		                                   : V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
		return 0;
	}
	if (req == VIDIOC_S_FMT) {
		struct v4l2_format *f = arg;
		uint32_t want = f->fmt.pix.pixelformat, got = fake.formats[0];
		for (int i = 0; i < 4; i++)
			if (fake.formats[i] == want)
				got = want;
		f->fmt.pix.pixelformat = got; /* a driver answers with what it can do */
		f->fmt.pix.width = fake.w;
		f->fmt.pix.height = fake.h;
		f->fmt.pix.bytesperline = got == V4L2_PIX_FMT_YUYV    ? fake.w * 2
		                          : got == V4L2_PIX_FMT_RGB24 ? fake.w * 3
		                                                      : 0;
		return 0;
	}
	if (req == VIDIOC_REQBUFS) {
		struct v4l2_requestbuffers *r = arg;
		if (r->count > 4)
			r->count = 4;
		fake.buf_len = (size_t)fake.w * fake.h * 3 + 65536;
		for (uint32_t i = 0; i < r->count; i++)
			if (!fake.buf[i])
				fake.buf[i] = calloc(1, fake.buf_len);
		return 0;
	}
	if (req == VIDIOC_QUERYBUF) {
		struct v4l2_buffer *b = arg;
		b->length = (uint32_t)fake.buf_len;
		b->m.offset = b->index * 4096;
		return 0;
	}
	if (req == VIDIOC_QBUF) {
		fake.queued[((struct v4l2_buffer *)arg)->index] = true;
		return 0;
	}
	if (req == VIDIOC_STREAMON || req == VIDIOC_STREAMOFF) {
		fake.streaming = req == VIDIOC_STREAMON;
		return 0;
	}
	if (req == VIDIOC_DQBUF) {
		struct v4l2_buffer *b = arg;
		if (fake.unplug_after && fake.frames >= fake.unplug_after) {
			errno = ENODEV;
			return -1;
		}
		if (fake.eagain > 0) {
			fake.eagain--;
			errno = EAGAIN;
			return -1;
		}
		for (uint32_t i = 0; i < 4; i++) {
			if (!fake.queued[i])
				continue;
			fake.queued[i] = false;
			b->index = i;
			b->sequence = fake.seq++;
			fake.frames++;
			uint32_t f = fake.formats[0];
			if (f == V4L2_PIX_FMT_MJPEG) {
				memcpy(fake.buf[i], fake.jpeg, fake.jpeg_n);
				b->bytesused = (uint32_t)fake.jpeg_n;
				if (fake.corrupt_every && fake.frames % fake.corrupt_every == 0)
					memset(fake.buf[i] + 2, 0x5a,
					       600);         /* the markers after SOI smashed */
			} else if (f == V4L2_PIX_FMT_YUYV) { /* a flat grey: Y 128, U 128, V 128 */
				memset(fake.buf[i], 128, (size_t)fake.w * fake.h * 2);
				b->bytesused = fake.w * fake.h * 2;
			} else {
				memset(fake.buf[i], 7, (size_t)fake.w * fake.h * 3);
				b->bytesused = fake.w * fake.h * 3;
			}
			return 0;
		}
		errno = EAGAIN;
		return -1;
	}
	errno = ENOTTY;
	return -1;
}

static void *f_mmap(void *a, size_t l, int prot, int flags, int fd, int64_t off)
{
	(void)a, (void)l, (void)prot, (void)flags, (void)fd;
	return fake.buf[off / 4096];
}

static int f_munmap(void *a, size_t l)
{
	(void)a, (void)l;
	return 0;
}

static int f_poll(struct pollfd *p, nfds_t n, int t)
{
	(void)n, (void)t;
	p->revents = fake.timeout ? 0 : POLLIN;
	return fake.timeout ? 0 : 1;
}

static const struct fvl_v4l2_ops fake_ops = {f_open, f_close, f_ioctl, f_mmap, f_munmap, f_poll};

static void reset_fake(uint32_t fourcc)
{
	for (int i = 0; i < 4; i++)
		free(fake.buf[i]);
	free(fake.jpeg);
	memset(&fake, 0, sizeof(fake));
	fake.formats[0] = fourcc;
	fake.w = 64, fake.h = 48;
	char *j;
	size_t n;
	if (cfg_read_file(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &j, &n) == FVL_STATUS_OK) {
		fake.jpeg = (uint8_t *)j;
		fake.jpeg_n = n;
	}
}

static const struct fvl_camera_params params = {
        sizeof(params), "/dev/video-fake", 640, 480, 4, 100};

static void test_camera_mjpeg_cycle(void)
{
	struct fvl_camera *c;
	struct fvl_image img = {0};
	uint64_t seq = 99;
	reset_fake(V4L2_PIX_FMT_MJPEG);
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fake.streaming && strcmp(fvl_camera_format(c), "MJPG 64x48") == 0, "format %s",
	         fvl_camera_format(c));
	for (int i = 0; i < 6; i++) { /* more frames than buffers: each is requeued */
		T_ASSERT(fvl_camera_grab(c, &img, &seq) == FVL_STATUS_OK, "grab %d: %s", i,
		         fvl_last_error());
		T_ASSERT(seq == (uint64_t)i && img.w == 451 && img.h == 300,
		         "frame %d: %ux%u seq %llu", i, img.w, img.h, (unsigned long long)seq);
	}
	fvl_camera_close(c);
	T_ASSERT(!fake.streaming, "STREAMOFF");
	fvl_image_free(&img);
}

static void test_camera_yuyv_and_rgb24(void)
{
	struct fvl_camera *c;
	struct fvl_image img = {0};
	reset_fake(V4L2_PIX_FMT_YUYV);
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_OK && img.w == 64 && img.h == 48,
	         "%s", fvl_last_error());
	/* Y 128 (limited range), no chroma: (298 * 112 + 128) >> 8 = 130 on every channel */
	T_ASSERT(img.rgb[0] == 130 && img.rgb[1] == 130 && img.rgb[2] == 130, "grey -> %u %u %u",
	         img.rgb[0], img.rgb[1], img.rgb[2]);
	fvl_camera_close(c);
	reset_fake(V4L2_PIX_FMT_RGB24);
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_OK && img.rgb[5] == 7, "rgb24");
	fvl_camera_close(c);
	fvl_image_free(&img);
}

static void test_camera_faults(void)
{
	struct fvl_camera *c = (struct fvl_camera *)1;
	struct fvl_image img = {0};
	reset_fake(V4L2_PIX_FMT_MJPEG);
	fake.open_errno = ENOENT;
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_NOT_FOUND && !c &&
	                 strstr(fvl_last_error(), "no such camera"),
	         "%s", fvl_last_error());
	fake.open_errno = EBUSY;
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_IO &&
	                 strstr(fvl_last_error(), "busy"),
	         "%s", fvl_last_error());
	fake.open_errno = 0;
	fake.not_capture = true;
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_UNSUPPORTED &&
	                 strstr(fvl_last_error(), "not a streaming video capture"),
	         "%s", fvl_last_error());
	reset_fake(V4L2_PIX_FMT_GREY);
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_UNSUPPORTED &&
	                 strstr(fvl_last_error(), "none of MJPEG, YUYV, RGB24"),
	         "%s", fvl_last_error());
	/* timeouts and EAGAIN */
	reset_fake(V4L2_PIX_FMT_MJPEG);
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_OK, "%s", fvl_last_error());
	fake.timeout = true;
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_IO &&
	                 strstr(fvl_last_error(), "timed out"),
	         "%s", fvl_last_error());
	fake.timeout = false;
	fake.eagain = 3;
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_OK, "EAGAIN: %s", fvl_last_error());
	/* unplugged mid-stream, then back */
	fake.unplug_after = fake.frames + 1;
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_OK, "last frame");
	T_ASSERT(fvl_camera_grab(c, &img, NULL) == FVL_STATUS_IO &&
	                 strstr(fvl_last_error(), "disappeared"),
	         "%s", fvl_last_error());
	t_note("%s", fvl_last_error());
	fvl_camera_close(c);
	fake.open_errno = ENODEV; /* while it is gone */
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_NOT_FOUND, "gone");
	fake.open_errno = 0;
	fake.unplug_after = 0;
	T_ASSERT(fvl_camera_open(&fake_ops, &params, &c) == FVL_STATUS_OK &&
	                 fvl_camera_grab(c, &img, NULL) == FVL_STATUS_OK,
	         "back: %s", fvl_last_error());
	fvl_camera_close(c);
	fvl_image_free(&img);
	reset_fake(0);
}

/* The capture thread skips frames that do not decode and counts them; the device stays open. */
static void test_capture_skips_corrupt_frames(void)
{
	struct fvl_capture *c = NULL;
	struct fvl_capture_stats st = {0};
	struct fvl_image img = {0};
	uint64_t seen = 0;
	reset_fake(V4L2_PIX_FMT_MJPEG);
	fake.corrupt_every = 2;
	T_ASSERT(fvl_capture_start_with(&fake_ops, &params, false, &c) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	for (int i = 0; i < 2000 && st.frames < 8; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		fvl_capture_stats(c, &st);
	}
	const bool got = fvl_capture_latest(c, &seen, &img);
	enum fvl_status fs;
	char why[128];
	const bool failed = fvl_capture_failed(c, &fs, why, sizeof(why));
	fvl_capture_stop(c);
	t_note("%llu frames kept, %llu corrupt ones skipped, %llu reopens, %d device opens",
	       (unsigned long long)st.frames, (unsigned long long)st.corrupt,
	       (unsigned long long)st.reopens, fake.opens);
	T_ASSERT(got && img.w == 451 && !failed, "frame %d (%ux%u), failed %d", got, img.w, img.h,
	         failed);
	T_ASSERT(st.frames >= 8 && st.corrupt >= 4 && st.reopens == 0 && fake.opens == 1,
	         "%llu frames, %llu corrupt, %llu reopens, %d opens", (unsigned long long)st.frames,
	         (unsigned long long)st.corrupt, (unsigned long long)st.reopens, fake.opens);
	fvl_image_free(&img);
	reset_fake(0);
}

/* A device that cannot be opened: the capture gives up, saying why (no waiting asked for). */
static void test_capture_gives_up_on_a_missing_device(void)
{
	struct fvl_capture *c = NULL;
	enum fvl_status st = FVL_STATUS_OK;
	char why[256] = "";
	reset_fake(V4L2_PIX_FMT_MJPEG);
	fake.open_errno = ENOENT;
	T_ASSERT(fvl_capture_start_with(&fake_ops, &params, false, &c) == FVL_STATUS_OK, "start");
	bool failed = false;
	for (int i = 0; i < 2000 && !failed; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		failed = fvl_capture_failed(c, &st, why, sizeof(why));
	}
	fvl_capture_stop(c);
	reset_fake(0);
	T_ASSERT(failed && st == FVL_STATUS_NOT_FOUND && strstr(why, "no such camera"), "%d %s",
	         failed, why);
}

static void test_frame_change_metric(void)
{
	struct fvl_image a, b;
	T_ASSERT(fvl_image_load(t_datapath("images/coffee.jpg"), &a) == 0 &&
	                 fvl_image_load(t_datapath("images/chelsea.jpg"), &b) == 0,
	         "images");
	double same = fvl_image_change(&a, &a), diff = fvl_image_change(&a, &b);
	t_note("change: same frame %.2f, different frames %.1f (of 255)", same, diff);
	T_ASSERT(same == 0.0 && diff > 10.0, "same %.2f, different %.2f", same, diff);
	fvl_image_free(&a);
	fvl_image_free(&b);
}

void suite_camera(void)
{
	T_RUN(test_camera_mjpeg_cycle);
	T_RUN(test_camera_yuyv_and_rgb24);
	T_RUN(test_camera_faults);
	T_RUN(test_capture_skips_corrupt_frames);
	T_RUN(test_capture_gives_up_on_a_missing_device);
	T_RUN(test_frame_change_metric);
}
