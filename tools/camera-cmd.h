/* camera-cmd.h — `fvl camera`'s entry, called by fvl.c after the shared options are parsed. */
#ifndef FVL_TOOLS_CAMERA_H
#define FVL_TOOLS_CAMERA_H

#include <stdbool.h>
#include <stdint.h>

#include "fvl.h"

struct fvl_camera_opts {
	const char *device, *frames;
	uint32_t width, height;
	double every, min_change;
	bool wait_for_device;
	uint64_t max_frames;
	const struct fvl_task_params *task; /* non-NULL: run this Florence-2 task, not a question */
};

int fvl_camera_main(int argc, char **argv, const char *question, const char *model,
                    const struct fvl_session_params *sp, const struct fvl_gen_params *gp,
                    const struct fvl_camera_opts *o);

#endif
