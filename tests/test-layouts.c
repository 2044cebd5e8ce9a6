/* test-layouts.c — the checkpoints as their repos ship them: Florence-VL SFT repos without a
 * vision_tower/ folder (the tower from --vision-tower, mm_vision_tower or the Hugging Face cache),
 * processor-saved Florence-2 tokenizers, transformers' native Florence-2 layout, the slow Phi-3
 * tokenizer through whole Florence-VL prompts, the Llama-3 (8B path) fixture against its
 * goldens, generation defaults, and the 576/577 visual-token option. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "common.h"
#include "convert.h"
#include "fvl.h"
#include "gguf.h"
#include "florence2-tasks.h"
#include "golden.h"
#include "image.h"
#include "test.h"

#define SFT_TOWER "fvl-tiny-phi3-sft/florence-phi-vision-tower"
/* assemble() links to fvl-tiny-phi3's weights (two shards and their index) */
#define PHI3_SHARDS                                                                                \
	"model-00001-of-00002.safetensors=fvl-tiny-phi3/checkpoint/"                               \
	"model-00001-of-00002.safetensors",                                                        \
	        "model-00002-of-00002.safetensors=fvl-tiny-phi3/checkpoint/"                       \
	        "model-00002-of-00002.safetensors",                                                \
	        "model.safetensors.index.json=fvl-tiny-phi3/checkpoint/"                           \
	        "model.safetensors.index.json"

/* A folder under the test's temporary directory with links "name=tests/data path" (names may
 * have one subfolder). */
static const char *assemble(const char *dir_name, const char *const *links)
{
	static char dirs[8][600];
	static int next;
	char *dir = dirs[next++ % 8];
	snprintf(dir, 600, "%s", t_tmppath(dir_name));
	mkdir(dir, 0755);
	for (size_t i = 0; links[i]; i++) {
		char name[256], at[900];
		const char *eq = strchr(links[i], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - links[i]), links[i]);
		char *slash = strchr(name, '/');
		if (slash) {
			*slash = 0;
			snprintf(at, sizeof(at), "%s/%s", dir, name);
			mkdir(at, 0755);
			*slash = '/';
		}
		snprintf(at, sizeof(at), "%s/%s", dir, name);
		unlink(at);
		if (symlink(t_datapath(eq + 1), at) != 0)
			t_failf(__FILE__, __LINE__, "symlink %s: %s", at, strerror(errno));
	}
	return dir;
}

/* The released SFT layout: fvl-tiny-phi3's shards and LLM tokenizer, the SFT config.json. */
static const char *sft_checkpoint(void)
{
	static const char *const links[] = {
	        PHI3_SHARDS,
	        "tokenizer.json=fvl-tiny-phi3/checkpoint/tokenizer.json",
	        "tokenizer_config.json=fvl-tiny-phi3/checkpoint/tokenizer_config.json",
	        "generation_config.json=fvl-tiny-phi3/checkpoint/generation_config.json",
	        "config.json=fvl-tiny-phi3-sft/config.json",
	        NULL};
	return assemble("sft", links);
}

