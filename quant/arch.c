/* arch.c — what a checkpoint holds, by architecture: loads the weight files, checks every tensor's
 * shape against the configs, names it for the model file, and writes the metadata the runtime
 * needs (hyperparameters, preprocessing, prompts, chat template, both tokenizers). Florence-VL
 * facts cited here are in docs/florence-vl-inference.md (sections in brackets). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "cfg.h"
#include "common.h"
#include "names.h"
#include "tokjson.h"
#include "tower.h"

#define MAX_STAGES 8
#define P_F2       "model.vision_tower.vision_tower." /* Florence-2 inside a Florence-VL checkpoint */

/* How a checkpoint names Florence-2's tensors: as Microsoft's remote code does (also inside
 * Florence-VL checkpoints, under P_F2), or as transformers' native Florence2ForConditionalGeneration
 * (florence-community/Florence-2-*). The plan below spells Microsoft's names; f2_name maps them. */
struct f2_src {
	const char *prefix; /* Microsoft's names: "" or P_F2 */
	bool native;
};

/* In place: the first `from` in s becomes `to`; false if s has none or it would not fit. */
static bool subst(char *s, size_t cap, const char *from, const char *to)
{
	char *at = strstr(s, from);
	const size_t nf = strlen(from), nt = strlen(to), n = strlen(s);
	if (!at || n - nf + nt + 1 > cap)
		return false;
	memmove(at + nt, at + nf, n - (size_t)(at - s) - nf + 1);
	memcpy(at, to, nt);
	return true;
}

/* Microsoft's Florence-2 name -> the checkpoint's (transformers'
 * convert_florence2_original_pytorch_to_hf.py, read backwards). */
static const char *f2_name(const struct f2_src *src, char *buf, size_t n, const char *orig)
{
	static const char *const blocks[][2] = {
	        {".conv1.fn.dw.", ".conv1."},
	        {".conv2.fn.dw.", ".conv2."},
	        {".window_attn.norm.", ".norm1."},
	        {".channel_attn.norm.", ".norm1."},
	        {".window_attn.fn.", ".window_attn."},
	        {".channel_attn.fn.", ".channel_attn."},
	        {".ffn.norm.", ".norm2."},
	        {".ffn.fn.net.", ".ffn."},
	};
	static const char *const heads[][2] = {
	        {"vision_tower.", "model.vision_tower."},
	        {"image_projection", "model.multi_modal_projector.image_projection.weight"},
	        {"image_proj_norm.", "model.multi_modal_projector.image_proj_norm."},
	        {"image_pos_embed.", "model.multi_modal_projector.image_position_embed."},
	        {"language_model.model.", "model.language_model."},
	        {"language_model.lm_head.", "lm_head."},
	        {"language_model.final_logits_bias", "final_logits_bias"},
	};
	snprintf(buf, n, "%s%s", src->native ? "" : src->prefix, orig);
	if (!src->native)
		return buf;
	if (strncmp(buf, "vision_tower.convs.", 19) == 0)
		subst(buf, n, ".proj.", ".conv.");
	if (strncmp(buf, "vision_tower.blocks.", 20) == 0)
		for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
			subst(buf, n, blocks[i][0], blocks[i][1]);
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		if (strncmp(buf, heads[i][0], strlen(heads[i][0])) == 0) {
			subst(buf, n, heads[i][0], heads[i][1]);
			break;
		}
	return buf;
}

/* The layout of the Florence-2 tensors in ck: under P_F2, Microsoft's names without a prefix,
 * or transformers' native ones; false if none of them is there. */
static bool f2_detect(const struct ckpt *ck, struct f2_src *src)
{
	static const char *const probe = "vision_tower.convs.0.proj.weight";
	char n[256];
	const struct f2_src cand[3] = {{P_F2, false}, {"", false}, {"", true}};
	for (int i = 0; i < 3; i++)
		if (ckpt_find(ck, f2_name(&cand[i], n, sizeof(n), probe))) {
			*src = cand[i];
			return true;
		}
	return false;
}

static bool file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static const char *join(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
	return buf;
}

#define JOIN(buf, dir, name) join(buf, sizeof(buf), dir, name)
#define NDIMS(...)           (sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))
/* ADD(plan, gguf_name, class, transpose, src_name, shape...) */
#define ADD(p, name, cls, tr, src, ...)                                                            \
	plan_add(p, name, cls, tr, (uint32_t)NDIMS(__VA_ARGS__), (const uint64_t[]){__VA_ARGS__},  \
	         src, NULL)

/* ---- weight files --------------------------------------------------------------------------- */

/* model.safetensors.index.json (sharded), model.safetensors or pytorch_model.bin in dir. */
static enum fvl_status
load_weights(const struct convert_opts *o, struct ckpt *ck, const char *dir, bool required)
{
	char path[1024], shard[1024];
	struct cfg idx;
	enum fvl_status st;

	if (o->synth) /* made up on demand by plan_add */
		return FVL_STATUS_OK;
	if (file_exists(JOIN(path, dir, "model.safetensors.index.json"))) {
		if ((st = cfg_load(&idx, path)) != FVL_STATUS_OK)
			return st;
		const cJSON *map = cfg_get(idx.root, "weight_map"), *e, *f;
		if (!cJSON_IsObject(map)) {
			cfg_free(&idx);
			return fvl_fail(FVL_STATUS_BAD_FILE, "%s: 'weight_map' is missing", path);
		}
		/* Each distinct shard once, in order of first mention. */
		cJSON_ArrayForEach (e, map) {
			if (!cJSON_IsString(e)) {
				st = fvl_fail(FVL_STATUS_BAD_FILE,
				              "%s: weight_map['%s'] is not a file "
				              "name",
				              path, e->string);
				break;
			}
			bool seen = false;
			for (f = map->child; f != e && !seen; f = f->next)
				seen = strcmp(f->valuestring, e->valuestring) == 0;
			if (seen)
				continue;
			if (strchr(e->valuestring, '/') ||
			    !file_exists(JOIN(shard, dir, e->valuestring))) {
				st = fvl_fail(FVL_STATUS_NOT_FOUND,
				              "%s names shard '%s', which is missing "
				              "from %s",
				              path, e->valuestring, dir);
				break;
			}
			if ((st = ckpt_add_safetensors(ck, shard)) != FVL_STATUS_OK)
				break;
		}
		cfg_free(&idx);
		return st;
	}
	if (file_exists(JOIN(path, dir, "model.safetensors")))
		return ckpt_add_safetensors(ck, path);
	if (file_exists(JOIN(path, dir, "pytorch_model.bin")))
		return ckpt_add_torch(ck, path);
	if (!required)
		return FVL_STATUS_NOT_FOUND;
	return fvl_fail(FVL_STATUS_NOT_FOUND,
	                "%s: no weights (expected model.safetensors, "
	                "model.safetensors.index.json with its shards, or pytorch_model.bin)",
	                dir);
}

/* ---- metadata helpers ------------------------------------------------------------------------ */

static enum fvl_status
set_u32_arr(struct fvl_gguf_writer *w, const char *key, const int64_t *v, int n)
{
	uint32_t u[MAX_STAGES];
	for (int i = 0; i < n; i++)
		u[i] = (uint32_t)v[i];
	return fvl_gguf_writer_set_arr(w, key, FVL_GGUF_TYPE_UINT32, u, (uint64_t)n);
}

static enum fvl_status
set_f32_arr(struct fvl_gguf_writer *w, const char *key, const double *v, int n)
{
	float f[256];
	for (int i = 0; i < n && i < 256; i++)
		f[i] = (float)v[i];
	return fvl_gguf_writer_set_arr(w, key, FVL_GGUF_TYPE_FLOAT32, f, (uint64_t)n);
}

/* An int array of 1..MAX_STAGES entries, all within [lo, hi]. */
static enum fvl_status cfg_ints(const struct cfg *c, const cJSON *obj, const char *key,
                                int64_t *out, int *n, int64_t lo, int64_t hi)
{
	const cJSON *a = cfg_get(obj, key), *e;
	int i = 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > MAX_STAGES)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' is not an array of 1..%d integers",
		                c->path, key, MAX_STAGES);
	cJSON_ArrayForEach (e, a) {
		double d = cJSON_IsNumber(e) ? e->valuedouble
		           : cJSON_IsBool(e) ? cJSON_IsTrue(e)
		                             : NAN;
		if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: '%s'[%d] is not an integer in %lld..%lld", c->path,
			                key, i, (long long)lo, (long long)hi);
		out[i++] = (int64_t)d;
	}
	if (*n && i != *n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' has %d entries, expected %d",
		                c->path, key, i, *n);
	*n = i;
	return FVL_STATUS_OK;
}

