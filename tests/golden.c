/* golden.c — access to the fixture goldens for the stage tests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "ckpt.h"
#include "convert.h"
#include "golden.h"
#include "test.h"

float *golden_tensor(const char *name, size_t n)
{
	return golden_tensor_in("fvl-tiny-phi3", name, n);
}

float *golden_tensor_in(const char *fixture, const char *name, size_t n)
{
	static struct ckpt ck[4];
	static char loaded[4][64];
	int k = 0;
	while (k < 4 && loaded[k][0] && strcmp(loaded[k], fixture) != 0)
		k++;
	if (k == 4)
		return NULL;
	if (!loaded[k][0]) {
		char path[256];
		snprintf(path, sizeof(path), "%s/golden.safetensors", fixture);
		ckpt_init(&ck[k]);
		if (ckpt_add_safetensors(&ck[k], t_datapath(path)) != 0 || ckpt_index(&ck[k]) != 0)
			return NULL;
		snprintf(loaded[k], sizeof(loaded[k]), "%s", fixture);
	}
	const struct ckpt_tensor *t = ckpt_find(&ck[k], name);
	if (!t || ckpt_numel(t) != n)
		return NULL;
	float *x = malloc(n * sizeof(float));
	if (x && ckpt_read_rows(t, 0, n / t->shape[t->n_dims - 1], x) != FVL_STATUS_OK) {
		free(x);
		return NULL;
	}
	return x;
}

int golden_ids(const char *key, int *ids, int cap)
{
	return golden_ids_in("fvl-tiny-phi3", key, ids, cap);
}

int golden_ids_in(const char *fixture, const char *key, int *ids, int cap)
{
	struct cfg c;
	char path[256];
	snprintf(path, sizeof(path), "%s/golden.json", fixture);
	if (cfg_load(&c, t_datapath(path)) != FVL_STATUS_OK)
		return -1;
	const cJSON *a = cfg_get(c.root, key), *e;
	int n = 0;
	if (!cJSON_IsArray(a)) {
		cfg_free(&c);
		return -1;
	}
	cJSON_ArrayForEach (e, a) {
		if (cJSON_IsArray(e)) { /* nested rows are flattened */
			const cJSON *f;
			cJSON_ArrayForEach (f, e)
				if (n < cap)
					ids[n++] = (int)f->valuedouble;
		} else if (n < cap) {
			ids[n++] = (int)e->valuedouble;
		}
	}
	cfg_free(&c);
	return n;
}

const char *golden_model(const char *llm_type, const char *vision_type)
{
	static char paths[8][600];
	static char keys[8][32];
	static int n;
	char key[32];
	snprintf(key, sizeof(key), "%s-%s", llm_type, vision_type);
	for (int i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return paths[i];
	if (n == 8)
		return NULL;
	enum fvl_type lt, vt;
	if (!fvl_type_from_name(llm_type, &lt) || !fvl_type_from_name(vision_type, &vt))
		return NULL;
	snprintf(paths[n], sizeof(paths[n]), "%s/golden-%s.gguf", t_tmpdir(), key);
	struct convert_opts o = {.ckpt_dir = t_datapath("fvl-tiny-phi3/checkpoint"),
	                         .out = paths[n],
	                         .wtype = lt,
	                         .vision_wtype = vt,
	                         .embed_wtype = lt == FVL_TYPE_F32 ? FVL_TYPE_F32 : FVL_TYPE_Q8_0,
	                         .quiet = true};
	if (convert_run(&o) != FVL_STATUS_OK)
		return NULL;
	snprintf(keys[n], sizeof(keys[n]), "%s", key);
	return paths[n++];
}

double golden_err(const float *a, const float *b, size_t n)
{
	double mx = 0, d = 0;
	for (size_t i = 0; i < n; i++) {
		if (fabs((double)b[i]) > mx)
			mx = fabs((double)b[i]);
		if (fabs((double)a[i] - b[i]) > d || a[i] != a[i])
			d = a[i] != a[i] ? INFINITY : fabs((double)a[i] - b[i]);
	}
	return mx > 0 ? d / mx : d;
}

double golden_cosine(const float *a, const float *b, size_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return ab / sqrt(aa * bb + 1e-300);
}

size_t golden_argmax(const float *a, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (a[i] > a[best])
			best = i;
	return best;
}