static enum fvl_status convert_f32(const char *ckpt, const char *out, const char *tower)
{
	struct convert_opts o = {.ckpt_dir = ckpt,
	                         .out = out,
	                         .vision_tower = tower,
	                         .wtype = FVL_TYPE_F32,
	                         .vision_wtype = FVL_TYPE_F32,
	                         .embed_wtype = FVL_TYPE_F32,
	                         .quiet = true};
	return convert_run(&o);
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Tensors of a that differ from b's (name, type, shape, bytes); for the tensor `prefix_rows`
 * only the rows both have must agree (one vocabulary is padded). Missing ones count too. */
static int tensor_diffs(const struct fvl_gguf *a, const struct fvl_gguf *b, const char *const *skip,
                        const char *prefix_rows, char *why, size_t n)
{
	int bad = 0;
	for (uint64_t i = 0; i < a->n_tensors; i++) {
		const struct fvl_gguf_tensor *x = &a->tensors[i];
		char name[FVL_GGUF_MAX_NAME + 1];
		snprintf(name, sizeof(name), "%.*s", (int)x->name.n, x->name.p);
		bool skipped = false;
		for (size_t k = 0; skip && skip[k]; k++)
			skipped = skipped || strcmp(skip[k], name) == 0;
		if (skipped)
			continue;
		const struct fvl_gguf_tensor *y = fvl_gguf_find_tensor(b, name);
		const bool rows = prefix_rows && strcmp(prefix_rows, name) == 0;
		const uint64_t nb = y && y->n_bytes < x->n_bytes ? y->n_bytes : x->n_bytes;
		bool same = y && y->type == x->type && y->n_dims == x->n_dims &&
		            y->ne[0] == x->ne[0] && (rows || y->ne[1] == x->ne[1]) &&
		            y->ne[2] == x->ne[2] && y->ne[3] == x->ne[3] &&
		            memcmp(x->data, y->data, nb) == 0;
		if (!same && bad++ == 0)
			snprintf(why, n, "tensor %s %s", name, y ? "differs" : "is missing");
	}
	return bad;
}

static bool
same_str_array(const struct fvl_gguf *a, const struct fvl_gguf *b, const char *key, uint64_t n)
{
	const struct fvl_gguf_kv *x, *y;
	if (fvl_gguf_get_arr(a, key, FVL_GGUF_TYPE_STRING, &x) ||
	    fvl_gguf_get_arr(b, key, FVL_GGUF_TYPE_STRING, &y) || x->n < n || y->n < n)
		return false;
	for (uint64_t i = 0; i < n; i++) {
		struct fvl_str s = fvl_gguf_arr_str(x, i), t = fvl_gguf_arr_str(y, i);
		if (s.n != t.n || memcmp(s.p, t.p, s.n) != 0)
			return false;
	}
	return true;
}

static bool files_equal(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	bool eq = cfg_read_file(a, &x, &nx) == 0 && cfg_read_file(b, &y, &ny) == 0 && nx == ny &&
	          memcmp(x, y, nx) == 0;
	free(x);
	free(y);
	return eq;
}

/* A model and a session (2 threads) with image set; false with a recorded failure. */
static bool open_session(const char *model, const char *image, bool kv_f32, struct fvl_model **m,
                         struct fvl_session **s)
{
	struct fvl_session_params sp;
	fvl_session_params_default(&sp);
	sp.n_threads = 2;
	sp.kv_f32 = kv_f32;
	*m = NULL, *s = NULL;
	if (model && fvl_model_load(model, m) == 0 && fvl_session_init(*m, &sp, s) == 0 &&
	    fvl_session_set_image_file(*s, t_datapath(image)) == 0)
		return true;
	t_failf(__FILE__, __LINE__, "%s: %s", model ? model : "(no model)", fvl_last_error());
	return false;
}

static void close_session(struct fvl_model *m, struct fvl_session *s)
{
	fvl_session_free(s);
	fvl_model_free(m);
}

/* ---- Florence-VL SFT: the tower lives elsewhere ------------------------------------------------ */

static void test_sft_without_tower_names_the_repo_and_the_flag(void)
{
	const char *out = t_tmppath("sft-none.gguf");
	enum fvl_status st = convert_f32(sft_checkpoint(), out, NULL);
	const char *msg = fvl_last_error();
	T_ASSERT(st == FVL_STATUS_NOT_FOUND, "status %d: %s", st, msg);
	T_ASSERT(strstr(msg, "jiuhai/florence-phi-vision-tower") && strstr(msg, "--vision-tower") &&
	                 strstr(msg, "huggingface-cli download"),
	         "message: %s", msg);
	T_ASSERT(!exists(out), "an output file was left");
	t_note("%s", msg);
}

/* The SFT layout with its tower repo converts into the same tensors as the checkpoint saved with
 * vision_tower/ inside, and answers the golden ids from chelsea.jpg. */
static void test_sft_with_vision_tower_matches_the_goldens(void)
{
	const char *out = t_tmppath("sft-flag.gguf"), *ref = golden_model("f32", "f32");
	T_ASSERT(convert_f32(sft_checkpoint(), out, t_datapath(SFT_TOWER)) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	struct fvl_gguf *a = NULL, *b = NULL;
	char why[256] = "";
	T_ASSERT(ref && fvl_gguf_open(out, &a) == 0 && fvl_gguf_open(ref, &b) == 0, "open");
	const int diffs = tensor_diffs(a, b, NULL, NULL, why, sizeof(why)) +
	                  tensor_diffs(b, a, NULL, NULL, why, sizeof(why));
	uint32_t vocab = 0;
	fvl_gguf_get_u32(a, "f2.text.vocab_size", &vocab);
	const bool toks = same_str_array(a, b, "tokenizer.florence.tokens", vocab);
	const uint64_t na = a->n_tensors;
	fvl_gguf_free(a);
	fvl_gguf_free(b);
	T_ASSERT(diffs == 0, "%d tensors differ from the vision_tower/ layout's: %s", diffs, why);
	T_ASSERT(vocab == 51289 && toks,
	         "the processor-saved tokenizer gives other tokens (vocab %u)", vocab);

	struct fvl_model *m;
	struct fvl_session *s;
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.n_predict = 1;
	if (!open_session(out, "fvl-tiny-phi3/chelsea.jpg", false, &m, &s))
		return;
	enum fvl_status st =
	        fvl_session_ask(s, "What is in this picture? Answer briefly.", &g, NULL, NULL);
	size_t np;
	const int32_t *prompt = fvl_session_prompt_ids(s, &np);
	int wp[64];
	const int nwp = golden_ids("llm_input_ids_with_image_placeholder", wp, 64);
	bool same_prompt = st == FVL_STATUS_OK && (int)np == nwp;
	for (size_t i = 0; same_prompt && i < np; i++)
		same_prompt = prompt[i] == wp[i];
	size_t nl;
	const float *logits = fvl_session_prompt_logits(s, &nl);
	float *want_l = golden_tensor("llm_logits_last", 32064);
	const double e =
	        logits && want_l && nl == 32064 ? golden_err(logits, want_l, nl) : INFINITY;
	free(want_l);
	close_session(m, s);
	T_ASSERT(same_prompt, "prompt ids differ from the golden (%s)", fvl_last_error());
	T_ASSERT(e <= 1e-3, "logits at the last prompt position: error %.3g", e);
	t_note("SFT layout + --vision-tower: %llu tensors byte-identical to the vision_tower/ "
	       "layout's, "
	       "51,289 Florence-2 tokens from the processor-saved tokenizer (matched by content), "
	       "golden prompt ids, last-position logits within %.2e",
	       (unsigned long long)na, e);
}

/* mm_vision_tower found as a folder beside the checkpoint, and as a Hugging Face cache snapshot
 * whose files are links into blobs/: the same file as with --vision-tower. */
static void test_sft_tower_from_mm_vision_tower_and_the_hf_cache(void)
{
	const char *flag = t_tmppath("sft-flag2.gguf"), *cached = t_tmppath("sft-cache.gguf");
	const char *beside = t_tmppath("sft-beside.gguf");
	const char *ck = sft_checkpoint();
	T_ASSERT(convert_f32(ck, flag, t_datapath(SFT_TOWER)) == 0, "%s", fvl_last_error());
	/* HF cache: $HF_HOME/hub/models--jiuhai--florence-phi-vision-tower/{refs/main,snapshots,blobs} */
	static const char *const files[] = {"config.json",
	                                    "preprocessor_config.json",
	                                    "generation_config.json",
	                                    "tokenizer.json",
	                                    "tokenizer_config.json",
	                                    "special_tokens_map.json",
	                                    "added_tokens.json",
	                                    "vocab.json"};
	char hf[600], repo[800], p[1200], q[1400];
	snprintf(hf, sizeof(hf), "%s", t_tmppath("hf-home"));
	snprintf(repo, sizeof(repo), "%s/hub/models--jiuhai--florence-phi-vision-tower", hf);
	const char *rev = "3f1c0ffee0000000000000000000000000000001";
	snprintf(p, sizeof(p), "%s/hub", hf), mkdir(hf, 0755), mkdir(p, 0755), mkdir(repo, 0755);
	snprintf(p, sizeof(p), "%s/blobs", repo), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/refs", repo), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/snapshots", repo), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/snapshots/%s", repo, rev), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/refs/main", repo);
	FILE *f = fopen(p, "w");
	T_ASSERT(f && fputs(rev, f) >= 0 && fclose(f) == 0, "refs/main");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char src[300], blob[64];
		snprintf(src, sizeof(src), SFT_TOWER "/%s", files[i]);
		snprintf(blob, sizeof(blob), "b%02zu%032x", i, 0u);
		snprintf(p, sizeof(p), "%s/blobs/%s", repo, blob);
		T_ASSERT(symlink(t_datapath(src), p) == 0, "blob link");
		snprintf(q, sizeof(q), "%s/snapshots/%s/%s", repo, rev, files[i]);
		snprintf(p, sizeof(p), "../../blobs/%s", blob);
		T_ASSERT(symlink(p, q) == 0, "snapshot link");
	}
	char *old_home = getenv("HF_HOME") ? strdup(getenv("HF_HOME")) : NULL;
	char *old_cache = getenv("HF_HUB_CACHE") ? strdup(getenv("HF_HUB_CACHE")) : NULL;
	setenv("HF_HOME", hf, 1);
	unsetenv("HF_HUB_CACHE");
	enum fvl_status st = convert_f32(ck, cached, NULL);
	old_home ? setenv("HF_HOME", old_home, 1) : unsetenv("HF_HOME");
	if (old_cache)
		setenv("HF_HUB_CACHE", old_cache, 1);
	free(old_home), free(old_cache);
	T_ASSERT(st == FVL_STATUS_OK, "from the HF cache: %s", fvl_last_error());
	T_ASSERT(files_equal(flag, cached),
	         "the file from the HF cache differs from --vision-tower's");
	/* mm_vision_tower as a relative folder beside the checkpoint */
	static const char *const links[] = {
	        PHI3_SHARDS, "tokenizer.json=fvl-tiny-phi3/checkpoint/tokenizer.json",
	        "tokenizer_config.json=fvl-tiny-phi3/checkpoint/tokenizer_config.json",
	        "tower=" SFT_TOWER, NULL};
	const char *dir = assemble("sft-beside", links);
	char *cfg_text = NULL;
	T_ASSERT(cfg_read_file(t_datapath("fvl-tiny-phi3-sft/config.json"), &cfg_text, NULL) == 0,
	         "cfg");
	char *at = strstr(cfg_text, "jiuhai/florence-phi-vision-tower");
	T_ASSERT(at, "mm_vision_tower in the fixture config");
	snprintf(p, sizeof(p), "%s/config.json", dir);
	f = fopen(p, "w");
	T_ASSERT(f, "write config");
	fprintf(f, "%.*stower%s", (int)(at - cfg_text), cfg_text,
	        at + strlen("jiuhai/florence-phi-vision-tower"));
	fclose(f);
	free(cfg_text);
	T_ASSERT(convert_f32(dir, beside, NULL) == 0, "mm_vision_tower beside: %s",
	         fvl_last_error());
	struct fvl_gguf *a = NULL, *b = NULL;
	char why[256] = "";
	T_ASSERT(fvl_gguf_open(flag, &a) == 0 && fvl_gguf_open(beside, &b) == 0, "open");
	const int diffs = tensor_diffs(a, b, NULL, NULL, why, sizeof(why));
	fvl_gguf_free(a);
	fvl_gguf_free(b);
	T_ASSERT(diffs == 0, "mm_vision_tower beside the checkpoint: %s", why);
	t_note("tower from $HF_HOME/hub snapshot (symlinked blobs): byte-identical file; from "
	       "mm_vision_tower as a local folder: identical tensors");
}