/* Positive integer config value in 1..hi. */
static enum fvl_status
cfg_dim(const struct cfg *c, const cJSON *obj, const char *key, int64_t hi, int64_t *out)
{
	enum fvl_status st = cfg_int(c, obj, key, out);
	if (st == FVL_STATUS_OK && (*out < 1 || *out > hi))
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' = %lld is outside 1..%lld", c->path,
		                key, (long long)*out, (long long)hi);
	return st;
}

/* ---- Florence-2: DaViT, image projection, BART encoder and decoder ---------------------------- */

struct f2 {
	int n_stages;
	int64_t dim[MAX_STAGES], depth[MAX_STAGES], heads[MAX_STAGES], groups[MAX_STAGES];
	int64_t patch[MAX_STAGES], stride[MAX_STAGES], pad[MAX_STAGES], prenorm[MAX_STAGES];
	int64_t window, proj_dim, pos_max, temporal_max;
	int64_t d_model, enc_layers, dec_layers, enc_heads, dec_heads, enc_ffn, dec_ffn, vocab,
	        max_pos;
};

/* The first of keys that obj has (NULL-terminated list), or the first key when none. */
static const char *first_key(const cJSON *obj, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++)
		if (cfg_get(obj, keys[i]))
			return keys[i];
	return keys[0];
}

static enum fvl_status f2_read_config(const struct cfg *c, struct f2 *f, struct fvl_gguf_writer *w)
{
	const cJSON *v = cfg_get(c->root, "vision_config"), *t = cfg_get(c->root, "text_config");
	enum fvl_status st;
	int n = 0;
	const char *act = NULL;
	bool scale_emb, norm_before;
	int64_t bos, eos, pad, dstart;
	double mlp_ratio;
	/* Microsoft's config names, then transformers-native ones */
	static const char *const k_dim[] = {"dim_embed", "embed_dim", NULL};
	static const char *const k_pos[] = {"image_pos_embed.max_pos_embeddings",
	                                    "max_position_embeddings", "max_pos_embeddings", NULL};
	static const char *const k_tmp[] = {"visual_temporal_embedding.max_temporal_embeddings",
	                                    "max_temporal_embeddings", NULL};

	if (!cJSON_IsObject(v) || !cJSON_IsObject(t))
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: vision_config or text_config is missing",
		                c->path);
	if ((st = cfg_ints(c, v, first_key(v, k_dim), f->dim, &n, 1, 1 << 16)) ||
	    (st = cfg_ints(c, v, "depths", f->depth, &n, 1, 64)) ||
	    (st = cfg_ints(c, v, "num_heads", f->heads, &n, 1, 1024)) ||
	    (st = cfg_ints(c, v, "num_groups", f->groups, &n, 1, 1024)) ||
	    (st = cfg_ints(c, v, "patch_size", f->patch, &n, 1, 64)) ||
	    (st = cfg_ints(c, v, "patch_stride", f->stride, &n, 1, 64)) ||
	    (st = cfg_ints(c, v, "patch_padding", f->pad, &n, 0, 64)) ||
	    (st = cfg_ints(c, v, "patch_prenorm", f->prenorm, &n, 0, 1)) ||
	    (st = cfg_dim(c, v, "window_size", 1024, &f->window)) ||
	    (st = cfg_dim(c, v, "projection_dim", 1 << 16, &f->proj_dim)) ||
	    (st = cfg_int_or(c, v, first_key(v, k_pos), 50, &f->pos_max)) ||
	    (st = cfg_int_or(c, v, first_key(v, k_tmp), 100, &f->temporal_max)) ||
	    (st = cfg_num_or(c, v, "mlp_ratio", 4.0, &mlp_ratio)))
		return st;
	if (mlp_ratio != 4.0)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: vision_config.mlp_ratio %g (Florence-2's "
		                "DaViT has 4)",
		                c->path, mlp_ratio);
	f->n_stages = n;
	for (int i = 0; i < n; i++)
		if (f->dim[i] % f->heads[i] || f->dim[i] % f->groups[i])
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: stage %d: dim %lld is not a multiple "
			                "of its heads and groups",
			                c->path, i, (long long)f->dim[i]);
	if (f->dim[n - 1] % 2)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: the last DaViT dim must be even",
		                c->path);
	/* image_feature_source: the pools of _encode_image, in order [14.1]. */
	const cJSON *src = cfg_get(v, "image_feature_source"), *e;
	const char *pools[4] = {"spatial_avg_pool", "temporal_avg_pool"};
	uint64_t n_pools = 0;
	/* transformers' native model has no such field: it always pools both ways, in this order */
	if (!src)
		n_pools = 2;
	else if (!cJSON_IsArray(src) || cJSON_GetArraySize(src) < 1 || cJSON_GetArraySize(src) > 4)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: vision_config.image_feature_source is not a "
		                "list of 1..4 pools",
		                c->path);
	cJSON_ArrayForEach (e, src) {
		if (!cJSON_IsString(e) || (strcmp(e->valuestring, "spatial_avg_pool") &&
		                           strcmp(e->valuestring, "temporal_avg_pool")))
			return fvl_fail(FVL_STATUS_UNSUPPORTED,
			                "%s: image_feature_source entry '%s' "
			                "(fvl knows spatial_avg_pool and temporal_avg_pool)",
			                c->path, cJSON_IsString(e) ? e->valuestring : "?");
		pools[n_pools++] = e->valuestring;
	}
	if ((st = cfg_dim(c, t, "d_model", 1 << 16, &f->d_model)) ||
	    (st = cfg_dim(c, t, "encoder_layers", 256, &f->enc_layers)) ||
	    (st = cfg_dim(c, t, "decoder_layers", 256, &f->dec_layers)) ||
	    (st = cfg_dim(c, t, "encoder_attention_heads", 1024, &f->enc_heads)) ||
	    (st = cfg_dim(c, t, "decoder_attention_heads", 1024, &f->dec_heads)) ||
	    (st = cfg_dim(c, t, "encoder_ffn_dim", 1 << 20, &f->enc_ffn)) ||
	    (st = cfg_dim(c, t, "decoder_ffn_dim", 1 << 20, &f->dec_ffn)) ||
	    (st = cfg_dim(c, t, "vocab_size", 1 << 24, &f->vocab)) ||
	    (st = cfg_dim(c, t, "max_position_embeddings", 1 << 20, &f->max_pos)) ||
	    (st = cfg_str(c, t, "activation_function", &act)) ||
	    (st = cfg_bool_or(c, t, "scale_embedding", false, &scale_emb)) ||
	    (st = cfg_bool_or(c, t, "normalize_before", false, &norm_before)) ||
	    (st = cfg_int_or(c, t, "bos_token_id", 0, &bos)) ||
	    (st = cfg_int_or(c, t, "eos_token_id", 2, &eos)) ||
	    (st = cfg_int_or(c, t, "pad_token_id", 1, &pad)) ||
	    (st = cfg_int_or(c, t, "decoder_start_token_id", 2, &dstart)))
		return st;
	if (strcmp(act, "gelu") != 0)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: activation_function '%s' (fvl runs "
		                "Florence-2's 'gelu')",
		                c->path, act);
	if (norm_before)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: normalize_before = true (Florence-2 is "
		                "post-LN)",
		                c->path);
	if (f->d_model % f->enc_heads || f->d_model % f->dec_heads)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: d_model is not a multiple of the heads",
		                c->path);
	if ((st = set_u32_arr(w, FVL_KEY_V_DIM_EMBED, f->dim, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_DEPTHS, f->depth, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_NUM_HEADS, f->heads, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_NUM_GROUPS, f->groups, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_PATCH_SIZE, f->patch, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_PATCH_STRIDE, f->stride, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_PATCH_PADDING, f->pad, n)) ||
	    (st = set_u32_arr(w, FVL_KEY_V_PATCH_PRENORM, f->prenorm, n)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_V_WINDOW_SIZE, (uint32_t)f->window)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_V_MLP_RATIO, 4)) ||
	    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_V_LAYER_NORM_EPS, 1e-5f)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_V_PROJECTION_DIM, (uint32_t)f->proj_dim)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_V_POS_EMBED_MAX, (uint32_t)f->pos_max)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_V_TEMPORAL_MAX, (uint32_t)f->temporal_max)) ||
	    (st = fvl_gguf_writer_set_arr_str(w, FVL_KEY_V_FEATURE_SOURCE, pools, NULL, n_pools)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_D_MODEL, (uint32_t)f->d_model)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_ENC_LAYERS, (uint32_t)f->enc_layers)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_DEC_LAYERS, (uint32_t)f->dec_layers)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_ENC_HEADS, (uint32_t)f->enc_heads)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_DEC_HEADS, (uint32_t)f->dec_heads)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_ENC_FFN, (uint32_t)f->enc_ffn)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_DEC_FFN, (uint32_t)f->dec_ffn)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_VOCAB_SIZE, (uint32_t)f->vocab)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_MAX_POS, (uint32_t)f->max_pos)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_POSITION_OFFSET, 2)) ||
	    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_T_LAYER_NORM_EPS, 1e-5f)) ||
	    (st = fvl_gguf_writer_set_bool(w, FVL_KEY_T_SCALE_EMBEDDING, scale_emb)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_BOS_ID, (int32_t)bos)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_EOS_ID, (int32_t)eos)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_PAD_ID, (int32_t)pad)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_DEC_START_ID, (int32_t)dstart)))
		return st;
	return FVL_STATUS_OK;
}

