/* capture.h — a capture thread keeping a camera's newest frame (capture.c): what fvl camera
 * answers from. Corrupt frames are skipped and counted; a failing device is reopened. */
#ifndef FVL_CAPTURE_H
#define FVL_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "camera.h"

struct fvl_capture;

struct fvl_capture_stats {
	uint64_t frames;   /* frames captured and kept */
	uint64_t corrupt;  /* frames skipped: they did not decode */
	uint64_t reopens;  /* times the device came back after failing */
};

/* Starts capturing from p->device through ops (NULL: libv4l2). Without wait_for_device a device
 * that cannot be opened at the start makes the capture give up (fvl_capture_failed); with it, and
 * for a device that fails later, it is retried with back-off. */
enum fvl_status fvl_capture_start(const struct fvl_v4l2_ops *ops, const struct fvl_camera_params *p,
                                  bool wait_for_device, struct fvl_capture **out);
/* Copies the newest frame into out (reused) if one newer than *seen exists, and updates *seen. */
bool fvl_capture_latest(struct fvl_capture *c, uint64_t *seen, struct fvl_image *out);
/* true once the capture gave up, with the status and message of why. */
bool fvl_capture_failed(struct fvl_capture *c, enum fvl_status *st, char *msg, size_t n);
void fvl_capture_stats(struct fvl_capture *c, struct fvl_capture_stats *out);
/* Stops the thread (within the back-off or frame timeout) and frees everything. */
void fvl_capture_stop(struct fvl_capture *c);

#endif /* FVL_CAPTURE_H */
