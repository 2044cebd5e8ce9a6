/* camera.c — `fvl camera`: answers a question about camera frames (or a directory of JPEGs)
 * continuously, one JSON line per answered frame. A capture thread keeps only the newest frame
 * while inference runs; frames that barely changed are skipped; a camera that disappears is
 * retried with back-off; SIGINT/SIGTERM stop cleanly after the current answer. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void
print_json_line(uint64_t frame, const char *text, size_t n, const char *finish, double ms)
{
	printf("{\"ts\": %.3f, \"frame\": %llu, \"text\": ", now_s(), (unsigned long long)frame);
	json_string(stdout, text, n);
	printf(", \"finish\": \"%s\", \"ms\": %.0f}\n", finish, ms);
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
	/* a Florence-2 file's session keeps the pool and buffers across frames; a Florence-VL
	 * file's would also run its own vision side, so its tasks go through fvl_task_run */
	const enum fvl_status st =
	        k->s ? (fvl_session_set_image_rgb(k->s, img->rgb, img->w, img->h) == FVL_STATUS_OK
	                        ? fvl_session_run_task(k->s, k->task, &r)
	                        : FVL_STATUS_BAD_FILE)
	             : fvl_task_run(k->m, img->rgb, img->w, img->h, k->task, &r);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl camera: frame %llu: %s\n", (unsigned long long)frame,
		        fvl_last_error());
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
		fprintf(stderr, "fvl camera: frame %llu: %s\n", (unsigned long long)frame,
		        fvl_last_error());
		free(a.text);
		return 1;
	}
	struct fvl_stats stats;
	fvl_session_stats(k->s, &stats);
	print_json_line(frame, a.text ? a.text : "", a.n,
	                st == FVL_STATUS_CANCELLED ? "cancelled" : fvl_finish_str(stats.finish),
	                (now_s() - t0) * 1e3);
	free(a.text);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --frames DIR: every .jpg / .jpeg / .png / .ppm / .pgm in name order, as fast as they are answered. */
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
		if (!dot ||
		    (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") &&
		     strcasecmp(dot, ".png") && strcasecmp(dot, ".ppm") && strcasecmp(dot, ".pgm")))
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
	size_t loaded = 0;
	if (!n)
		fprintf(stderr, "fvl camera: error: --frames %s holds no JPEG, PNG or PNM files\n",
		        dir);
	for (size_t i = 0; i < n && !stop && (max_frames == 0 || i < max_frames); i++) {
		struct fvl_image img;
		if (fvl_image_load(names[i], &img) != FVL_STATUS_OK) {
			fprintf(stderr, "fvl camera: skipping %s: %s\n", names[i],
			        fvl_last_error());
			continue;
		}
		loaded++;
		if (last.rgb && fvl_image_change(&img, &last) < min_change) {
			fvl_image_free(&img);
			continue;
		}
		rc |= answer(k, &img, i);
		fvl_image_free(&last);
		last = img;
	}
	fvl_image_free(&last);
	if (n && !loaded && !stop) {
		fprintf(stderr,
		        "fvl camera: error: --frames %s: none of its %zu files could be read\n",
		        dir, n);
		rc = 1;
	}
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
	    ((!o->task || !strcmp(fvl_model_arch(m), "florence2")) &&
	     fvl_session_init(m, sp, &s) != FVL_STATUS_OK)) {
		fprintf(stderr, "fvl camera: error: %s\n", fvl_last_error());
		goto done;
	}
	const struct asker k = {.m = m, .s = s, .question = question, .gp = gp, .task = o->task};
	if (o->frames) {
		rc = replay(&k, o->frames, o->min_change, o->max_frames);
		goto done;
	}
	struct fvl_capture *cap = NULL;
	struct fvl_camera_params cp;
	fvl_camera_params_default(&cp);
	cp.device = o->device;
	cp.width = o->width;
	cp.height = o->height;
	if (fvl_capture_start(&cp, o->wait_for_device, &cap) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl camera: error: %s\n", fvl_last_error());
		goto done;
	}
	struct fvl_image frame = {0}, last = {0};
	uint64_t answered = 0, seen = 0;
	enum fvl_status why_st = FVL_STATUS_OK;
	char why[512];
	rc = 0;
	while (!stop && (o->max_frames == 0 || answered < o->max_frames)) {
		double t0 = now_s();
		if (fvl_capture_failed(cap, &why_st, why, sizeof(why)))
			break;
		const bool fresh = fvl_capture_latest(cap, &seen, &frame);
		if (fresh && (!last.rgb || fvl_image_change(&frame, &last) >= o->min_change)) {
			rc |= answer(&k, &frame, seen - 1);
			answered++;
			struct fvl_image t = last;
			last = frame;
			frame = t;
		}
		const double left = o->every - (now_s() - t0);
		sleep_s(left > 0.02 ? left : 0.02);
	}
	struct fvl_capture_stats cs;
	fvl_capture_stats(cap, &cs);
	const bool failed = fvl_capture_failed(cap, &why_st, why, sizeof(why));
	fvl_capture_stop(cap);
	if (failed) {
		/* waiting helps a camera that is missing or busy, not one that cannot work */
		fprintf(stderr, "fvl camera: error: %s%s\n", why,
		        why_st == FVL_STATUS_NOT_FOUND || why_st == FVL_STATUS_IO
		                ? " (--wait-for-device waits for it)"
		                : "");
		rc = 1;
	}
	if (cs.corrupt)
		fprintf(stderr, "fvl camera: %llu corrupt frames skipped, %llu captured\n",
		        (unsigned long long)cs.corrupt, (unsigned long long)cs.frames);
	fvl_image_free(&frame);
	fvl_image_free(&last);
done:
	fflush(stdout);
	fvl_session_free(s);
	fvl_model_free(m);
	return rc;
}