/* The search HF generate runs by default, for the keys of GenerationConfig fvl uses. */
struct f2_gen {
	int64_t num_beams, ngram, fbos, feos;
	bool early;
};

/* Reads the generation keys present in obj over g (null values count as absent); only_unset:
 * only where g still holds GenerationConfig's default. */
static enum fvl_status
gen_read(const struct cfg *c, const cJSON *obj, struct f2_gen *g, bool only_unset)
{
	const struct {
		const char *key;
		int64_t *field, def;
	} ints[] = {
	        {"num_beams", &g->num_beams, 1},
	        {"no_repeat_ngram_size", &g->ngram, 0},
	        {"forced_bos_token_id", &g->fbos, -1},
	        {"forced_eos_token_id", &g->feos, -1},
	};
	enum fvl_status st;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		const cJSON *j = cfg_get(obj, ints[i].key);
		if (!j || cJSON_IsNull(j) || (only_unset && *ints[i].field != ints[i].def))
			continue;
		if ((st = cfg_int(c, obj, ints[i].key, ints[i].field)))
			return st;
	}
	const cJSON *j = cfg_get(obj, "early_stopping");
	if (j && !cJSON_IsNull(j) && !(only_unset && g->early))
		return cfg_bool_or(c, obj, "early_stopping", false, &g->early);
	return FVL_STATUS_OK;
}

/* Florence-2's default search. Microsoft's remote code generates through its inner language model,
 * whose generation config is GenerationConfig.from_model_config(text_config): text_config's
 * values, whatever generation_config.json says. transformers' native model uses its own:
 * generation_config.json when there is one, else from_model_config(config) (the top level, then
 * text_config for what is still unset). */
static enum fvl_status
f2_read_generation(const struct cfg *c, const char *dir, bool native, struct fvl_gguf_writer *w)
{
	char path[1024];
	struct f2_gen g = {1, 0, -1, -1, false};
	struct cfg gc;
	const char *source = "config.json text_config";
	const cJSON *t = cfg_get(c->root, "text_config");
	enum fvl_status st = FVL_STATUS_OK;
	if (!native) {
		st = gen_read(c, t, &g, false);
	} else if ((st = cfg_load(&gc, JOIN(path, dir, "generation_config.json"))) ==
	           FVL_STATUS_OK) {
		source = "generation_config.json";
		st = gen_read(&gc, gc.root, &g, false);
		cfg_free(&gc);
	} else if (st == FVL_STATUS_NOT_FOUND) {
		fvl_error_clear();
		source = "config.json";
		if ((st = gen_read(c, c->root, &g, false)) == FVL_STATUS_OK)
			st = gen_read(c, t, &g, true);
	}
	if (st != FVL_STATUS_OK)
		return st;
	if (g.num_beams < 1 || g.num_beams > 64 || g.ngram < 0 || g.ngram > 64)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: num_beams %lld, no_repeat_ngram_size %lld "
		                "(fvl runs 1..64 beams and n-grams up to 64)",
		                source, (long long)g.num_beams, (long long)g.ngram);
	if ((st = fvl_gguf_writer_set_u32(w, FVL_KEY_F2_GEN_NUM_BEAMS, (uint32_t)g.num_beams)) ||
	    (st = fvl_gguf_writer_set_bool(w, FVL_KEY_F2_GEN_EARLY_STOP, g.early)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_F2_GEN_SOURCE, source)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_T_NO_REPEAT_NGRAM, (uint32_t)g.ngram)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_FORCED_BOS_ID, (int32_t)g.fbos)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_T_FORCED_EOS_ID, (int32_t)g.feos)))
		return st;
	return FVL_STATUS_OK;
}

/* preprocessor_config.json: size, resample, rescale, mean/std [2, 14.5]. */
static enum fvl_status
read_preprocessor(const char *path, const char *aspect, struct fvl_gguf_writer *w)
{
	struct cfg c;
	int64_t h, wd, resample;
	double mean[3], std[3], rescale;
	bool do_norm, do_rescale;
	enum fvl_status st = cfg_load(&c, path);
	if (st != FVL_STATUS_OK)
		return st;
	if ((st = cfg_dim(&c, c.root, "size.height", 16384, &h)) ||
	    (st = cfg_dim(&c, c.root, "size.width", 16384, &wd)) ||
	    (st = cfg_int_or(&c, c.root, "resample", 3, &resample)) ||
	    (st = cfg_num_array(&c, c.root, "image_mean", mean, 3)) ||
	    (st = cfg_num_array(&c, c.root, "image_std", std, 3)) ||
	    (st = cfg_num_or(&c, c.root, "rescale_factor", 1.0 / 255.0, &rescale)) ||
	    (st = cfg_bool_or(&c, c.root, "do_normalize", true, &do_norm)) ||
	    (st = cfg_bool_or(&c, c.root, "do_rescale", true, &do_rescale)))
		goto done;
	if (resample != 3) {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED,
		              "%s: resample %lld (fvl implements PIL's "
		              "bicubic, 3)",
		              path, (long long)resample);
		goto done;
	}
	for (int i = 0; i < 3; i++)
		if (!(std[i] > 0)) {
			st = fvl_fail(FVL_STATUS_BAD_FILE, "%s: image_std[%d] is not positive",
			              path, i);
			goto done;
		}
	/* LLaVA's expand2square fill: tuple(int(x * 255) for x in image_mean) [2]. */
	uint8_t fill[3];
	for (int i = 0; i < 3; i++)
		fill[i] = (uint8_t)(mean[i] * 255.0);
	if (!do_norm)
		for (int i = 0; i < 3; i++)
			mean[i] = 0.0, std[i] = 1.0;
	if ((st = fvl_gguf_writer_set_u32(w, FVL_KEY_PRE_HEIGHT, (uint32_t)h)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_PRE_WIDTH, (uint32_t)wd)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_PRE_RESAMPLE, "bicubic")) ||
	    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_PRE_RESCALE,
	                                  do_rescale ? (float)rescale : 1.0f)) ||
	    (st = set_f32_arr(w, FVL_KEY_PRE_MEAN, mean, 3)) ||
	    (st = set_f32_arr(w, FVL_KEY_PRE_STD, std, 3)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_PRE_ASPECT, aspect)) ||
	    (st = fvl_gguf_writer_set_arr(w, FVL_KEY_PRE_FILL, FVL_GGUF_TYPE_UINT8, fill, 3)))
		goto done;
done:
	cfg_free(&c);
	return st;
}

