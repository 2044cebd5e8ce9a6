/* fuzz-model.c — libFuzzer over model loading, not only the container: each input is a list of
 * edits to the metadata values of a small valid model file ($FVL_FUZZ_FILES/model.gguf, the
 * fvl-tiny-phi3 fixture converted by tests/run --write-fuzz-files): numbers, flags, bytes of
 * strings and array elements, never the layout. The edited file is loaded from memory and, when
 * it loads, runs one tiny forward: an image and a two-token answer, and a Florence-2 task.
 * Whatever the edits, nothing may crash or read out of bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *base, *work;
static size_t size;
static struct fvl_gguf *g; /* the base, for where each value lives */

static void quiet(enum fvl_log_level level, const char *msg, void *user)
{
	(void)level, (void)msg, (void)user;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[1024];
	const char *dir = getenv("FVL_FUZZ_FILES");
	(void)argc, (void)argv;
	snprintf(path, sizeof(path), "%s/model.gguf", dir ? dir : ".");
	FILE *f = fopen(path, "rb");
	long n = -1;
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(base = aligned_alloc(64, ((size_t)n + 63) / 64 * 64)) ||
	    fread(base, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "fuzz-model: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	size = (size_t)n;
	if (fvl_gguf_parse(base, size, &g) != FVL_STATUS_OK ||
	    !(work = aligned_alloc(64, (size + 63) / 64 * 64))) { /* aligned as a mapping is */
		fprintf(stderr, "fuzz-model: %s\n", fvl_last_error());
		exit(1);
	}
	memcpy(work, base, size);
	fvl_log_set(quiet, NULL, FVL_LOG_ERROR);
	return 0;
}

/* One 8-byte edit: which value (u16), which element (u16), the new bits (u32). */
static void apply(const uint8_t *e)
{
	uint16_t which, elem;
	uint32_t bits;
	memcpy(&which, e, 2), memcpy(&elem, e + 2, 2), memcpy(&bits, e + 4, 4);
	const struct fvl_gguf_kv *kv = &g->kv[which % g->n_kv];
	const uint32_t type = kv->type == FVL_GGUF_TYPE_ARRAY ? kv->arr_type : kv->type;
	const uint64_t i = kv->type == FVL_GGUF_TYPE_ARRAY && kv->n ? elem % kv->n : 0;
	if (kv->type == FVL_GGUF_TYPE_ARRAY && kv->n == 0)
		return;
	uint8_t *p = work + (kv->data - g->map);
	if (type == FVL_GGUF_TYPE_STRING) {
		const uint64_t off = kv->type == FVL_GGUF_TYPE_ARRAY ? kv->str_off[i] : 0;
		uint64_t len;
		memcpy(&len, p + off, 8);
		if (len)
			p[off + 8 + (bits >> 8) % len] = (uint8_t)bits; /* a byte of the text */
		return;
	}
	const uint32_t es = fvl_gguf_value_size(type);
	if (es == 0 || es > 8)
		return;
	uint64_t v = bits; /* sign-extended for the wide types, so -1 and the like come up */
	if (es == 8 && (bits & 0x80000000u))
		v |= 0xffffffff00000000ull;
	memcpy(p + i * es, &v, es);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	memcpy(work, base, g->data_offset); /* undo the last input's edits */
	for (size_t k = 0; k + 8 <= n && k < 8 * 16; k += 8)
		apply(data + k);
	struct fvl_model *m = NULL;
	if (fvl_model_load_memory(work, size, &m) != FVL_STATUS_OK)
		return 0;
	static uint8_t rgb[48 * 32 * 3];
	for (size_t i = 0; i < sizeof(rgb); i++)
		rgb[i] = (uint8_t)(i * 7);
	/* A forward at sizes a test machine runs in milliseconds; larger valid files are skipped. */
	const struct fvl_f2 *f2 = m->is_vl ? &m->vision.f2 : &m->f2;
	if (f2->davit.image_size <= 256 && f2->davit.n_stages && f2->davit.stages[0].c <= 256) {
		if (m->is_vl) {
			struct fvl_session_params sp;
			struct fvl_session *s = NULL;
			fvl_session_params_default(&sp);
			sp.n_threads = 1;
			sp.n_ctx = 96;
			struct fvl_gen_params gp;
			fvl_gen_params_default(&gp);
			gp.n_predict = 2;
			gp.temp = 0.7f, gp.top_p = 0.9f, gp.repeat_penalty = 1.1f;
			if (fvl_session_init(m, &sp, &s) == FVL_STATUS_OK &&
			    fvl_session_set_image_rgb(s, rgb, 48, 32) == FVL_STATUS_OK)
				fvl_session_ask(s, "What is it?", &gp, NULL, NULL);
			fvl_session_free(s);
		}
		struct fvl_task_params tp;
		struct fvl_task_result r;
		fvl_task_params_default(&tp);
		tp.task = "od", tp.max_new = 2, tp.n_beams = 2, tp.n_threads = 1;
		if (fvl_task_run(m, rgb, 48, 32, &tp, &r) == FVL_STATUS_OK)
			fvl_task_result_free(&r);
	}
	fvl_model_free(m);
	return 0;
}
