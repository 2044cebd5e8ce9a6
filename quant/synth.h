/* synth.h — random-weight models with the real shapes and hyperparameters, for benchmarks. */
#ifndef FVL_SYNTH_H
#define FVL_SYNTH_H

#include "convert.h"

/* arch: florence-vl-3b, florence-vl-8b, florence2-base, florence2-large. */
enum fvl_status synth_run(const char *arch, uint64_t seed, const struct convert_opts *o);
/* Also reports the parameter count and the file size (with o->dry_run: without writing). */
enum fvl_status synth_run_ex(const char *arch, uint64_t seed, const struct convert_opts *o,
                             uint64_t *n_params, uint64_t *n_bytes);

#endif /* FVL_SYNTH_H */
