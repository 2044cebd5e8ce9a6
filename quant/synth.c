/* synth.c — `fvl-quant synth`: a model file with the real shapes and hyperparameters of a released
 * checkpoint and deterministic random weights, for benchmarks and memory tests without a download.
 * The configs below are the public ones (docs/florence-vl-inference.md sections 2, 3, 5, 8); the
 * tokenizers are stand-ins with the real vocabulary sizes and special tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "synth.h"

struct f2_shape {
	const char *dims, *depths, *heads;
	int proj_dim, d_model, layers, text_heads, ffn, max_pos;
};

static const struct f2_shape f2_base = {
        "128, 256, 512, 1024", "1, 1, 9, 1", "4, 8, 16, 32", 768, 768, 6, 12, 3072, 1024};
static const struct f2_shape f2_large = {
        "256, 512, 1024, 2048", "1, 1, 9, 1", "8, 16, 32, 64", 1024, 1024, 12, 16, 4096, 4096};

static const char phi35_short[] =
        "1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842, "
        "1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0499999523162842, "
        "1.0699999332427979, 1.0999999046325684, 1.1099998950958252, 1.1599998474121094, "
        "1.1599998474121094, 1.1699998378753662, 1.2899998426437378, 1.339999794960022, "
        "1.679999828338623, 1.7899998426437378, 1.8199998140335083, 1.8499997854232788, "
        "1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745, "
        "2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346, "
        "2.0199997425079346, 2.0199997425079346, 2.0299997329711914, 2.0299997329711914, "
        "2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, "
        "2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0799996852874756, "
        "2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533, "
        "2.729999542236328, 2.749999523162842, 2.8399994373321533";
static const char phi35_long[] =
        "1.0800000429153442, 1.1100000143051147, 1.1399999856948853, 1.340000033378601, "
        "1.5899999141693115, 1.600000023841858, 1.6200000047683716, 2.620000123977661, "
        "3.2300000190734863, 3.2300000190734863, 4.789999961853027, 7.400000095367432, "
        "7.700000286102295, 9.09000015258789, 12.199999809265137, 17.670000076293945, "
        "24.46000099182129, 28.57000160217285, 30.420001983642578, 30.840002059936523, "
        "32.590003967285156, 32.93000411987305, 42.320003509521484, 44.96000289916992, "
        "50.340003967285156, 50.45000457763672, 57.55000305175781, 57.93000411987305, "
        "58.21000289916992, 60.1400032043457, 62.61000442504883, 62.62000274658203, "
        "62.71000289916992, 63.1400032043457, 63.1400032043457, 63.77000427246094, "
        "63.93000411987305, 63.96000289916992, 63.970001220703125, 64.02999877929688, "
        "64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938, "
        "64.4800033569336, 64.51000213623047, 64.52999877929688, 64.83999633789062";

static bool put_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	bool ok = f && fputs(text, f) >= 0;
	return f ? fclose(f) == 0 && ok : false;
}

static bool write_f2_configs(const char *dir, const struct f2_shape *s, int image_size)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
	         "{\"model_type\": \"florence2\", \"projection_dim\": %d,\n"
	         " \"vision_config\": {\"model_type\": \"davit\", \"dim_embed\": [%s], \"depths\": "
	         "[%s],\n"
	         "  \"num_heads\": [%s], \"num_groups\": [%s], \"patch_size\": [7, 3, 3, 3],\n"
	         "  \"patch_stride\": [4, 2, 2, 2], \"patch_padding\": [3, 1, 1, 1],\n"
	         "  \"patch_prenorm\": [false, true, true, true], \"window_size\": 12,\n"
	         "  \"projection_dim\": %d, \"image_pos_embed\": {\"max_pos_embeddings\": 50},\n"
	         "  \"visual_temporal_embedding\": {\"max_temporal_embeddings\": 100},\n"
	         "  \"image_feature_source\": [\"spatial_avg_pool\", \"temporal_avg_pool\"]},\n"
	         " \"text_config\": {\"vocab_size\": 51289, \"d_model\": %d, \"encoder_layers\": "
	         "%d,\n"
	         "  \"decoder_layers\": %d, \"encoder_attention_heads\": %d, "
	         "\"decoder_attention_heads\": %d,\n"
	         "  \"encoder_ffn_dim\": %d, \"decoder_ffn_dim\": %d, \"max_position_embeddings\": "
	         "%d,\n"
	         "  \"activation_function\": \"gelu\", \"scale_embedding\": false,\n"
	         "  \"no_repeat_ngram_size\": 3, \"decoder_start_token_id\": 2,\n"
	         "  \"forced_bos_token_id\": 0, \"forced_eos_token_id\": 2}}\n",
	         s->proj_dim, s->dims, s->depths, s->heads, s->heads, s->proj_dim, s->d_model,
	         s->layers, s->layers, s->text_heads, s->text_heads, s->ffn, s->ffn, s->max_pos);
	char pre[512];
	snprintf(pre, sizeof(pre),
	         "{\"size\": {\"height\": %d, \"width\": %d}, \"resample\": 3, \"do_resize\": "
	         "true,\n"
	         " \"do_rescale\": true, \"do_normalize\": true, \"image_mean\": [0.485, 0.456, "
	         "0.406],\n"
	         " \"image_std\": [0.229, 0.224, 0.225]}\n",
	         image_size, image_size);
	return put_file(dir, "config.json", buf) &&
	       put_file(dir, "preprocessor_config.json", pre) &&
	       put_file(dir, "generation_config.json", "{\"num_beams\": 3}\n");
}

/* A JSON string literal of s into f. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* GPT-2's byte-to-unicode table: byte b as the UTF-8 of its stand-in code point. */
static void byte_char(unsigned b, char out[4])
{
	unsigned cp = b, n = 0;
	if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
		for (unsigned x = 0; x < b; x++)
			if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) ||
			      (x >= 174 && x <= 255)))
				n++;
		cp = 256 + n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp, out[1] = 0;
	} else {
		out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 63)), out[2] = 0;
	}
}

