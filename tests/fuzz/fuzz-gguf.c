/* fuzz-gguf.c — libFuzzer target for the GGUF reader: parse arbitrary bytes, then walk everything
 * a successful parse exposes (metadata, arrays, tensors, the printer). */
#include <stdio.h>
#include <string.h>

#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct fvl_gguf *g;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (fvl_gguf_parse(data, size, &g) != FVL_STATUS_OK)
		return 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct fvl_gguf_kv *kv = &g->kv[i];
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)(kv->key.n < 100 ? kv->key.n : 100),
		         kv->key.p);
		uint64_t u;
		float f;
		struct fvl_str s;
		const struct fvl_gguf_kv *arr;
		fvl_gguf_get_u64(g, key, &u);
		fvl_gguf_get_f32(g, key, &f);
		fvl_gguf_get_str(g, key, &s);
		if (fvl_gguf_get_arr(g, key, -1, &arr) == FVL_STATUS_OK) {
			for (uint64_t j = 0; j < arr->n; j++) {
				if (arr->arr_type == FVL_GGUF_TYPE_STRING)
					(void)fvl_gguf_arr_str(arr, j);
				else
					(void)fvl_gguf_arr_float(arr, j);
			}
		}
	}
	uint64_t sum = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct fvl_gguf_tensor *t = &g->tensors[i];
		char name[FVL_GGUF_MAX_NAME + 1];
		memcpy(name, t->name.p, t->name.n);
		name[t->name.n] = '\0';
		if (fvl_gguf_find_tensor(g, name) != t)
			__builtin_trap();
		const uint8_t *p = t->data;
		sum += p[0] + p[t->n_bytes - 1]; /* first and last byte are inside the buffer */
	}
	if (devnull)
		fvl_gguf_print(g, devnull, true);
	fvl_gguf_free(g);
	return (int)(sum & 0);
}