static enum fvl_status f2_plan_davit(struct plan *p, const struct f2 *f, const struct f2_src *from)
{
	char src[256], orig[256], dst[FVL_GGUF_MAX_NAME + 1];
	enum fvl_status st;
	uint64_t cin = 3;
#define S(fmt, ...)                                                                                \
	(snprintf(orig, sizeof(orig), fmt, __VA_ARGS__), f2_name(from, src, sizeof(src), orig))
#define D(fmt, ...) (snprintf(dst, sizeof(dst), fmt, __VA_ARGS__), dst)
	for (int i = 0; i < f->n_stages; i++) {
		uint64_t c = (uint64_t)f->dim[i], k = (uint64_t)f->patch[i],
		         nc = f->prenorm[i] ? cin : c;
		if ((st = ADD(p, D(FVL_TN_V_CONV FVL_W, (size_t)i), TCLASS_VISION, false,
		              S("vision_tower.convs.%d.proj.weight", i), c, cin, k, k)) ||
		    (st = ADD(p, D(FVL_TN_V_CONV FVL_B, (size_t)i), TCLASS_KEEP_F32, false,
		              S("vision_tower.convs.%d.proj.bias", i), c)) ||
		    (st = ADD(p, D(FVL_TN_V_CONV_NORM FVL_W, (size_t)i), TCLASS_KEEP_F32, false,
		              S("vision_tower.convs.%d.norm.weight", i), nc)) ||
		    (st = ADD(p, D(FVL_TN_V_CONV_NORM FVL_B, (size_t)i), TCLASS_KEEP_F32, false,
		              S("vision_tower.convs.%d.norm.bias", i), nc)))
			return st;
		for (int j = 0; j < f->depth[i]; j++) {
			static const char *const blk[2] = {"spatial_block", "channel_block"};
			static const char *const attn[2] = {"window_attn", "channel_attn"};
			static const char *const tag[2] = {FVL_TN_V_SPATIAL, FVL_TN_V_CHANNEL};
			for (int b = 0; b < 2; b++) {
				const char *h = blk[b], *a = attn[b], *t = tag[b];
				const char *bp = "vision_tower.blocks";
				if ((st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_DW1 FVL_W, (size_t)i, (size_t)j,
				                t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.conv1.fn.dw.weight", bp, i, j, h), c,
				              1, 3, 3)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_DW1 FVL_B, (size_t)i, (size_t)j,
				                t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.conv1.fn.dw.bias", bp, i, j, h), c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_NORM FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.%s.norm.weight", bp, i, j, h, a),
				              c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_NORM FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.%s.norm.bias", bp, i, j, h, a), c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_QKV FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_VISION, false,
				              S("%s.%d.%d.%s.%s.fn.qkv.weight", bp, i, j, h, a),
				              3 * c, c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_QKV FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.%s.fn.qkv.bias", bp, i, j, h, a),
				              3 * c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_OUT FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_VISION, false,
				              S("%s.%d.%d.%s.%s.fn.proj.weight", bp, i, j, h, a), c,
				              c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_ATTN_OUT FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.%s.fn.proj.bias", bp, i, j, h, a),
				              c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_DW2 FVL_W, (size_t)i, (size_t)j,
				                t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.conv2.fn.dw.weight", bp, i, j, h), c,
				              1, 3, 3)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_DW2 FVL_B, (size_t)i, (size_t)j,
				                t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.conv2.fn.dw.bias", bp, i, j, h), c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_NORM FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.ffn.norm.weight", bp, i, j, h), c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_NORM FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.ffn.norm.bias", bp, i, j, h), c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_UP FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_VISION, false,
				              S("%s.%d.%d.%s.ffn.fn.net.fc1.weight", bp, i, j, h),
				              4 * c, c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_UP FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.ffn.fn.net.fc1.bias", bp, i, j, h),
				              4 * c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_DOWN FVL_W, (size_t)i,
				                (size_t)j, t),
				              TCLASS_VISION, false,
				              S("%s.%d.%d.%s.ffn.fn.net.fc2.weight", bp, i, j, h),
				              c, 4 * c)) ||
				    (st = ADD(p,
				              D(FVL_TN_V_BLK FVL_TN_FFN_DOWN FVL_B, (size_t)i,
				                (size_t)j, t),
				              TCLASS_KEEP_F32, false,
				              S("%s.%d.%d.%s.ffn.fn.net.fc2.bias", bp, i, j, h),
				              c)))
					return st;
			}
		}
		cin = c;
	}
	/* _encode_image [4]: image_projection is (in, out) and used as x @ W: stored transposed
	 * so that, like every other linear, a row holds one output's weights (the native layout
	 * keeps it as a Linear already: (out, in)). */
	uint64_t dl = (uint64_t)f->dim[f->n_stages - 1], pd = (uint64_t)f->proj_dim;
	const uint64_t ip_shape[2] = {from->native ? pd : dl, from->native ? dl : pd};
	if ((st = plan_add(p, FVL_TN_V_IMG_PROJ FVL_W, TCLASS_VISION, !from->native, 2, ip_shape,
	                   S("%s", "image_projection"), NULL)) ||
	    (st = ADD(p, FVL_TN_V_IMG_PROJ_NORM FVL_W, TCLASS_KEEP_F32, false,
	              S("%s", "image_proj_norm.weight"), pd)) ||
	    (st = ADD(p, FVL_TN_V_IMG_PROJ_NORM FVL_B, TCLASS_KEEP_F32, false,
	              S("%s", "image_proj_norm.bias"), pd)) ||
	    (st = ADD(p, FVL_TN_V_POS_ROW FVL_W, TCLASS_KEEP_F32, false,
	              S("%s", "image_pos_embed.row_embeddings.weight"), (uint64_t)f->pos_max,
	              dl / 2)) ||
	    (st = ADD(p, FVL_TN_V_POS_COL FVL_W, TCLASS_KEEP_F32, false,
	              S("%s", "image_pos_embed.column_embeddings.weight"), (uint64_t)f->pos_max,
	              dl / 2)))
		return st;
	return FVL_STATUS_OK;
#undef S
#undef D
}

/* An attention's q, k, v and output projections, weights and biases: dst names are blk (a
 * block's prefix) followed by part[0..3]. */
static enum fvl_status f2_plan_attn(struct plan *p, const char *blk, const char *const part[4],
                                    const char *src_pre, uint64_t d)
{
	char src[256], dst[FVL_GGUF_MAX_NAME + 1];
	static const char *const proj[4] = {"q", "k", "v", "out"};
	enum fvl_status st;
	for (int k = 0; k < 4; k++) {
		snprintf(dst, sizeof(dst), "%s%s" FVL_W, blk, part[k]);
		snprintf(src, sizeof(src), "%s.%s_proj.weight", src_pre, proj[k]);
		if ((st = ADD(p, dst, TCLASS_VISION, false, src, d, d)))
			return st;
		snprintf(dst, sizeof(dst), "%s%s" FVL_B, blk, part[k]);
		snprintf(src, sizeof(src), "%s.%s_proj.bias", src_pre, proj[k]);
		if ((st = ADD(p, dst, TCLASS_KEEP_F32, false, src, d)))
			return st;
	}
	return FVL_STATUS_OK;
}

/* A LayerNorm's weight and bias. */
static enum fvl_status add_ln(struct plan *p, const char *dst, const char *src, uint64_t d)
{
	char s[256], n[FVL_GGUF_MAX_NAME + 1];
	enum fvl_status st;
	snprintf(n, sizeof(n), "%s" FVL_W, dst);
	snprintf(s, sizeof(s), "%s.weight", src);
	if ((st = ADD(p, n, TCLASS_KEEP_F32, false, s, d)))
		return st;
	snprintf(n, sizeof(n), "%s" FVL_B, dst);
	snprintf(s, sizeof(s), "%s.bias", src);
	return ADD(p, n, TCLASS_KEEP_F32, false, s, d);
}

/* A biased linear [out, in]. */
static enum fvl_status add_linear(struct plan *p, enum tclass cls, const char *dst, const char *src,
                                  uint64_t out, uint64_t in)
{
	char s[256], n[FVL_GGUF_MAX_NAME + 1];
	enum fvl_status st;
	snprintf(n, sizeof(n), "%s" FVL_W, dst);
	snprintf(s, sizeof(s), "%s.weight", src);
	if ((st = ADD(p, n, cls, false, s, out, in)))
		return st;
	snprintf(n, sizeof(n), "%s" FVL_B, dst);
	snprintf(s, sizeof(s), "%s.bias", src);
	return ADD(p, n, TCLASS_KEEP_F32, false, s, out);
}

