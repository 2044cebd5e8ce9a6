/* model.c — the immutable model object: owns the read-only mapping of one GGUF model file. */
#include <string.h>

#include "common.h"
#include "gguf.h"
#include "model.h"

enum fvl_status fvl_model_load(const char *path, struct fvl_model **out)
{
	struct fvl_model *m;
	struct fvl_str arch;
	enum fvl_status st;

	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_model_load: NULL argument");
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	st = fvl_gguf_open(path, &m->gguf);
	if (st != FVL_STATUS_OK)
		goto error;
	if (fvl_gguf_get_str(m->gguf, "general.architecture", &arch) == FVL_STATUS_OK) {
		size_t n = arch.n < sizeof(m->arch) - 1 ? (size_t)arch.n : sizeof(m->arch) - 1;
		memcpy(m->arch, arch.p, n);
		m->arch[n] = '\0';
	}
	fvl_error_clear();
	*out = m;
	return FVL_STATUS_OK;
error:
	fvl_model_free(m);
	return st;
}

void fvl_model_free(struct fvl_model *m)
{
	if (!m)
		return;
	fvl_gguf_free(m->gguf);
	free(m);
}

const char *fvl_model_arch(const struct fvl_model *m)
{
	return m->arch;
}

uint64_t fvl_model_n_tensors(const struct fvl_model *m)
{
	return m->gguf->n_tensors;
}

uint64_t fvl_model_n_bytes(const struct fvl_model *m)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
		n += m->gguf->tensors[i].n_bytes;
	return n;
}