/* ---- transformers' native Florence-2 ------------------------------------------------------------ */

static void test_native_florence2_layout_gives_the_original_tensors(void)
{
	const char *orig = t_tmppath("f2-orig.gguf"), *nat = t_tmppath("f2-native.gguf");
	T_ASSERT(convert_f32(t_datapath("florence2-tiny"), orig, NULL) == 0, "%s",
	         fvl_last_error());
	T_ASSERT(convert_f32(t_datapath("florence2-tiny-native"), nat, NULL) == 0, "%s",
	         fvl_last_error());
	struct fvl_gguf *a = NULL, *b = NULL;
	char why[256] = "", why2[256] = "";
	T_ASSERT(fvl_gguf_open(orig, &a) == 0 && fvl_gguf_open(nat, &b) == 0, "open");
	static const char *const only_orig[] = {"fd.logits_bias", NULL};
	const int d1 = tensor_diffs(a, b, only_orig, "fe.token_embd.weight", why, sizeof(why));
	const int d2 = tensor_diffs(b, a, NULL, "fe.token_embd.weight", why2, sizeof(why2));
	const struct fvl_gguf_tensor *emb = fvl_gguf_find_tensor(b, "fe.token_embd.weight");
	uint32_t vocab = 0;
	struct fvl_str layout = {"", 0}, img = {"", 0};
	const struct fvl_gguf_kv *toks = NULL;
	fvl_gguf_get_u32(b, "f2.text.vocab_size", &vocab);
	fvl_gguf_get_str(b, "f2.layout", &layout);
	fvl_gguf_get_arr(b, "tokenizer.florence.tokens", FVL_GGUF_TYPE_STRING, &toks);
	if (toks && toks->n > 51289)
		img = fvl_gguf_arr_str(toks, 51289);
	const bool toks_ok = same_str_array(a, b, "tokenizer.florence.tokens", 51289);
	const bool bias = fvl_gguf_find_tensor(b, "fd.logits_bias") != NULL;
	const uint64_t n_orig = a->n_tensors, n_nat = b->n_tensors, rows = emb ? emb->ne[1] : 0;
	const uint64_t n_toks = toks ? toks->n : 0;
	const bool layout_ok = fvl_str_eq(layout, "transformers"),
	           img_ok = fvl_str_eq(img, "<image>");
	fvl_gguf_free(a); /* the strings above pointed into the mappings */
	fvl_gguf_free(b);
	T_ASSERT(d1 == 0, "%d tensors of the original layout differ in the native one: %s", d1,
	         why);
	T_ASSERT(d2 == 0, "%d tensors of the native layout differ: %s", d2, why2);
	T_ASSERT(!bias && rows == 51328 && vocab == 51328, "logits bias %d, %llu rows, vocab %u",
	         bias, (unsigned long long)rows, vocab);
	T_ASSERT(layout_ok, "f2.layout is not 'transformers'");
	T_ASSERT(toks_ok && n_toks == 51328 && img_ok,
	         "tokens: first 51,289 same %d, %llu in all, "
	         "<image> at 51289 %d",
	         toks_ok, (unsigned long long)n_toks, img_ok);
	t_note("native layout: %llu tensors, byte-identical to the %llu of the original but "
	       "fd.logits_bias (absent) and fe.token_embd's 39 padded rows; tokens 51,289 + "
	       "<image>, "
	       "padded to 51,328",
	       (unsigned long long)n_nat, (unsigned long long)n_orig);
}