static enum fvl_status
f2_plan_bart(struct plan *p, const struct f2 *f, const struct f2_src *from, bool decoder)
{
	char src[256], dst[FVL_GGUF_MAX_NAME + 1], a[256], orig[256];
	enum fvl_status st;
	const uint64_t d = (uint64_t)f->d_model, V = (uint64_t)f->vocab,
	               P = (uint64_t)f->max_pos + 2;
	const char *shared_alts[4];
	char alt[3][256];
	/* `shared` is tied to encoder/decoder embed_tokens and lm_head: any may hold it [9, 14.7]. */
	f2_name(from, src, sizeof(src), "language_model.model.shared.weight");
	f2_name(from, alt[0], sizeof(alt[0]), "language_model.model.encoder.embed_tokens.weight");
	f2_name(from, alt[1], sizeof(alt[1]), "language_model.model.decoder.embed_tokens.weight");
	f2_name(from, alt[2], sizeof(alt[2]), "language_model.lm_head.weight");
	shared_alts[0] = alt[0], shared_alts[1] = alt[1], shared_alts[2] = alt[2],
	shared_alts[3] = NULL;
	if ((st = plan_add(p, FVL_TN_ENC_TOKEN_EMBD, TCLASS_VISION, false, 2,
	                   (const uint64_t[]){V, d}, src, shared_alts)))
		return st;
	static const char *const self_attn[4] = {FVL_TN_ATTN_Q, FVL_TN_ATTN_K, FVL_TN_ATTN_V,
	                                         FVL_TN_ATTN_OUT};
	static const char *const cross_attn[4] = {FVL_TN_CROSS_Q, FVL_TN_CROSS_K, FVL_TN_CROSS_V,
	                                          FVL_TN_CROSS_OUT};
	const char *const parts[2] = {"encoder", "decoder"};
	for (int part = 0; part < (decoder ? 2 : 1); part++) {
		int64_t layers = part ? f->dec_layers : f->enc_layers;
		uint64_t ffn = (uint64_t)(part ? f->dec_ffn : f->enc_ffn);
		snprintf(orig, sizeof(orig), "language_model.model.%s.embed_positions.weight",
		         parts[part]);
		f2_name(from, src, sizeof(src), orig);
		if ((st = ADD(p, part ? FVL_TN_DEC_POS_EMBD : FVL_TN_ENC_POS_EMBD, TCLASS_KEEP_F32,
		              false, src, P, d)))
			return st;
		snprintf(orig, sizeof(orig), "language_model.model.%s.layernorm_embedding",
		         parts[part]);
		f2_name(from, src, sizeof(src), orig);
		if ((st = add_ln(p, part ? FVL_TN_DEC_EMBD_NORM : FVL_TN_ENC_EMBD_NORM, src, d)))
			return st;
		for (int64_t l = 0; l < layers; l++) {
			char blk[64];
			snprintf(blk, sizeof(blk), part ? FVL_TN_DEC_BLK : FVL_TN_ENC_BLK,
			         (size_t)l);
			snprintf(orig, sizeof(orig), "language_model.model.%s.layers.%lld",
			         parts[part], (long long)l);
			f2_name(from, a, sizeof(a), orig);
			snprintf(src, sizeof(src), "%s.self_attn", a);
			if ((st = f2_plan_attn(p, blk, self_attn, src, d)))
				return st;
			snprintf(dst, sizeof(dst), "%s" FVL_TN_ATTN_NORM, blk);
			snprintf(src, sizeof(src), "%s.self_attn_layer_norm", a);
			if ((st = add_ln(p, dst, src, d)))
				return st;
			if (part) {
				snprintf(src, sizeof(src), "%s.encoder_attn", a);
				if ((st = f2_plan_attn(p, blk, cross_attn, src, d)))
					return st;
				snprintf(dst, sizeof(dst), "%s" FVL_TN_CROSS_NORM, blk);
				snprintf(src, sizeof(src), "%s.encoder_attn_layer_norm", a);
				if ((st = add_ln(p, dst, src, d)))
					return st;
			}
			snprintf(dst, sizeof(dst), "%s" FVL_TN_FFN_UP, blk);
			snprintf(src, sizeof(src), "%s.fc1", a);
			if ((st = add_linear(p, TCLASS_VISION, dst, src, ffn, d)))
				return st;
			snprintf(dst, sizeof(dst), "%s" FVL_TN_FFN_DOWN, blk);
			snprintf(src, sizeof(src), "%s.fc2", a);
			if ((st = add_linear(p, TCLASS_VISION, dst, src, d, ffn)))
				return st;
			snprintf(dst, sizeof(dst), "%s" FVL_TN_FFN_NORM, blk);
			snprintf(src, sizeof(src), "%s.final_layer_norm", a);
			if ((st = add_ln(p, dst, src, d)))
				return st;
		}
	}
	if (!decoder)
		return FVL_STATUS_OK;
	/* final_logits_bias: the native model has none (its real checkpoints had it all zero);
	 * the runtime adds nothing then */
	f2_name(from, src, sizeof(src), "language_model.final_logits_bias");
	if ((!from->native || ckpt_find(p->ck, src)) &&
	    (st = ADD(p, FVL_TN_DEC_LOGITS_BIAS, TCLASS_KEEP_F32, false, src, 1, V)))
		return st;
	/* lm_head is tied to shared; a checkpoint whose lm_head differs keeps its own. */
	const struct ckpt_tensor *head = ckpt_find(p->ck, alt[2]);
	const struct ckpt_tensor *shared = NULL;
	for (uint32_t i = 0; i < p->n && !shared; i++)
		if (strcmp(p->t[i].name, FVL_TN_ENC_TOKEN_EMBD) == 0)
			shared = &p->t[i].src;
	if (head && shared && !ckpt_same_data(head, shared))
		return ADD(p, FVL_TN_DEC_OUTPUT, TCLASS_VISION, false, alt[2], V, d);
	return FVL_STATUS_OK;
}

static enum fvl_status plan_florence2(const struct convert_opts *o, struct plan *p,
                                      struct fvl_gguf_writer *w, const char *cfg_dir,
                                      const struct f2_src *from, bool decoder, const char *aspect)
{
	char path[1024];
	struct cfg c;
	struct f2 f;
	enum fvl_status st = cfg_load(&c, JOIN(path, cfg_dir, "config.json"));
	if (st != FVL_STATUS_OK)
		return st;
	memset(&f, 0, sizeof(f));
	st = f2_read_config(&c, &f, w);
	if (st == FVL_STATUS_OK)
		st = f2_read_generation(&c, cfg_dir, from->native, w);
	cfg_free(&c);
	if (st == FVL_STATUS_OK)
		st = fvl_gguf_writer_set_str(w, FVL_KEY_F2_LAYOUT,
		                             from->native      ? "transformers"
		                             : from->prefix[0] ? FVL_ARCH_FLORENCE_VL
		                                               : "microsoft");
	if (st == FVL_STATUS_OK)
		st = read_preprocessor(JOIN(path, cfg_dir, "preprocessor_config.json"), aspect, w);
	if (st == FVL_STATUS_OK)
		st = f2_plan_davit(p, &f, from);
	if (st == FVL_STATUS_OK)
		st = f2_plan_bart(p, &f, from, decoder);
	if (st == FVL_STATUS_OK)
		st = fvl_gguf_writer_set_bool(w, FVL_KEY_F2_HAS_DECODER, decoder);
	/* The Florence-2 tokenizer with the processor's 1,024 tokens [12, 14.9]: appended to a plain
	 * BART tokenizer.json, matched by content in a processor-saved one. The vocabulary must be
	 * exactly that, or (transformers' native layout, which adds <image> and pads the embedding
	 * to a multiple of 64) those tokens padded up to the next multiple of 64. */
	const char **extra = NULL;
	uint32_t n_extra = tok_florence2_extra(&extra), n_tok = 0, n_new = 0;
	if (st == FVL_STATUS_OK && n_extra == 0)
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (st == FVL_STATUS_OK)
		st = tok_write_json(w, FVL_TOK_FLORENCE, JOIN(path, cfg_dir, "tokenizer.json"),
		                    extra, n_extra, (uint32_t)f.vocab, &n_tok, &n_new);
	tok_florence2_extra_free(extra);
	const uint64_t vocab = (uint64_t)f.vocab, padded = ((uint64_t)n_tok + 63) / 64 * 64;
	if (st == FVL_STATUS_OK && n_tok != vocab && !(from->native && padded == vocab))
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              "%s: the tokenizer holds %u tokens with the "
		              "processor's 1,024 (%u of them added here), the model's vocab_size "
		              "is %lld%s",
		              path, n_tok, n_new, (long long)f.vocab,
		              from->native ? " (nor is it those padded to a multiple of 64)" : "");
	/* Task prompts of Florence-2's processor [12]. */
	static const char *const tasks[] = {
	        "<OCR>",
	        "What is the text in the image?",
	        "<OCR_WITH_REGION>",
	        "What is the text in the image, with regions?",
	        "<CAPTION>",
	        "What does the image describe?",
	        "<DETAILED_CAPTION>",
	        "Describe in detail what is shown in the image.",
	        "<MORE_DETAILED_CAPTION>",
	        "Describe with a paragraph what is shown in the image.",
	        "<OD>",
	        "Locate the objects with category name in the image.",
	        "<DENSE_REGION_CAPTION>",
	        "Locate the objects in the image, with their descriptions.",
	        "<REGION_PROPOSAL>",
	        "Locate the region proposals in the image.",
	        "<CAPTION_TO_PHRASE_GROUNDING>",
	        "Locate the phrases in the caption: {input}",
	        "<REFERRING_EXPRESSION_SEGMENTATION>",
	        "Locate {input} in the image with mask",
	        "<REGION_TO_SEGMENTATION>",
	        "What is the polygon mask of region {input}",
	        "<OPEN_VOCABULARY_DETECTION>",
	        "Locate {input} in the image.",
	        "<REGION_TO_CATEGORY>",
	        "What is the region {input}?",
	        "<REGION_TO_DESCRIPTION>",
	        "What does the region {input} describe?",
	        "<REGION_TO_OCR>",
	        "What text is in the region {input}?",
	};
	const char *names[16], *texts[16];
	uint64_t nt = sizeof(tasks) / sizeof(tasks[0]) / 2;
	for (uint64_t i = 0; i < nt; i++)
		names[i] = tasks[2 * i], texts[i] = tasks[2 * i + 1];
	if (st == FVL_STATUS_OK)
		st = fvl_gguf_writer_set_arr_str(w, FVL_KEY_F2_TASK_NAMES, names, NULL, nt);
	if (st == FVL_STATUS_OK)
		st = fvl_gguf_writer_set_arr_str(w, FVL_KEY_F2_TASK_PROMPTS, texts, NULL, nt);
	(void)o;
	return st;
}

