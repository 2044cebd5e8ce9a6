/* florence2-tasks.h — Florence-2's task layer (florence2-tasks.c): task names to prompts (the
 * processor's _construct_prompts), fvl_task_run's stage dumps, and generated text to results (its
 * post-processor: <loc_k> bins to pixel coordinates of the original image, boxes, quad boxes,
 * labels, clean text). */
#ifndef FVL_FLORENCE2_TASKS_H
#define FVL_FLORENCE2_TASKS_H

#include <stdbool.h>
#include <stddef.h>

#include "fvl.h"

enum fvl_task_kind {
	FVL_TASK_KIND_TEXT,      /* pure text */
	FVL_TASK_KIND_BOXES,     /* description with boxes (od, dense_region_caption) */
	FVL_TASK_KIND_PROPOSALS, /* boxes without labels (region_proposal) */
	FVL_TASK_KIND_GROUNDING, /* phrase grounding (boxes, pronouns and the like filtered out) */
	FVL_TASK_KIND_QUADS,     /* OCR with regions */
};

struct fvl_task_info {
	const char *name;   /* "od" */
	const char *token;  /* "<OD>" */
	enum fvl_task_kind kind;
	bool takes_text;    /* the prompt has {input} */
};

/* The task by name ("od") or token ("<OD>"), case-insensitive; NULL if unknown. */
const struct fvl_task_info *fvl_task_find(const char *name);
/* All tasks, for --help. */
const struct fvl_task_info *fvl_task_list(size_t *n);

/* The prompt for task (prompts of the model file's f2.tasks, index-aligned with names), with
 * {input} replaced by text; malloc'd. */
enum fvl_status fvl_task_prompt(const struct fvl_task_info *task, const char *tmpl,
                                const char *text, char **out);

/* Where an image of w x h pixels went before the model: the coordinates of bins refer to a
 * square of side `side` whose top-left is at (-off_x, -off_y) in the original image (padding);
 * side 0 means the image was resized without padding. */
struct fvl_task_geom {
	uint32_t w, h, side, off_x, off_y;
};

/* Parses generated text (decoded with special tokens) into r's text and items. */
enum fvl_status fvl_task_parse(const struct fvl_task_info *task, const char *text,
                               const struct fvl_task_geom *geom, struct fvl_task_result *r);

/* Stage outputs of one task run for porting work (fvl task --dump), malloc'd by the run; free
 * with fvl_task_dump_free. */
struct fvl_task_dump {
	float *pixel_values;         /* (3, size, size) */
	float *davit_out;            /* (grid * grid, c_last) */
	float *image_features;       /* (n_visual, d) */
	float *encoder_out;          /* (n_enc, d): the visual tokens, then the prompt's */
	float *decoder_logits_first; /* (vocab): the first step, before any logits processor */
	size_t size, grid, c_last, n_visual, n_enc, d, vocab;
};
/* fvl_task_run that also fills dump. */
enum fvl_status fvl_task_run_dump(const struct fvl_model *model, const uint8_t *rgb, uint32_t w,
                                  uint32_t h, const struct fvl_task_params *p,
                                  struct fvl_task_result *out, struct fvl_task_dump *dump);
void fvl_task_dump_free(struct fvl_task_dump *d);

#endif /* FVL_FLORENCE2_TASKS_H */