/* The defaults HF generate would run with: Microsoft's remote code (the inner language model's
 * config, text_config), and the native model's generation_config.json or config.json. */
static void test_generation_defaults_by_layout(void)
{
	static const char *const no_gen[] = {
	        "config.json=florence2-tiny/config.json",
	        "pytorch_model.bin=florence2-tiny/pytorch_model.bin",
	        "preprocessor_config.json=florence2-tiny/preprocessor_config.json",
	        "tokenizer.json=florence2-tiny/tokenizer.json", NULL};
	static const char *const nat_no_gen[] = {
	        "config.json=florence2-tiny-native/config.json",
	        "model.safetensors=florence2-tiny-native/model.safetensors",
	        "preprocessor_config.json=florence2-tiny-native/preprocessor_config.json",
	        "tokenizer.json=florence2-tiny-native/tokenizer.json", NULL};
	char orig[600], nat[600]; /* t_datapath's buffers are reused by assemble */
	snprintf(orig, sizeof(orig), "%s", t_datapath("florence2-tiny"));
	snprintf(nat, sizeof(nat), "%s", t_datapath("florence2-tiny-native"));
	const struct {
		const char *ckpt, *source;
		uint32_t beams, ngram;
		bool early;
	} cases[] = {
	        {orig, "config.json text_config", 3, 3, true},
	        {assemble("f2-nogen", no_gen), "config.json text_config", 3, 3, true},
	        {nat, "generation_config.json", 3, 3, true},
	        {assemble("f2n-nogen", nat_no_gen), "config.json", 3, 3, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[600];
		snprintf(out, sizeof(out), "%s/gen-%zu.gguf", t_tmpdir(), i);
		struct convert_opts o = {.ckpt_dir = cases[i].ckpt,
		                         .out = out,
		                         .wtype = FVL_TYPE_F16,
		                         .vision_wtype = FVL_TYPE_F16,
		                         .embed_wtype = FVL_TYPE_F16,
		                         .quiet = true};
		T_ASSERT(convert_run(&o) == 0, "case %zu: %s", i, fvl_last_error());
		struct fvl_gguf *g = NULL;
		uint32_t beams = 0, ngram = 0;
		bool early = false;
		struct fvl_str src = {"", 0};
		T_ASSERT(fvl_gguf_open(out, &g) == 0, "open");
		fvl_gguf_get_u32(g, "f2.generation.num_beams", &beams);
		fvl_gguf_get_u32(g, "f2.text.no_repeat_ngram_size", &ngram);
		fvl_gguf_get_bool(g, "f2.generation.early_stopping", &early);
		fvl_gguf_get_str(g, "f2.generation.source", &src);
		const bool ok = beams == cases[i].beams && ngram == cases[i].ngram &&
		                early == cases[i].early && fvl_str_eq(src, cases[i].source);
		t_note("case %zu: %u beams, n-gram %u, early_stopping %d from %.*s", i, beams,
		       ngram, early, (int)src.n, src.p);
		fvl_gguf_free(g);
		T_ASSERT(ok, "case %zu differs from the expected defaults", i);
	}
}

/* ---- the slow Phi-3 tokenizer through whole Florence-VL prompts -------------------------------- */

static const char *slow_checkpoint(bool with_json)
{
	static const char *const base[] = {
	        PHI3_SHARDS,
	        "config.json=fvl-tiny-phi3/checkpoint/config.json",
	        "vision_tower/config.json=fvl-tiny-phi3/checkpoint/vision_tower/config.json",
	        "vision_tower/preprocessor_config.json=fvl-tiny-phi3/checkpoint/vision_tower/"
	        "preprocessor_config.json",
	        "vision_tower/tokenizer.json=fvl-tiny-phi3/checkpoint/vision_tower/tokenizer.json",
	        "tokenizer.model=tokenizers/phi3-spm/tokenizer.model",
	        "tokenizer_config.json=tokenizers/phi3-spm/tokenizer_config.json",
	        NULL};
	static const char *const plus_json[] = {
	        "tokenizer.json=fvl-tiny-phi3/checkpoint/tokenizer.json", NULL};
	const char *dir = assemble(with_json ? "slow-both" : "slow", base);
	if (with_json)
		assemble(with_json ? "slow-both" : "slow", plus_json);
	return dir;
}

static void test_slow_tokenizer_through_florence_vl_prompts(void)
{
	const char *out = t_tmppath("slow.gguf");
	T_ASSERT(convert_f32(slow_checkpoint(false), out, NULL) == 0, "%s", fvl_last_error());
	char *raw;
	T_ASSERT(cfg_read_file(t_datapath("tokenizers/phi3-spm/probes.json"), &raw, NULL) == 0,
	         "probes");
	cJSON *root = cJSON_Parse(raw);
	free(raw);
	struct fvl_model *m;
	struct fvl_session *s;
	struct fvl_gguf *g = NULL;
	struct fvl_str sem = {"", 0};
	T_ASSERT(fvl_gguf_open(out, &g) == 0, "open");
	fvl_gguf_get_str(g, "tokenizer.llm.semantics", &sem);
	const bool slow = fvl_str_eq(sem, "slow");
	fvl_gguf_free(g);
	T_ASSERT(slow, "tokenizer.model did not give the slow semantics");
	if (!open_session(out, "fvl-tiny-phi3/chelsea.jpg", false, &m, &s))
		return;
	struct fvl_gen_params gp;
	fvl_gen_params_default(&gp);
	gp.n_predict = 1;
	gp.parse_special = true; /* the reference tokenizes the question's "<|end|>" as the token */
	int n = 0, ok = 0;
	char why[400] = "";
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItem(root, "probes")) {
		const cJSON *q = cJSON_GetObjectItem(e, "question"),
		            *want = cJSON_GetObjectItem(e, "slow_ids"), *v;
		if (!cJSON_IsString(q))
			continue;
		n++;
		if (fvl_session_ask(s, q->valuestring, &gp, NULL, NULL) != FVL_STATUS_OK) {
			snprintf(why, sizeof(why), "ask: %s", fvl_last_error());
			continue;
		}
		size_t np;
		const int32_t *p = fvl_session_prompt_ids(s, &np);
		bool same = (int)np == cJSON_GetArraySize(want);
		size_t i = 0;
		cJSON_ArrayForEach (v, want)
			if (same && p[i++] != (int32_t)v->valuedouble)
				same = false;
		if (same)
			ok++;
		else if (!why[0])
			snprintf(why, sizeof(why), "question '%.60s': %zu ids, want %d",
			         q->valuestring, np, cJSON_GetArraySize(want));
	}
	close_session(m, s);
	cJSON_Delete(root);
	t_note("slow Phi-3 tokenizer: %d/%d whole Florence-VL prompts (template, <image> splice) "
	       "with the ids of transformers 4.43's LlamaTokenizer(legacy=False)",
	       ok, n);
	T_ASSERT(n == 12 && ok == n, "%s", why);
}