/* ---- Florence-VL: projector and LLM --------------------------------------------------------- */

static const char phi3_template[] =
        "<|system|>\nYou are a helpful AI assistant.<|end|>\n<|user|>\n{query}<|end|>\n"
        "<|assistant|>\n";
static const char llama3_template[] =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nA chat between a curious "
        "user and an artificial intelligence assistant. The assistant gives helpful, detailed, and "
        "polite answers to the user's questions.<|eot_id|><|start_header_id|>user<|end_header_id|>"
        "\n\n{query}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

/* The three Florence-2 task prompts Florence-VL encodes with every image, padded to 14 with
 * id 1: <DETAILED_CAPTION>, <OCR>, <DENSE_REGION_CAPTION> [6.1, 14.3]. */
static const int32_t fvl_prompt_ids[3][14] = {
        {0, 47066, 21700, 11, 4617, 99, 16, 2343, 11, 5, 2274, 4, 2, 1},
        {0, 2264, 16, 5, 2788, 11, 5, 2274, 116, 2, 1, 1, 1, 1},
        {0, 574, 22486, 5, 8720, 11, 5, 2274, 6, 19, 49, 24173, 4, 2},
};

struct llm {
	bool phi3;
	int64_t H, L, nh, nkv, hd, F, V, ctx, max_pos, orig_pos;
	double eps, theta;
};

static enum fvl_status llm_read_rope(const struct cfg *c, struct llm *m, struct fvl_gguf_writer *w)
{
	const cJSON *rs = cfg_get(c->root, "rope_scaling");
	enum fvl_status st;
	const char *type = NULL;
	if (!rs || cJSON_IsNull(rs))
		return fvl_gguf_writer_set_str(w, FVL_KEY_ROPE_SCALING_TYPE, "none");
	if ((st = cfg_str(c, rs, "rope_type", &type)) == FVL_STATUS_NOT_FOUND)
		st = cfg_str(c, rs, "type", &type);
	if (st != FVL_STATUS_OK)
		return st;
	if (strcmp(type, "longrope") == 0 || strcmp(type, "su") == 0) {
		int n = (int)(m->hd / 2);
		double sf[256], lf[256];
		if (n > 256)
			return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: head_dim %lld", c->path,
			                (long long)m->hd);
		if ((st = cfg_num_array(c, rs, "short_factor", sf, n)) ||
		    (st = cfg_num_array(c, rs, "long_factor", lf, n)))
			return st;
		/* cos/sin scale when the context was extended [8, 14.8]. */
		double scale = 1.0;
		if (m->max_pos > m->orig_pos)
			scale = sqrt(1.0 + log((double)m->max_pos / (double)m->orig_pos) /
			                           log((double)m->orig_pos));
		if ((st = fvl_gguf_writer_set_str(w, FVL_KEY_ROPE_SCALING_TYPE, "longrope")) ||
		    (st = set_f32_arr(w, FVL_KEY_ROPE_SHORT_FACTOR, sf, n)) ||
		    (st = set_f32_arr(w, FVL_KEY_ROPE_LONG_FACTOR, lf, n)) ||
		    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_ROPE_ATTN_FACTOR, (float)scale)))
			return st;
		return FVL_STATUS_OK;
	}
	if (strcmp(type, "llama3") == 0) {
		double factor, lo, hi;
		int64_t orig;
		if ((st = cfg_num(c, rs, "factor", &factor)) ||
		    (st = cfg_num(c, rs, "low_freq_factor", &lo)) ||
		    (st = cfg_num(c, rs, "high_freq_factor", &hi)) ||
		    (st = cfg_int(c, rs, "original_max_position_embeddings", &orig)))
			return st;
		if ((st = fvl_gguf_writer_set_str(w, FVL_KEY_ROPE_SCALING_TYPE, "llama3")) ||
		    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_ROPE_FACTOR, (float)factor)) ||
		    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_ROPE_LOW_FREQ, (float)lo)) ||
		    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_ROPE_HIGH_FREQ, (float)hi)) ||
		    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_ROPE_SCALING_N_CTX, (uint32_t)orig)))
			return st;
		return FVL_STATUS_OK;
	}
	return fvl_fail(FVL_STATUS_UNSUPPORTED,
	                "%s: rope_scaling type '%s' (fvl knows longrope "
	                "and llama3)",
	                c->path, type);
}

/* eos_token_id of generation_config.json (an int or a list), or of config.json. */
static enum fvl_status llm_eos_ids(const char *dir, const struct cfg *c, struct fvl_gguf_writer *w)
{
	char path[1024];
	struct cfg g;
	int32_t ids[16];
	uint64_t n = 0;
	const cJSON *e, *src;
	enum fvl_status st = cfg_load(&g, JOIN(path, dir, "generation_config.json"));
	if (st != FVL_STATUS_OK && st != FVL_STATUS_NOT_FOUND)
		return st;
	src = st == FVL_STATUS_OK ? cfg_get(g.root, "eos_token_id") : NULL;
	if (!src)
		src = cfg_get(c->root, "eos_token_id");
	if (cJSON_IsNumber(src))
		ids[n++] = (int32_t)src->valuedouble;
	else if (cJSON_IsArray(src))
		cJSON_ArrayForEach (e, src)
			if (cJSON_IsNumber(e) && n < 16)
				ids[n++] = (int32_t)e->valuedouble;
	if (st == FVL_STATUS_OK)
		cfg_free(&g);
	fvl_error_clear();
	return fvl_gguf_writer_set_arr(w, FVL_KEY_LLM_EOS_IDS, FVL_GGUF_TYPE_INT32, ids, n);
}

