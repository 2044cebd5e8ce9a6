/* seeds.c — the files the tokenizer and model-load fuzzers start from, written by
 * `tests/run --write-fuzz-files DIR`: tokenizers.gguf (every tokenizer fvl ships, as metadata)
 * and model.gguf (the fvl-tiny-phi3 fixture at 64 px, q8_0 LLM, f16 vision, with Florence-2's
 * decoder). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "gguf.h"
#include "test.h"
#include "tokjson.h"

static int write_tokenizers(const char *path)
{
	struct fvl_gguf_writer *w;
	const char **extra = NULL;
	const uint32_t n_extra = tok_florence2_extra(&extra);
	FILE *f = NULL;
	if (fvl_gguf_writer_init(&w) != FVL_STATUS_OK)
		return 1;
	bool ok =
	        n_extra &&
	        tok_write_json(w, "tokenizer.f2", t_datapath("tokenizers/florence2-tokenizer.json"),
	                       extra, n_extra, 0, NULL, NULL) == FVL_STATUS_OK &&
	        tok_write_json(
	                w, "tokenizer.phi3",
	                t_datapath("tokenizers/sp-bpe-32k-with-phi3-specials.tokenizer.json"), NULL,
	                0, 0, NULL, NULL) == FVL_STATUS_OK &&
	        tok_write_json(w, "tokenizer.llama3",
	                       t_datapath("fvl-tiny-llama3/checkpoint/tokenizer.json"), NULL, 0, 0,
	                       NULL, NULL) == FVL_STATUS_OK &&
	        tok_write_spm(w, "tokenizer.spm", t_datapath("tokenizers/phi3-spm/tokenizer.model"),
	                      t_datapath("tokenizers/phi3-spm"), NULL) == FVL_STATUS_OK &&
	        (f = fopen(path, "wb")) && fvl_gguf_writer_write_header(w, f) == FVL_STATUS_OK &&
	        fvl_gguf_writer_finish(w, f) == FVL_STATUS_OK;
	if (f)
		ok = fclose(f) == 0 && ok;
	fvl_gguf_writer_free(w);
	tok_florence2_extra_free(extra);
	if (!ok)
		fprintf(stderr, "%s: %s\n", path, fvl_last_error());
	return ok ? 0 : 1;
}

/* fvl-tiny-phi3/checkpoint with 64 px images (a 2 x 2 grid: a fast forward for the fuzzer). */
static const char *small_checkpoint(const char *dir)
{
	static char ck[600];
	static const char *const files[] = {"model-00001-of-00002.safetensors",
	                                    "model-00002-of-00002.safetensors",
	                                    "model.safetensors.index.json",
	                                    "config.json",
	                                    "tokenizer.json",
	                                    "tokenizer_config.json",
	                                    "vision_tower/config.json",
	                                    "vision_tower/tokenizer.json",
	                                    NULL};
	char at[900], src[900];
	snprintf(ck, sizeof(ck), "%s/small-checkpoint", dir);
	snprintf(at, sizeof(at), "%s/vision_tower", ck);
	mkdir(ck, 0755);
	mkdir(at, 0755);
	for (size_t i = 0; files[i]; i++) {
		snprintf(at, sizeof(at), "%s/%s", ck, files[i]);
		snprintf(src, sizeof(src), "fvl-tiny-phi3/checkpoint/%s", files[i]);
		unlink(at);
		if (symlink(t_datapath(src), at) != 0)
			return NULL;
	}
	snprintf(at, sizeof(at), "%s/vision_tower/preprocessor_config.json", ck);
	FILE *f = fopen(at, "w");
	if (!f)
		return NULL;
	fputs("{\"size\": {\"height\": 64, \"width\": 64}, \"resample\": 3, \"image_mean\": "
	      "[0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, 0.225]}\n",
	      f);
	return fclose(f) == 0 ? ck : NULL;
}

int t_write_fuzz_files(const char *dir)
{
	char tok[600], model[600];
	snprintf(tok, sizeof(tok), "%s/tokenizers.gguf", dir);
	snprintf(model, sizeof(model), "%s/model.gguf", dir);
	const char *ck = small_checkpoint(dir);
	if (!ck) {
		fprintf(stderr, "%s: cannot assemble the small checkpoint\n", dir);
		return 1;
	}
	struct convert_opts o = {.ckpt_dir = ck,
	                         .out = model,
	                         .wtype = FVL_TYPE_Q8_0,
	                         .vision_wtype = FVL_TYPE_F16,
	                         .embed_wtype = FVL_TYPE_Q8_0,
	                         .quiet = true};
	if (write_tokenizers(tok) != 0)
		return 1;
	if (convert_run(&o) != FVL_STATUS_OK) {
		fprintf(stderr, "%s: %s\n", model, fvl_last_error());
		return 1;
	}
	return 0;
}
