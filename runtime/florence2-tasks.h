/* florence2-tasks.h — Florence-2's task layer (florence2-tasks.c): task names to prompts (the
 * processor's _construct_prompts), fvl_task_run's stage dumps, and generated text to results (its
 * post-processor: <loc_k> bins to pixel coordinates of the original image, boxes, quad boxes,
 * labels, clean text). */
#ifndef FVL_FLORENCE2_TASKS_H
#define FVL_FLORENCE2_TASKS_H

#include <stdbool.h>
#include <stddef.h>

#include "fvl.h"

/* struct fvl_task_info, fvl_task_find and fvl_task_list are fvl.h's. */

/* The prompt for task (prompts of the model file's f2.tasks, index-aligned with names), with
 * {input} replaced by text; malloc'd. */
enum fvl_status
fvl_task_prompt(const struct fvl_task_info *task, const char *tmpl, const char *text, char **out);

/* Where an image of w x h pixels went before the model: the coordinates of bins refer to a
 * square of side `side` whose top-left is at (-off_x, -off_y) in the original image (padding);
 * side 0 means the image was resized without padding. */
struct fvl_task_geom {
	uint32_t w, h, side, off_x, off_y;
};

/* Parses generated text (decoded with special tokens) into r's text and items. */
enum fvl_status fvl_task_parse(const struct fvl_task_info *task, const char *text,
                               const struct fvl_task_geom *geom, struct fvl_task_result *r);

/* struct fvl_task_dump and fvl_task_run_dump are fvl.h's. */

struct fvl_compute;
/* What the tasks' vision side gives for img (task preprocessing, DaViT, _encode_image): visual
 * holds fvl_task_n_features floats. Loads the task layer on first use. */
enum fvl_status fvl_task_image_features(const struct fvl_model *m, struct fvl_compute *compute,
                                        const struct fvl_image *img, float *visual);
size_t fvl_task_n_features(const struct fvl_model *m);
/* A task in a caller's compute context: visual from fvl_task_image_features for this img, or NULL
 * to compute it. p's n_threads and isa are the context's, not p's. */
enum fvl_status fvl_task_run_on(const struct fvl_model *m, struct fvl_compute *compute,
                                const struct fvl_image *img, const float *visual,
                                const struct fvl_task_params *p, struct fvl_task_result *out);

#endif /* FVL_FLORENCE2_TASKS_H */
