/* capture.h — a capture thread keeping a camera's newest frame (capture.c): what fvl camera
 * answers from. Corrupt frames are skipped and counted; a failing device is reopened. */
#ifndef FVL_CAPTURE_H
#define FVL_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "camera.h"

/* The capture API is fvl.h's; this is fvl_capture_start through a table of device calls (NULL:
 * libv4l2's), for tests with a fake camera. */
enum fvl_status fvl_capture_start_with(const struct fvl_v4l2_ops *ops,
                                       const struct fvl_camera_params *p, bool wait_for_device,
                                       struct fvl_capture **out);

#endif /* FVL_CAPTURE_H */
