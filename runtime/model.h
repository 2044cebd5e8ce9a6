/* model.h — the model object's insides, for libfvl's modules. */
#ifndef FVL_MODEL_H
#define FVL_MODEL_H

#include "gguf.h"

struct fvl_model {
	struct fvl_gguf *gguf; /* owns the mapping */
	char arch[64];         /* general.architecture */
};

#endif /* FVL_MODEL_H */
