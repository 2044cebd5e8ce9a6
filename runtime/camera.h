/* camera.h — V4L2 capture (mmap streaming) through an injectable table of device calls: libv4l2's
 * by default, a fake device in tests (no machine here has a camera). Frames come out as RGB8. */
#ifndef FVL_CAMERA_H
#define FVL_CAMERA_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fvl.h"
#include "image.h"

struct fvl_v4l2_ops {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long request, void *arg);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, int64_t offset);
	int (*munmap)(void *addr, size_t len);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
};

/* libv4l2 (v4l2_open, v4l2_ioctl, v4l2_mmap, ...) and poll(2). */
const struct fvl_v4l2_ops *fvl_v4l2_ops_libv4l2(void);

/* struct fvl_camera_params is fvl.h's. */

struct fvl_camera;

/* QUERYCAP, S_FMT (MJPEG, YUYV or RGB24), REQBUFS, QUERYBUF + mmap, QBUF, STREAMON. Errors name
 * the device and the step: NOT_FOUND (no such device), IO (busy, refused), UNSUPPORTED (no
 * capture/streaming, no usable format). */
enum fvl_status fvl_camera_open(const struct fvl_v4l2_ops *ops, const struct fvl_camera_params *p,
                                struct fvl_camera **out);
/* Waits for the next frame (DQBUF), converts it to RGB8 into out (reused across calls), requeues
 * the buffer. BAD_FILE: this frame is bad (it does not decode, a short buffer), the device is
 * fine; IO with "disappeared" when the device is gone (ENODEV); a timeout is IO with "timed out". */
enum fvl_status fvl_camera_grab(struct fvl_camera *c, struct fvl_image *out, uint64_t *sequence);
void fvl_camera_close(struct fvl_camera *c);
/* The negotiated format, e.g. "MJPG 640x480". */
const char *fvl_camera_format(const struct fvl_camera *c);

#endif /* FVL_CAMERA_H */