static void test_llm_tokenizer_choice(void)
{
	struct {
		bool json;
		enum llm_tokenizer pick;
		enum fvl_status want;
		const char *semantics;
	} cases[] = {
	        {true, LLM_TOKENIZER_AUTO, FVL_STATUS_OK, "slow"}, /* tokenizer.model wins */
	        {true, LLM_TOKENIZER_FAST, FVL_STATUS_OK, "fast"},
	        {false, LLM_TOKENIZER_FAST, FVL_STATUS_NOT_FOUND, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[600];
		snprintf(out, sizeof(out), "%s/choice-%zu.gguf", t_tmpdir(), i);
		struct convert_opts o = {.ckpt_dir = slow_checkpoint(cases[i].json),
		                         .out = out,
		                         .llm_tokenizer = cases[i].pick,
		                         .wtype = FVL_TYPE_F16,
		                         .vision_wtype = FVL_TYPE_F16,
		                         .embed_wtype = FVL_TYPE_F16,
		                         .no_florence_decoder = true,
		                         .quiet = true};
		enum fvl_status st = convert_run(&o);
		T_ASSERT(st == cases[i].want, "case %zu: status %d: %s", i, st, fvl_last_error());
		if (!cases[i].semantics) {
			T_ASSERT(!exists(out) &&
			                 strstr(fvl_last_error(), "tokenizer.model is there"),
			         "case %zu: %s", i, fvl_last_error());
			continue;
		}
		struct fvl_gguf *g = NULL;
		struct fvl_str sem = {"", 0};
		T_ASSERT(fvl_gguf_open(out, &g) == 0, "open");
		fvl_gguf_get_str(g, "tokenizer.llm.semantics", &sem);
		const bool same = fvl_str_eq(sem, cases[i].semantics);
		fvl_gguf_free(g);
		T_ASSERT(same, "case %zu: semantics '%.*s'", i, (int)sem.n, sem.p);
	}
}

/* ---- Llama-3 (the 8B path): GQA, llama3 rope, temporal-only pool, tower weights in .bin --------- */

#define L3 "fvl-tiny-llama3"

static const char *llama3_model(void)
{
	static char path[600];
	if (!path[0]) {
		snprintf(path, sizeof(path), "%s", t_tmppath("llama3.gguf"));
		if (convert_f32(t_datapath(L3 "/checkpoint"), path, NULL) != FVL_STATUS_OK) {
			t_failf(__FILE__, __LINE__, "convert: %s", fvl_last_error());
			path[0] = 0;
			return NULL;
		}
	}
	return path;
}

static void test_llama3_fixture_matches_its_goldens(void)
{
	struct fvl_model *m;
	struct fvl_session *s;
	if (!open_session(llama3_model(), L3 "/astronaut_crop.jpg", false, &m, &s))
		return;
	struct fvl_stats stats;
	fvl_session_stats(s, &stats);
	int wp[96], wg[16];
	const int nwp = golden_ids_in(L3, "llm_input_ids_with_image_placeholder", wp, 96);
	const int nwg = golden_ids_in(L3, "llm_greedy_ids", wg, 16);
	struct fvl_gen_params gp;
	fvl_gen_params_default(&gp);
	gp.n_predict = nwg;
	gp.ignore_eos = true;
	enum fvl_status st =
	        fvl_session_ask(s, "Describe the scene in one sentence.", &gp, NULL, NULL);
	size_t np, nl;
	const int32_t *p = fvl_session_prompt_ids(s, &np);
	bool same_prompt = st == 0 && (int)np == nwp;
	for (size_t i = 0; same_prompt && i < np; i++)
		same_prompt = p[i] == wp[i];
	const float *logits = fvl_session_prompt_logits(s, &nl);
	float *want = golden_tensor_in(L3, "llm_logits_last", 128257);
	const double e = logits && want && nl == 128257 ? golden_err(logits, want, nl) : INFINITY;
	const size_t am = logits ? golden_argmax(logits, nl) : 0,
	             wam = want ? golden_argmax(want, 128257) : 1;
	free(want);
	close_session(m, s);
	T_ASSERT(stats.n_visual == 9, "%u visual tokens (temporal pool only: 9)", stats.n_visual);
	T_ASSERT(same_prompt, "prompt ids (%zu, golden %d; double BOS expected): %s", np, nwp,
	         fvl_last_error());
	T_ASSERT(e <= 1e-3 && am == wam, "last-position logits: error %.3g, argmax %zu vs %zu", e,
	         am, wam);
	t_note("Llama-3 fixture from astronaut_crop.jpg (pad to square, 96 px): 9 visual tokens, "
	       "%d "
	       "prompt ids with the double BOS, last-position logits within %.2e of the golden",
	       nwp, e);
}

/* Greedy ids through the API (the golden continues 10 tokens without a stop token). */
struct collect {
	int32_t ids[32];
	int n;
};

static bool collect(void *user, int32_t id, const char *text, size_t len)
{
	struct collect *c = user;
	(void)text, (void)len;
	if (id >= 0 && c->n < 32)
		c->ids[c->n++] = id;
	return true;
}

static void test_llama3_greedy_ids(void)
{
	struct fvl_model *m;
	struct fvl_session *s;
	int wg[16];
	const int nwg = golden_ids_in(L3, "llm_greedy_ids", wg, 16);
	struct fvl_gen_params gp;
	fvl_gen_params_default(&gp);
	gp.n_predict = nwg;
	gp.ignore_eos = true;
	struct collect c = {{0}, 0};
	T_ASSERT(nwg == 10, "golden");
	if (!open_session(llama3_model(), L3 "/astronaut_crop.jpg", true, &m, &s))
		return;
	const enum fvl_status st =
	        fvl_session_ask(s, "Describe the scene in one sentence.", &gp, collect, &c);
	close_session(m, s);
	T_ASSERT(st == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(c.n == nwg, "%d ids", c.n);
	for (int i = 0; i < nwg; i++)
		T_ASSERT(c.ids[i] == wg[i], "greedy id %d: %d, golden %d", i, c.ids[i], wg[i]);
	t_note("10 greedy ids identical to the golden (KV cache f32)");
}

static void test_llama3_florence2_tasks_match_their_first_logits(void)
{
	static const char *const tasks[][2] = {{"ocr", "OCR"},
	                                       {"detailed_caption", "DETAILED_CAPTION"}};
	const char *path = llama3_model();
	T_ASSERT(path, "no model");
	struct fvl_model *m = NULL;
	struct fvl_image img = {0};
	T_ASSERT(fvl_model_load(path, &m) == 0, "%s", fvl_last_error());
	T_ASSERT(fvl_image_load(t_datapath(L3 "/astronaut_crop.jpg"), &img) == 0, "image");
	double worst = 0;
	for (int i = 0; i < 2; i++) {
		struct fvl_task_params p;
		struct fvl_task_result r;
		struct fvl_task_dump d;
		fvl_task_params_default(&p);
		p.task = tasks[i][0], p.max_new = 2, p.n_beams = 1, p.n_threads = 2;
		char key[80], name[80];
		int want_ids[64];
		snprintf(key, sizeof(key), "florence_tasks.%s.prompt_ids", tasks[i][1]);
		snprintf(name, sizeof(name), "florence_%s_first_logits", tasks[i][1]);
		const int n_prompt = golden_ids_in(L3, key, want_ids, 64);
		float *want = golden_tensor_in(L3, name, 51289);
		enum fvl_status st = fvl_task_run_dump(m, img.rgb, img.w, img.h, &p, &r, &d);
		const double e = st == 0 && want && d.vocab == 51289
		                         ? golden_err(d.decoder_logits_first, want, 51289)
		                         : INFINITY;
		const bool n_ok = st == 0 && d.n_enc == 9 + (size_t)n_prompt;
		free(want);
		fvl_task_dump_free(&d);
		fvl_task_result_free(&r);
		if (e > worst)
			worst = e;
		T_CHECK(n_ok && e <= 1e-3, "%s: %s, error %.3g", tasks[i][1], fvl_last_error(), e);
	}
	fvl_image_free(&img);
	fvl_model_free(m);
	t_note("Florence-2 tasks OCR, DETAILED_CAPTION on the Llama-3 fixture's tower (from "
	       "vision_tower/pytorch_model.bin): first-step logits within %.2e",
	       worst);
}

/* --drop-pooled-token: the LLM gets the 16 grid tokens, fused from rows 1..16. */
static void test_drop_pooled_token_option(void)
{
	const char *out = t_tmppath("drop.gguf");
	struct convert_opts o = {.ckpt_dir = t_datapath("fvl-tiny-phi3/checkpoint"),
	                         .out = out,
	                         .drop_pooled_token = true,
	                         .wtype = FVL_TYPE_F32,
	                         .vision_wtype = FVL_TYPE_F32,
	                         .embed_wtype = FVL_TYPE_F32,
	                         .no_florence_decoder = true,
	                         .quiet = true};
	T_ASSERT(convert_run(&o) == 0, "%s", fvl_last_error());
	struct fvl_model *m;
	struct fvl_session *s;
	if (!open_session(out, "fvl-tiny-phi3/chelsea.jpg", false, &m, &s))
		return;
	struct fvl_stats st;
	fvl_session_stats(s, &st);
	struct fvl_gen_params gp;
	fvl_gen_params_default(&gp);
	gp.n_predict = 1;
	T_ASSERT(fvl_session_ask(s, "What?", &gp, NULL, NULL) == 0, "%s", fvl_last_error());
	struct fvl_stats st2;
	fvl_session_stats(s, &st2);
	close_session(m, s);
	T_ASSERT(st.n_visual == 16, "%u visual tokens, want the 16 grid tokens", st.n_visual);
	t_note("--drop-pooled-token: 16 of 17 visual tokens reach the LLM (prompt %u positions)",
	       st2.n_prompt);
}

void suite_layouts(void)
{
	T_RUN(test_sft_without_tower_names_the_repo_and_the_flag);
	T_RUN(test_sft_with_vision_tower_matches_the_goldens);
	T_RUN(test_sft_tower_from_mm_vision_tower_and_the_hf_cache);
	T_RUN(test_native_florence2_layout_gives_the_original_tensors);
	T_RUN(test_generation_defaults_by_layout);
	T_RUN(test_slow_tokenizer_through_florence_vl_prompts);
	T_RUN(test_llm_tokenizer_choice);
	T_RUN(test_llama3_fixture_matches_its_goldens);
	T_RUN(test_llama3_greedy_ids);
	T_RUN(test_llama3_florence2_tasks_match_their_first_logits);
	T_RUN(test_drop_pooled_token_option);
}