enum tok_kind { TOK_KIND_BART, TOK_KIND_SP, TOK_KIND_LLAMA3 };

/* A stand-in tokenizer.json: byte tokens, specials at their real ids, filler up to n_vocab, no
 * merges (each byte is a token). */
static bool write_tokenizer(const char *dir, enum tok_kind kind)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	static const char *const bart_sp[] = {"<s>", "<pad>", "</s>", "<unk>"};
	static const char *const phi_added[] = {
	        "<|endoftext|>",    "<|assistant|>",    "<|placeholder1|>", "<|placeholder2|>",
	        "<|placeholder3|>", "<|placeholder4|>", "<|system|>",       "<|end|>",
	        "<|placeholder5|>", "<|placeholder6|>", "<|user|>"};
	unsigned n_vocab = kind == TOK_KIND_BART ? 50265 : kind == TOK_KIND_SP ? 32000 : 128000;
	fputs("{\"version\": \"1.0\", \"added_tokens\": [", f);
	if (kind == TOK_KIND_BART) {
		for (int i = 0; i < 4; i++)
			fprintf(f, "%s{\"id\": %d, \"content\": \"%s\", \"special\": true}",
			        i ? ", " : "", i, bart_sp[i]);
		fputs(", {\"id\": 50264, \"content\": \"<mask>\", \"special\": true, \"lstrip\": "
		      "true}",
		      f);
	} else if (kind == TOK_KIND_SP) {
		fputs("{\"id\": 0, \"content\": \"<unk>\", \"special\": true}, {\"id\": 1, "
		      "\"content\": "
		      "\"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", "
		      "\"special\": true}",
		      f);
		for (int i = 0; i < 11; i++)
			fprintf(f,
			        ", {\"id\": %d, \"content\": \"%s\", \"special\": true, "
			        "\"rstrip\": %s}",
			        32000 + i, phi_added[i], i == 0 ? "false" : "true");
	} else {
		for (int i = 0; i < 256; i++)
			fprintf(f,
			        "%s{\"id\": %d, \"content\": \"<|reserved_special_token_%d|>\", "
			        "\"special\": true}",
			        i ? ", " : "", 128000 + i, i);
	}
	fputs("],\n", f);
	if (kind == TOK_KIND_SP)
		fputs("\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": "
		      "\"Prepend\", "
		      "\"prepend\": \"\\u2581\"}, {\"type\": \"Replace\", \"pattern\": "
		      "{\"String\": \" \"}, "
		      "\"content\": \"\\u2581\"}]},\n\"pre_tokenizer\": null,\n"
		      "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
		      "[{\"SpecialToken\": "
		      "{\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "
		      "\"type_id\": 0}}]},\n"
		      "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": "
		      "\"Replace\"}, "
		      "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": "
		      "\"Strip\"}]},\n",
		      f);
	else if (kind == TOK_KIND_BART)
		fputs("\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
		      "\"add_prefix_space\": false},\n\"post_processor\": {\"type\": "
		      "\"RobertaProcessing\", "
		      "\"sep\": [\"</s>\", 2], \"cls\": [\"<s>\", 0]},\n\"decoder\": {\"type\": "
		      "\"ByteLevel\"},\n",
		      f);
	else
		fputs("\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
		      "\"add_prefix_space\": false},\n\"post_processor\": {\"type\": "
		      "\"TemplateProcessing\", "
		      "\"single\": [{\"SpecialToken\": {\"id\": \"<|reserved_special_token_0|>\", "
		      "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]},\n"
		      "\"decoder\": {\"type\": \"ByteLevel\"},\n",
		      f);
	fprintf(f, "\"model\": {\"type\": \"BPE\", \"byte_fallback\": %s, %s\"vocab\": {",
	        kind == TOK_KIND_SP ? "true" : "false",
	        kind == TOK_KIND_SP ? "\"unk_token\": \"<unk>\", " : "");
	unsigned id = 0;
	char tok[32];
	if (kind == TOK_KIND_SP) {
		fputs("\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2", f);
		for (unsigned b = 0; b < 256; b++)
			fprintf(f, ", \"<0x%02X>\": %u", b, 3 + b);
		id = 259;
	} else {
		unsigned first = kind == TOK_KIND_BART ? 4 : 0;
		if (kind == TOK_KIND_BART)
			fputs("\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3", f);
		for (unsigned b = 0; b < 256; b++) {
			byte_char(b, tok);
			fputs(b || first ? ", " : "", f);
			json_str(f, tok);
			fprintf(f, ": %u", first + b);
		}
		id = first + 256;
	}
	for (; id < n_vocab; id++) {
		if (kind == TOK_KIND_BART && id == 50264) {
			fputs(", \"<mask>\": 50264", f);
			continue;
		}
		fprintf(f, ", \"synth%u\": %u", id, id);
	}
	fputs("}, \"merges\": []}}\n", f);
	return fclose(f) == 0;
}

