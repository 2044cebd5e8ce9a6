/* camera.c — `fvl camera`: answers a question about camera frames (or a directory of JPEGs)
 * continuously, one JSON line per answered frame. A capture thread keeps only the newest frame
 * while inference runs; frames that barely changed are skipped; a camera that disappears is
 * retried with back-off; SIGINT/SIGTERM stop cleanly after the current answer. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "camera.h"
#include "camera-cmd.h"
#include "cli.h"
#include "fvl.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- capture thread: the newest frame only ------------------------------------------------------ */

struct grabber {
	struct fvl_camera_params p;
	bool wait_for_device;
	pthread_mutex_t mu;
	struct fvl_image latest; /* under mu */
	uint64_t n_frames;       /* frames captured so far, under mu */
	bool failed;             /* gave up (device missing at start without --wait-for-device) */
	char error[512];
};

static void *grab_loop(void *arg)
{
	struct grabber *g = arg;
	struct fvl_camera *cam = NULL;
	struct fvl_image img = {0};
	double backoff = 0.5;
	bool ever_opened = false;
	while (!stop) {
		if (!cam) {
			enum fvl_status st = fvl_camera_open(NULL, &g->p, &cam);
			if (st != FVL_STATUS_OK) {
				if (!ever_opened && !g->wait_for_device) {
					pthread_mutex_lock(&g->mu);
					g->failed = true;
					snprintf(g->error, sizeof(g->error), "%s", fvl_last_error());
					pthread_mutex_unlock(&g->mu);
					stop = 1;
					break;
				}
				fprintf(stderr, "fvl camera: %s; retrying in %.1f s\n", fvl_last_error(), backoff);
				sleep_s(backoff);
				backoff = backoff * 2 > 5 ? 5 : backoff * 2;
				continue;
			}
			if (ever_opened)
				fprintf(stderr, "fvl camera: %s is back (%s)\n", g->p.device, fvl_camera_format(cam));
			ever_opened = true;
			backoff = 0.5;
		}
		enum fvl_status st = fvl_camera_grab(cam, &img, NULL);
		if (st == FVL_STATUS_OK) {
			pthread_mutex_lock(&g->mu);
			if (g->latest.w != img.w || g->latest.h != img.h || !g->latest.rgb) {
				fvl_image_free(&g->latest);
				g->latest.rgb = malloc((size_t)img.w * img.h * 3);
				g->latest.w = img.rgb && g->latest.rgb ? img.w : 0;
				g->latest.h = img.rgb && g->latest.rgb ? img.h : 0;
			}
			if (g->latest.rgb)
				memcpy(g->latest.rgb, img.rgb, (size_t)img.w * img.h * 3);
			g->n_frames++;
			pthread_mutex_unlock(&g->mu);
			continue;
		}
		fprintf(stderr, "fvl camera: %s\n", fvl_last_error());
		if (strstr(fvl_last_error(), "timed out"))
			continue;
		fvl_camera_close(cam); /* gone or broken: reopen with back-off */
		cam = NULL;
	}
	fvl_camera_close(cam);
	fvl_image_free(&img);
	return NULL;
}

/* ---- answering -------------------------------------------------------------------------------- */

struct answer {
	char *text;
	size_t n, cap;
};

static bool collect(void *user, int32_t id, const char *text, size_t len)
{
	struct answer *a = user;
	(void)id;
	if (a->n + len + 1 > a->cap) {
		size_t cap = 2 * (a->n + len + 1);
		char *p = realloc(a->text, cap);
		if (!p)
			return false;
		a->text = p;
		a->cap = cap;
	}
	memcpy(a->text + a->n, text, len);
	a->n += len;
	a->text[a->n] = 0;
	return !stop;
}

static void print_json_line(uint64_t frame, const char *text, size_t n, double ms)
{
	printf("{\"ts\": %.3f, \"frame\": %llu, \"text\": ", now_s(), (unsigned long long)frame);
	json_string(stdout, text, n);
	printf(", \"ms\": %.0f}\n", ms);
	fflush(stdout);
}

/* What each frame is asked: a question to a session, or a Florence-2 task. */
struct asker {
	const struct fvl_model *m;
	struct fvl_session *s;
	const char *question;
	const struct fvl_gen_params *gp;
	const struct fvl_task_params *task;
};

static int answer_task(const struct asker *k, const struct fvl_image *img, uint64_t frame)
{
	struct fvl_task_result r;
	const double t0 = now_s();
	if (fvl_task_run(k->m, img->rgb, img->w, img->h, k->task, &r) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl camera: frame %llu: %s\n", (unsigned long long)frame, fvl_last_error());
		return 1;
	}
	printf("{\"ts\": %.3f, \"frame\": %llu, ", now_s(), (unsigned long long)frame);
	json_task_members(stdout, &r);
	printf(", \"ms\": %.0f}\n", (now_s() - t0) * 1e3);
	fflush(stdout);
	fvl_task_result_free(&r);
	return 0;
}

