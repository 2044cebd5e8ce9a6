/* convert.h — fvl-quant's conversion (convert.c): the plan arch.c makes for a checkpoint,
 * streamed into the model file. */
#ifndef FVL_CONVERT_H
#define FVL_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "plan.h"

/* The whole conversion: OUT.tmp written, then renamed to OUT; removed on any failure.
 * n_params / n_bytes (may be NULL) receive the parameter count and the file size. */
enum fvl_status convert_run_ex(const struct convert_opts *o, uint64_t *n_params, uint64_t *n_bytes);
enum fvl_status convert_run(const struct convert_opts *o);

#endif /* FVL_CONVERT_H */