static bool write_llm_config(const char *dir, bool phi3, unsigned layers)
{
	char buf[8192];
	if (phi3)
		snprintf(
		        buf, sizeof(buf),
		        "{\"model_type\": \"llava_phi\", \"vocab_size\": 32064, \"hidden_size\": "
		        "3072,\n"
		        " \"intermediate_size\": 8192, \"num_hidden_layers\": %u, "
		        "\"num_attention_heads\": 32,\n"
		        " \"num_key_value_heads\": 32, \"hidden_act\": \"silu\", \"rms_norm_eps\": "
		        "1e-05,\n"
		        " \"rope_theta\": 10000.0, \"max_position_embeddings\": 131072,\n"
		        " \"original_max_position_embeddings\": 4096, \"rope_scaling\": {\"type\": "
		        "\"longrope\",\n"
		        "  \"short_factor\": [%s],\n  \"long_factor\": [%s]},\n"
		        " \"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": "
		        "32000,\n"
		        " \"mm_hidden_size\": 1024, \"mm_projector_type\": \"mlp3x_gelu\",\n"
		        " \"image_aspect_ratio\": \"pad\", \"tokenizer_model_max_length\": 2048}\n",
		        layers, phi35_short, phi35_long);
	else
		snprintf(
		        buf, sizeof(buf),
		        "{\"model_type\": \"llava_llama\", \"vocab_size\": 128257, "
		        "\"hidden_size\": 4096,\n"
		        " \"intermediate_size\": 14336, \"num_hidden_layers\": %u, "
		        "\"num_attention_heads\": 32,\n"
		        " \"num_key_value_heads\": 8, \"hidden_act\": \"silu\", \"rms_norm_eps\": "
		        "1e-05,\n"
		        " \"rope_theta\": 500000.0, \"max_position_embeddings\": 131072,\n"
		        " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
		        "\"low_freq_factor\": 1.0,\n"
		        "  \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": "
		        "8192},\n"
		        " \"tie_word_embeddings\": false, \"bos_token_id\": 128000,\n"
		        " \"eos_token_id\": [128001, 128008, 128009],\n"
		        " \"mm_hidden_size\": 1024, \"mm_projector_type\": \"mlp3x_gelu\",\n"
		        " \"image_aspect_ratio\": \"pad\", \"tokenizer_model_max_length\": 2048}\n",
		        layers);
	return put_file(dir, "config.json", buf);
}