static int answer(const struct asker *k, const struct fvl_image *img, uint64_t frame)
{
	if (k->task)
		return answer_task(k, img, frame);
	struct answer a = {0};
	double t0 = now_s();
	enum fvl_status st = fvl_session_set_image_rgb(k->s, img->rgb, img->w, img->h);
	if (st == FVL_STATUS_OK)
		st = fvl_session_ask(k->s, k->question, k->gp, collect, &a);
	if (st != FVL_STATUS_OK && st != FVL_STATUS_CANCELLED) {
		fprintf(stderr, "fvl camera: frame %llu: %s\n", (unsigned long long)frame, fvl_last_error());
		free(a.text);
		return 1;
	}
	print_json_line(frame, a.text ? a.text : "", a.n, (now_s() - t0) * 1e3);
	free(a.text);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --frames DIR: every .jpg / .jpeg / .ppm / .pgm in name order, as fast as they are answered. */
static int replay(const struct asker *k, const char *dir, double min_change, uint64_t max_frames)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "fvl camera: error: --frames %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		if (!dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") && strcasecmp(dot, ".ppm") &&
		             strcasecmp(dot, ".pgm")))
			continue;
		char **p = realloc(names, (n + 1) * sizeof(*p));
		if (!p)
			break;
		names = p;
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		if (!(names[n] = malloc(len)))
			break;
		snprintf(names[n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	struct fvl_image last = {0};
	int rc = n ? 0 : 1;
	if (!n)
		fprintf(stderr, "fvl camera: error: --frames %s holds no JPEG or PNM files\n", dir);
	for (size_t i = 0; i < n && !stop && (max_frames == 0 || i < max_frames); i++) {
		struct fvl_image img;
		if (fvl_image_load(names[i], 0, &img) != FVL_STATUS_OK) {
			fprintf(stderr, "fvl camera: skipping %s: %s\n", names[i], fvl_last_error());
			continue;
		}
		if (last.rgb && fvl_image_change(&img, &last) < min_change) {
			fvl_image_free(&img);
			continue;
		}
		rc |= answer(k, &img, i);
		fvl_image_free(&last);
		last = img;
	}
	fvl_image_free(&last);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int fvl_camera_main(int argc, char **argv, const char *question, const char *model,
                    const struct fvl_session_params *sp, const struct fvl_gen_params *gp,
                    const struct fvl_camera_opts *o)
{
	(void)argc, (void)argv;
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	int rc = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (fvl_model_load(model, &m) != FVL_STATUS_OK ||
	    (!o->task && fvl_session_init(m, sp, &s) != FVL_STATUS_OK)) {
		fprintf(stderr, "fvl camera: error: %s\n", fvl_last_error());
		goto done;
	}
	const struct asker k = {m, s, question, gp, o->task};
	if (o->frames) {
		rc = replay(&k, o->frames, o->min_change, o->max_frames);
		goto done;
	}
	struct grabber g;
	memset(&g, 0, sizeof(g));
	g.p = (struct fvl_camera_params){o->device, o->width, o->height, 4, 2000};
	g.wait_for_device = o->wait_for_device;
	pthread_mutex_init(&g.mu, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, grab_loop, &g) != 0) {
		fprintf(stderr, "fvl camera: error: cannot start the capture thread\n");
		goto done;
	}
	struct fvl_image frame = {0}, last = {0};
	uint64_t answered = 0, seen = 0;
	rc = 0;
	while (!stop && (o->max_frames == 0 || answered < o->max_frames)) {
		double t0 = now_s();
		pthread_mutex_lock(&g.mu);
		const bool fresh = g.n_frames > seen && g.latest.rgb;
		if (fresh) {
			seen = g.n_frames;
			fvl_image_free(&frame);
			frame.w = g.latest.w, frame.h = g.latest.h;
			frame.rgb = malloc((size_t)frame.w * frame.h * 3);
			if (frame.rgb)
				memcpy(frame.rgb, g.latest.rgb, (size_t)frame.w * frame.h * 3);
		}
		pthread_mutex_unlock(&g.mu);
		if (fresh && frame.rgb && (!last.rgb || fvl_image_change(&frame, &last) >= o->min_change)) {
			rc |= answer(&k, &frame, seen - 1);
			answered++;
			fvl_image_free(&last);
			last = frame;
			frame = (struct fvl_image){0};
		}
		const double left = o->every - (now_s() - t0);
		sleep_s(left > 0.02 ? left : 0.02);
	}
	stop = 1;
	pthread_join(th, NULL);
	if (g.failed) {
		fprintf(stderr, "fvl camera: error: %s (--wait-for-device waits for it)\n", g.error);
		rc = 1;
	}
	fvl_image_free(&frame);
	fvl_image_free(&last);
	fvl_image_free(&g.latest);
	pthread_mutex_destroy(&g.mu);
done:
	fflush(stdout);
	fvl_session_free(s);
	fvl_model_free(m);
	return rc;
}
