/* arch.h — what each architecture puts in the model file (arch.c): metadata from the configs,
 * the tokenizers, and the tensor plan over Microsoft's, Florence-VL's and transformers' native
 * names. */
#ifndef FVL_ARCH_H
#define FVL_ARCH_H

#include "plan.h"

/* Fills metadata and the plan for the checkpoint in opts->ckpt_dir (arch.c). */
enum fvl_status
arch_plan(const struct convert_opts *o, struct ckpt *ck, struct plan *p, struct fvl_gguf_writer *w);

#endif /* FVL_ARCH_H */