static void rm_tree(const char *dir)
{
	static const char *const files[] = {
	        "config.json",
	        "tokenizer.json",
	        "vision_tower/config.json",
	        "vision_tower/preprocessor_config.json",
	        "vision_tower/generation_config.json",
	        "vision_tower/tokenizer.json",
	        "preprocessor_config.json",
	        "generation_config.json",
	};
	char p[1024];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/vision_tower", dir);
	rmdir(p);
	rmdir(dir);
}

enum fvl_status synth_run_ex(const char *arch, uint64_t seed, const struct convert_opts *o,
                             uint64_t *n_params, uint64_t *n_bytes)
{
	char dir[512], vt[600];
	const char *tmp = getenv("TMPDIR");
	bool vl = strncmp(arch, "florence-vl-", 12) == 0;
	bool phi3 = strcmp(arch, "florence-vl-3b") == 0;
	const struct f2_shape *f2 = NULL;
	if (phi3 || strcmp(arch, "florence-vl-8b") == 0 || strcmp(arch, "florence2-large") == 0)
		f2 = &f2_large;
	else if (strcmp(arch, "florence2-base") == 0)
		f2 = &f2_base;
	else
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "unknown --arch '%s' (florence-vl-3b, "
		                "florence-vl-8b, florence2-base, florence2-large)",
		                arch);
	snprintf(dir, sizeof(dir), "%s/fvl-synth-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return fvl_fail(FVL_STATUS_IO, "cannot make a temporary directory in %s",
		                tmp ? tmp : "/tmp");
	snprintf(vt, sizeof(vt), "%s/vision_tower", dir);
	bool ok = true;
	if (vl)
		ok = mkdir(vt, 0755) == 0 &&
		     write_llm_config(dir, phi3, o->llm_layers ? o->llm_layers : 32) &&
		     write_tokenizer(dir, phi3 ? TOK_KIND_SP : TOK_KIND_LLAMA3) &&
		     write_f2_configs(vt, f2, o->image_size ? (int)o->image_size : 768) &&
		     write_tokenizer(vt, TOK_KIND_BART);
	else
		ok = write_f2_configs(dir, f2, o->image_size ? (int)o->image_size : 768) &&
		     write_tokenizer(dir, TOK_KIND_BART);
	enum fvl_status st;
	if (!ok) {
		st = fvl_fail(FVL_STATUS_IO, "cannot write the synthetic configs into %s", dir);
	} else {
		struct convert_opts so = *o;
		so.ckpt_dir = dir;
		so.synth = true;
		so.seed = seed;
		st = convert_run_ex(&so, n_params, n_bytes);
	}
	rm_tree(dir);
	return st;
}

enum fvl_status synth_run(const char *arch, uint64_t seed, const struct convert_opts *o)
{
	return synth_run_ex(arch, seed, o, NULL, NULL);
}