static enum fvl_status plan_llm(const struct convert_opts *o, struct plan *p,
                                struct fvl_gguf_writer *w, const struct cfg *c, bool phi3)
{
	struct llm m = {.phi3 = phi3};
	enum fvl_status st;
	const char *act;
	bool tie;
	int64_t bos;
	if ((st = cfg_dim(c, c->root, "hidden_size", 1 << 16, &m.H)) ||
	    (st = cfg_dim(c, c->root, "num_hidden_layers", 1024, &m.L)) ||
	    (st = cfg_dim(c, c->root, "num_attention_heads", 1024, &m.nh)) ||
	    (st = cfg_int_or(c, c->root, "num_key_value_heads", m.nh, &m.nkv)) ||
	    (st = cfg_dim(c, c->root, "intermediate_size", 1 << 20, &m.F)) ||
	    (st = cfg_dim(c, c->root, "vocab_size", 1 << 24, &m.V)) ||
	    (st = cfg_dim(c, c->root, "max_position_embeddings", 1 << 24, &m.max_pos)) ||
	    (st = cfg_int_or(c, c->root, "original_max_position_embeddings", m.max_pos,
	                     &m.orig_pos)) ||
	    (st = cfg_int_or(c, c->root, "tokenizer_model_max_length", m.max_pos, &m.ctx)) ||
	    (st = cfg_num(c, c->root, "rms_norm_eps", &m.eps)) ||
	    (st = cfg_num_or(c, c->root, "rope_theta", 10000.0, &m.theta)) ||
	    (st = cfg_str(c, c->root, "hidden_act", &act)) ||
	    (st = cfg_bool_or(c, c->root, "tie_word_embeddings", false, &tie)) ||
	    (st = cfg_int_or(c, c->root, "bos_token_id", -1, &bos)))
		return st;
	if ((st = cfg_int_or(c, c->root, "head_dim", m.H / m.nh, &m.hd)))
		return st;
	if (strcmp(act, "silu") != 0)
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: hidden_act '%s' (fvl runs silu)",
		                c->path, act);
	if (m.nkv < 1 || m.nh % m.nkv || m.hd < 2 || m.hd % 2 || m.hd > 512)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: bad attention shape (heads %lld, kv heads "
		                "%lld, head_dim %lld)",
		                c->path, (long long)m.nh, (long long)m.nkv, (long long)m.hd);
	if ((st = fvl_gguf_writer_set_str(w, FVL_KEY_LLM_ARCH, phi3 ? "phi3" : "llama")) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_CTX, (uint32_t)m.ctx)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_MAX_POS, (uint32_t)m.max_pos)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_ROPE_N_CTX_ORIG, (uint32_t)m.orig_pos)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_EMBD, (uint32_t)m.H)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_LAYER, (uint32_t)m.L)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_FF, (uint32_t)m.F)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_HEAD, (uint32_t)m.nh)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_HEAD_KV, (uint32_t)m.nkv)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_EMBD_HEAD, (uint32_t)m.hd)) ||
	    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_LLM_RMS_EPS, (float)m.eps)) ||
	    (st = fvl_gguf_writer_set_f32(w, FVL_KEY_ROPE_FREQ_BASE, (float)m.theta)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_ROPE_N_ROT, (uint32_t)m.hd)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_LLM_N_VOCAB, (uint32_t)m.V)) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_LLM_BOS_ID, (int32_t)bos)) ||
	    (st = llm_read_rope(c, &m, w)) || (st = llm_eos_ids(o->ckpt_dir, c, w)))
		return st;

	const uint64_t H = (uint64_t)m.H, F = (uint64_t)m.F, V = (uint64_t)m.V;
	const uint64_t q = (uint64_t)(m.nh * m.hd), kv = (uint64_t)(m.nkv * m.hd);
	char src[256], dst[FVL_GGUF_MAX_NAME + 1];
	if ((st = ADD(p, FVL_TN_TOKEN_EMBD, TCLASS_EMBED, false, "model.embed_tokens.weight", V,
	              H)))
		return st;
	for (int64_t l = 0; l < m.L; l++) {
#define L_ADD(gg, cls, hf, ...)                                                                    \
	(snprintf(dst, sizeof(dst), FVL_TN_BLK gg, (size_t)l),                                     \
	 snprintf(src, sizeof(src), "model.layers.%lld." hf, (long long)l),                        \
	 ADD(p, dst, cls, false, src, __VA_ARGS__))
		if ((st = L_ADD(FVL_TN_ATTN_NORM FVL_W, TCLASS_KEEP_F32, "input_layernorm.weight",
		                H)) ||
		    (st = L_ADD(FVL_TN_FFN_NORM FVL_W, TCLASS_KEEP_F32,
		                "post_attention_layernorm.weight", H)) ||
		    (st = L_ADD(FVL_TN_ATTN_OUTPUT FVL_W, TCLASS_LLM, "self_attn.o_proj.weight", H,
		                q)) ||
		    (st = L_ADD(FVL_TN_FFN_DOWN FVL_W, TCLASS_LLM, "mlp.down_proj.weight", H, F)))
			return st;
		if (phi3) {
			if ((st = L_ADD(FVL_TN_ATTN_QKV FVL_W, TCLASS_LLM,
			                "self_attn.qkv_proj.weight", q + 2 * kv, H)) ||
			    (st = L_ADD(FVL_TN_FFN_UP FVL_W, TCLASS_LLM, "mlp.gate_up_proj.weight",
			                2 * F, H)))
				return st;
		} else {
			if ((st = L_ADD(FVL_TN_ATTN_Q FVL_W, TCLASS_LLM, "self_attn.q_proj.weight",
			                q, H)) ||
			    (st = L_ADD(FVL_TN_ATTN_K FVL_W, TCLASS_LLM, "self_attn.k_proj.weight",
			                kv, H)) ||
			    (st = L_ADD(FVL_TN_ATTN_V FVL_W, TCLASS_LLM, "self_attn.v_proj.weight",
			                kv, H)) ||
			    (st = L_ADD(FVL_TN_FFN_GATE FVL_W, TCLASS_LLM, "mlp.gate_proj.weight",
			                F, H)) ||
			    (st = L_ADD(FVL_TN_FFN_UP FVL_W, TCLASS_LLM, "mlp.up_proj.weight", F,
			                H)))
				return st;
		}
#undef L_ADD
	}
	if ((st = ADD(p, FVL_TN_OUTPUT_NORM, TCLASS_KEEP_F32, false, "model.norm.weight", H)))
		return st;
	static const char *const tied[] = {"model.embed_tokens.weight", NULL};
	return plan_add(p, FVL_TN_OUTPUT, TCLASS_EMBED, false, 2, (const uint64_t[]){V, H},
	                "lm_head.weight", tie ? tied : NULL);
}

static enum fvl_status plan_projector(const struct convert_opts *o, struct plan *p,
                                      struct fvl_gguf_writer *w, const struct cfg *c, uint64_t H)
{
	const char *type;
	int64_t mm_hidden;
	int depth = 0, used = 0;
	enum fvl_status st;
	if ((st = cfg_str(c, c->root, "mm_projector_type", &type)) ||
	    (st = cfg_dim(c, c->root, "mm_hidden_size", 1 << 16, &mm_hidden)))
		return st;
	/* mlp{N}x_gelu [6.4, 14.4] */
	if (sscanf(type, "mlp%dx_gelu%n", &depth, &used) != 1 || type[used] != '\0' || depth < 1 ||
	    depth > 16)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: mm_projector_type '%s' (fvl runs "
		                "mlpNx_gelu)",
		                c->path, type);
	for (int k = 0; k < depth; k++) {
		char src[128], dst[32];
		if (k == 0)
			snprintf(src, sizeof(src), "model.mm_projector.encoder_mlp.0");
		else
			snprintf(src, sizeof(src), "model.mm_projector.encoder_mlp.%d.1", k);
		snprintf(dst, sizeof(dst), FVL_TN_MM, (size_t)k);
		if ((st = add_linear(p, TCLASS_VISION, dst, src, H,
		                     k == 0 ? 4 * (uint64_t)mm_hidden : H)))
			return st;
	}
	if ((st = fvl_gguf_writer_set_str(w, FVL_KEY_MM_PROJECTOR_TYPE, type)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_MM_DEPTH, (uint32_t)depth)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_MM_HIDDEN_SIZE, (uint32_t)mm_hidden)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_MM_FUSION, "depth_breadth")) ||
	    (st = fvl_gguf_writer_set_bool(w, FVL_KEY_MM_DROP_POOLED, o->drop_pooled_token)))
		return st;
	return FVL_STATUS_OK;
}

/* The LLM tokenizer: tokenizer.model (SentencePiece) gets transformers' slow LlamaTokenizer,
 * which is what Florence-VL loads (use_fast=False) -- unless tokenizer_config.json says the class
 * is PreTrainedTokenizerFast, which has no slow form (Llama-3); tokenizer.json alone gets the
 * fast semantics; --llm-tokenizer decides otherwise [14.11]. */
