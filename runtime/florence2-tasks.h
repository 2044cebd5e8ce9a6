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

#endif /* FVL_FLORENCE2_TASKS_H */
