/* capture.c — a thread that keeps a camera's newest frame while the caller computes: frames that
 * fail to decode (a corrupt MJPEG, a short buffer) are skipped and counted, timeouts waited out,
 * and only a device that fails is closed and reopened, with back-off up to 5 s. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "common.h"

struct fvl_capture {
	const struct fvl_v4l2_ops *ops;
	struct fvl_camera_params p;
	char device[512];
	bool wait_for_device;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* stop requests, for the back-off sleeps */
	/* under mu */
	bool stop, failed;
	struct fvl_image latest;
	uint64_t serial; /* frames kept so far */
	struct fvl_capture_stats stats;
	enum fvl_status fail_status;
	char fail_msg[512];
};

/* Sleeps up to s seconds, or until stop; false when stopping. */
static bool nap(struct fvl_capture *c, double s)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)s;
	until.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->wake, &c->mu, &until) == 0)
		;
	const bool go_on = !c->stop;
	pthread_mutex_unlock(&c->mu);
	return go_on;
}

static bool stopping(struct fvl_capture *c)
{
	pthread_mutex_lock(&c->mu);
	const bool s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void keep(struct fvl_capture *c, const struct fvl_image *img)
{
	pthread_mutex_lock(&c->mu);
	if (c->latest.w != img->w || c->latest.h != img->h || !c->latest.rgb) {
		fvl_image_free(&c->latest);
		c->latest.rgb = malloc((size_t)img->w * img->h * 3);
		c->latest.w = c->latest.rgb ? img->w : 0;
		c->latest.h = c->latest.rgb ? img->h : 0;
	}
	if (c->latest.rgb) {
		memcpy(c->latest.rgb, img->rgb, (size_t)img->w * img->h * 3);
		c->serial++;
	}
	c->stats.frames++;
	pthread_mutex_unlock(&c->mu);
}

static void *loop(void *arg)
{
	struct fvl_capture *c = arg;
	struct fvl_camera *cam = NULL;
	struct fvl_image img = {0};
	double backoff = 0.5;
	bool ever_opened = false;
	while (!stopping(c)) {
		if (!cam) {
			const enum fvl_status st = fvl_camera_open(c->ops, &c->p, &cam);
			if (st != FVL_STATUS_OK) {
				/* a device that never came up, or one that cannot work at all, is an error
				 * (unless told to wait for it) */
				if ((!ever_opened && !c->wait_for_device) ||
				    st == FVL_STATUS_UNSUPPORTED) {
					pthread_mutex_lock(&c->mu);
					c->failed = true;
					c->fail_status = st;
					snprintf(c->fail_msg, sizeof(c->fail_msg), "%s",
					         fvl_last_error());
					pthread_mutex_unlock(&c->mu);
					break;
				}
				FVL_LOG_W("%s; retrying in %.1f s", fvl_last_error(), backoff);
				if (!nap(c, backoff))
					break;
				backoff = backoff * 2 > 5 ? 5 : backoff * 2;
				continue;
			}
			if (ever_opened) {
				FVL_LOG_W("%s is back (%s)", c->p.device, fvl_camera_format(cam));
				pthread_mutex_lock(&c->mu);
				c->stats.reopens++;
				pthread_mutex_unlock(&c->mu);
			}
			ever_opened = true;
			backoff = 0.5;
		}
		const enum fvl_status st = fvl_camera_grab(cam, &img, NULL);
		if (st == FVL_STATUS_OK) {
			keep(c, &img);
			continue;
		}
		if (st == FVL_STATUS_BAD_FILE) { /* this frame is bad, the device is fine */
			pthread_mutex_lock(&c->mu);
			const uint64_t n = ++c->stats.corrupt;
			pthread_mutex_unlock(&c->mu);
			if ((n & (n - 1)) ==
			    0) /* 1, 2, 4, 8, ...: a flood of them stays readable */
				FVL_LOG_W("skipped a corrupt frame (%llu so far): %s",
				          (unsigned long long)n, fvl_last_error());
			continue;
		}
		FVL_LOG_W("%s", fvl_last_error());
		if (st == FVL_STATUS_IO && strstr(fvl_last_error(), "timed out"))
			continue;
		fvl_camera_close(cam); /* gone or broken: reopen with back-off */
		cam = NULL;
	}
	fvl_camera_close(cam);
	fvl_image_free(&img);
	return NULL;
}

enum fvl_status
fvl_capture_start(const struct fvl_camera_params *p, bool wait_for_device, struct fvl_capture **out)
{
	return fvl_capture_start_with(NULL, p, wait_for_device, out);
}

void fvl_camera_params_default(struct fvl_camera_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->device = "/dev/video0";
	p->width = 640;
	p->height = 480;
	p->n_buffers = 4;
	p->timeout_ms = 2000;
}

enum fvl_status fvl_capture_start_with(const struct fvl_v4l2_ops *ops,
                                       const struct fvl_camera_params *p, bool wait_for_device,
                                       struct fvl_capture **out)
{
	*out = NULL;
	if (!p || !p->device)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "no camera device given");
	if (FVL_PARAMS_CHECK(p))
		return FVL_STATUS_INVALID_ARGUMENT;
	struct fvl_capture *c = calloc(1, sizeof(*c));
	if (!c)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	c->ops = ops;
	c->p = *p;
	snprintf(c->device, sizeof(c->device), "%s", p->device);
	c->p.device = c->device;
	c->wait_for_device = wait_for_device;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pthread_create(&c->thread, NULL, loop, c) != 0) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->wake);
		free(c);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "cannot start the capture thread");
	}
	*out = c;
	return FVL_STATUS_OK;
}

bool fvl_capture_latest(struct fvl_capture *c, uint64_t *seen, struct fvl_image *out)
{
	bool fresh = false;
	pthread_mutex_lock(&c->mu);
	if (c->serial > *seen && c->latest.rgb) {
		if (out->w != c->latest.w || out->h != c->latest.h || !out->rgb) {
			fvl_image_free(out);
			out->rgb = malloc((size_t)c->latest.w * c->latest.h * 3);
			out->w = out->rgb ? c->latest.w : 0;
			out->h = out->rgb ? c->latest.h : 0;
		}
		if (out->rgb) {
			memcpy(out->rgb, c->latest.rgb, (size_t)out->w * out->h * 3);
			*seen = c->serial;
			fresh = true;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return fresh;
}

bool fvl_capture_failed(struct fvl_capture *c, enum fvl_status *st, char *msg, size_t n)
{
	pthread_mutex_lock(&c->mu);
	const bool failed = c->failed;
	if (failed) {
		*st = c->fail_status;
		snprintf(msg, n, "%s", c->fail_msg);
	}
	pthread_mutex_unlock(&c->mu);
	return failed;
}

void fvl_capture_stats(struct fvl_capture *c, struct fvl_capture_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}

void fvl_capture_stop(struct fvl_capture *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	fvl_image_free(&c->latest);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->wake);
	free(c);
}