static enum fvl_status plan_llm_tokenizer(const struct convert_opts *o, struct fvl_gguf_writer *w)
{
	char model[1024], json[1024], path[1024];
	struct stat sb;
	const bool has_model =
	        stat(JOIN(model, o->ckpt_dir, "tokenizer.model"), &sb) == 0 && S_ISREG(sb.st_mode);
	const bool has_json =
	        stat(JOIN(json, o->ckpt_dir, "tokenizer.json"), &sb) == 0 && S_ISREG(sb.st_mode);
	enum llm_tokenizer pick = o->llm_tokenizer;
	if (pick == LLM_TOKENIZER_AUTO) {
		struct cfg tc;
		bool fast_only = false;
		if (cfg_load(&tc, JOIN(path, o->ckpt_dir, "tokenizer_config.json")) ==
		    FVL_STATUS_OK) {
			const cJSON *cls = cfg_get(tc.root, "tokenizer_class");
			fast_only = cJSON_IsString(cls) &&
			            strcmp(cls->valuestring, "PreTrainedTokenizerFast") == 0;
			cfg_free(&tc);
		}
		fvl_error_clear();
		pick = has_model && !(fast_only && has_json) ? LLM_TOKENIZER_SLOW
		                                             : LLM_TOKENIZER_FAST;
	}
	if (pick == LLM_TOKENIZER_SLOW) {
		if (!has_model)
			return fvl_fail(FVL_STATUS_NOT_FOUND,
			                "%s: no tokenizer.model for the slow "
			                "(SentencePiece) LLM tokenizer%s",
			                o->ckpt_dir,
			                has_json ? "; --llm-tokenizer fast uses tokenizer.json"
			                         : "");
		return tok_write_spm(w, FVL_TOK_LLM, model, o->ckpt_dir, NULL);
	}
	if (!has_json)
		return fvl_fail(FVL_STATUS_NOT_FOUND,
		                "%s: no LLM tokenizer (expected tokenizer.model "
		                "or tokenizer.json)%s",
		                o->ckpt_dir,
		                has_model ? "; tokenizer.model is there: drop --llm-tokenizer fast"
		                          : "");
	return tok_write_json(w, FVL_TOK_LLM, json, NULL, 0, 0, NULL, NULL);
}

static enum fvl_status plan_florence_vl(const struct convert_opts *o, struct ckpt *ck,
                                        struct plan *p, struct fvl_gguf_writer *w,
                                        const struct cfg *c, bool phi3)
{
	char vt[1024];
	const char *aspect = "square", *how = "";
	struct f2_src from = {"", false};
	enum fvl_status st;

	/* The Florence-2 configs, processor and tokenizer live in the tower folder [14.10]. */
	if ((st = tower_find(o->ckpt_dir, o->vision_tower, c, vt, sizeof(vt), &how)))
		return st;
	if (!o->quiet)
		fprintf(stderr, "fvl-quant: Florence-2 tower: %s (from %s)\n", vt, how);
	snprintf(p->tower_dir, sizeof(p->tower_dir), "%s", vt);
	/* Its weights: inside the main files under P_F2, else the tower folder's own [14.7]. */
	if ((st = ckpt_index(ck)) != FVL_STATUS_OK)
		return st;
	if (!o->synth && !(f2_detect(ck, &from) && from.prefix[0])) {
		st = load_weights(o, ck, vt, false);
		if (st == FVL_STATUS_NOT_FOUND)
			return fvl_fail(FVL_STATUS_NOT_FOUND,
			                "%s: no Florence-2 weights: none under '%s' "
			                "and no model.safetensors or pytorch_model.bin in %s",
			                o->ckpt_dir, P_F2, vt);
		if (st != FVL_STATUS_OK || (st = ckpt_index(ck)) != FVL_STATUS_OK)
			return st;
		if (!f2_detect(ck, &from))
			return fvl_fail(FVL_STATUS_NOT_FOUND,
			                "%s: the weights there hold no Florence-2 "
			                "(no vision_tower.convs.0.proj.weight)",
			                vt);
	}
	const cJSON *ar = cfg_get(c->root, "image_aspect_ratio");
	if (cJSON_IsString(ar))
		aspect = ar->valuestring;
	if (strcmp(aspect, "pad") != 0 && strcmp(aspect, "square") != 0)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: image_aspect_ratio '%s' (fvl does pad "
		                "and square)",
		                c->path, aspect);
	int64_t H;
	if ((st = cfg_dim(c, c->root, "hidden_size", 1 << 16, &H)))
		return st;
	if ((st = fvl_gguf_writer_set_str(w, FVL_KEY_ARCH, FVL_ARCH_FLORENCE_VL)) ||
	    (st = plan_florence2(o, p, w, vt, &from, !o->no_florence_decoder, aspect)) ||
	    (st = plan_projector(o, p, w, c, (uint64_t)H)) || (st = plan_llm(o, p, w, c, phi3)))
		return st;
	/* Prompt table, chat template and the LLaVA image splice [6.1, 7, 14.2-14.6]. */
	if ((st = fvl_gguf_writer_set_arr(w, FVL_KEY_PROMPTS_IDS, FVL_GGUF_TYPE_INT32,
	                                  fvl_prompt_ids, 3 * 14)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_PROMPTS_COUNT, 3)) ||
	    (st = fvl_gguf_writer_set_u32(w, FVL_KEY_PROMPTS_LENGTH, 14)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_CHAT_TEMPLATE,
	                                  phi3 ? phi3_template : llama3_template)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_CHAT_QUERY, "<image>\n{question}")) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_CHAT_STOP, phi3 ? "<|end|>" : "<|eot_id|>")) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_IMAGE_TOKEN, "<image>")) ||
	    (st = fvl_gguf_writer_set_i32(w, FVL_KEY_IMAGE_TOKEN_ID, -200)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_IMAGE_SPLICE, "llava")))
		return st;
	return plan_llm_tokenizer(o, w);
}

enum fvl_status
arch_plan(const struct convert_opts *o, struct ckpt *ck, struct plan *p, struct fvl_gguf_writer *w)
{
	char path[1024];
	struct cfg c;
	struct f2_src from;
	const char *type;
	enum fvl_status st = cfg_load(&c, JOIN(path, o->ckpt_dir, "config.json"));
	if (st != FVL_STATUS_OK)
		return st;
	if ((st = cfg_str(&c, c.root, "model_type", &type)) != FVL_STATUS_OK)
		goto done;
	if ((st = fvl_gguf_writer_set_u32(w, FVL_KEY_FORMAT_VERSION, FVL_FORMAT_VERSION)) ||
	    (st = fvl_gguf_writer_set_str(w, FVL_KEY_SOURCE_MODEL_TYPE, type)))
		goto done;
	if (strcmp(type, "llava_phi") == 0 || strcmp(type, "llava_llama") == 0) {
		if ((st = load_weights(o, ck, o->ckpt_dir, true)) == FVL_STATUS_OK)
			st = plan_florence_vl(o, ck, p, w, &c, strcmp(type, "llava_phi") == 0);
	} else if (strcmp(type, FVL_ARCH_FLORENCE2) == 0) {
		if ((st = load_weights(o, ck, o->ckpt_dir, true)) == FVL_STATUS_OK &&
		    (st = ckpt_index(ck)) == FVL_STATUS_OK &&
		    (st = fvl_gguf_writer_set_str(w, FVL_KEY_ARCH, FVL_ARCH_FLORENCE2)) ==
		            FVL_STATUS_OK)
			st = o->synth ? (from = (struct f2_src){"", false},
			                 plan_florence2(o, p, w, o->ckpt_dir, &from,
			                                !o->no_florence_decoder, "square"))
			     : f2_detect(ck, &from)
			             ? plan_florence2(o, p, w, o->ckpt_dir, &from,
			                              !o->no_florence_decoder, "square")
			             : fvl_fail(FVL_STATUS_NOT_FOUND,
			                        "%s: no Florence-2 weights (neither "
			                        "vision_tower.convs.0.proj.weight nor the native "
			                        "model.vision_tower.convs.0.conv.weight)",
			                        o->ckpt_dir);
	} else {
		st = fvl_fail(FVL_STATUS_UNSUPPORTED,
		              "%s: unknown model_type '%s' (fvl converts "
		              "llava_phi, llava_llama and florence2)",
		              path, type);
	}
done:
	cfg_free(&c);
	return st;
}
