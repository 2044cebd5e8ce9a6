/* tower.h — finding a Florence-VL checkpoint's Florence-2 tower folder (tower.c). */
#ifndef FVL_TOWER_H
#define FVL_TOWER_H

#include <stddef.h>

#include "cfg.h"
#include "fvl.h"

/* The folder with the Florence-2 config.json, preprocessor_config.json and tokenizer into out (n
 * bytes): flag (--vision-tower, may be NULL), else ckpt_dir/vision_tower, else the checkpoint
 * config c's mm_vision_tower as a local folder, else its Hugging Face cache snapshot. *how says
 * which. NOT_FOUND names the repo to download and the flag. */
enum fvl_status tower_find(const char *ckpt_dir, const char *flag, const struct cfg *c, char *out,
                           size_t n, const char **how);

#endif /* FVL_TOWER_H */
