/* main.c — fvl-quant: the offline converter's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "export.h"
#include "fvl.h"
#include "gguf.h"
#include "synth.h"

static const char usage[] =
        "usage: fvl-quant <command> [options]   (fvl-quant help COMMAND, or COMMAND --help)\n"
        "\n"
        "Converts Hugging Face checkpoints into fvl model files (GGUF v3), "
        "version " FVL_VERSION_STRING ".\n"
        "\n"
        "commands:\n"
        "  convert     a Florence-VL or Florence-2 checkpoint folder into one model file\n"
        "  synth       a model file with random weights and the real shapes (for benchmarks)\n"
        "  export-llm  a Florence-VL file's LLM as a GGUF llama.cpp runs (same tensors)\n"
        "  info        print a model file's metadata and tensor table\n"
        "  version     print the version\n"
        "  help        this text, or a command's\n"
        "\n"
        "exit status: 0 success; 1 the input is missing or bad (message says which); 2 bad "
        "command\n"
        "line (an output that is a directory, a device or one of the inputs included);\n"
        "3 cannot write the output (including no space left on device).\n";

static const char convert_help[] =
        "usage: fvl-quant convert CHECKPOINT_DIR -o OUT.gguf [options]\n"
        "\n"
        "      CHECKPOINT_DIR is a Florence-VL checkpoint (config.json model_type llava_phi or\n"
        "      llava_llama) or a Florence-2 one (model_type florence2: Microsoft's layout, or\n"
        "      transformers' native one as florence-community/Florence-2-* ship it).\n"
        "      --vision-tower DIR the Florence-2 tower of a Florence-VL checkpoint (configs,\n"
        "                         processor, tokenizer; e.g. jiuhai/florence-phi-vision-tower).\n"
        "                         Default: CHECKPOINT_DIR/vision_tower, else config.json's\n"
        "                         mm_vision_tower as a folder or in the Hugging Face cache\n"
        "      --llm-tokenizer slow|fast   slow: tokenizer.model with transformers' slow\n"
        "                         LlamaTokenizer (what Florence-VL loads); fast: tokenizer.json.\n"
        "                         Default: slow when tokenizer.model is there, else fast\n"
        "      --drop-pooled-token        give the LLM the grid tokens only (576 of 577 at 768):\n"
        "                         for a tower that slices off the pooled token (the released\n"
        "                         code decides it; fvl's default keeps all, as stock Florence-2)\n"
        "      --wtype T          LLM linear weights (default q4_0)\n"
        "      --vision-wtype T   DaViT, Florence-2 encoder/decoder and projector linears (default "
        "f16)\n"
        "      --embed-wtype T    LLM token embedding and output (default q8_0)\n"
        "      --tensor-type PATTERN=T   type for tensors whose model-file name matches the shell\n"
        "                         pattern (e.g. 'blk.*.ffn_down.weight=q8_0'); repeatable, last "
        "wins\n"
        "      --no-florence-decoder     leave out Florence-2's decoder (Florence-VL does not "
        "need\n"
        "                         it; Florence-2 tasks do)\n"
        "      --quiet            no progress output\n"
        "      Types: f32, f16, bf16, q8_0, q4_0. Norms, biases and position tables stay f32; a\n"
        "      tensor whose rows are not a multiple of 32 long is stored as f16 instead of "
        "q8_0/q4_0,\n"
        "      but a patch-embedding convolution whose k*k*Cin is goes 2-D, quantized.\n"
        "      The output is written to OUT.gguf.tmp and renamed when complete.\n"

        "\n"
        "exit status: 0 success; 1 the input is missing or bad (message says which); 2 bad "
        "command\n"
        "line (an output that is a directory, a device or one of the inputs included);\n"
        "3 cannot write the output (including no space left on device).\n";

static const char synth_help[] =
        "usage: fvl-quant synth --arch A -o OUT.gguf [options]\n"
        "\n"
        "  synth --arch A [--wtype T] [--vision-wtype T] [--embed-wtype T] -o OUT.gguf [--seed N]\n"
        "        [--no-florence-decoder] [--layers N] [--image-size S] [--dry-run]\n"
        "      a model with random weights and the real shapes of A: florence-vl-3b,\n"
        "      florence-vl-8b, florence2-base, florence2-large (for benchmarks); --dry-run prints\n"
        "      the tensor count, parameter count and file size without writing; --layers N keeps\n"
        "      N LLM layers and --image-size S a smaller input (slices for instruction counting)\n";

static const char export_help[] =
        "usage: fvl-quant export-llm MODEL.gguf -o OUT.gguf [--dry-run] [--quiet]\n"
        "\n"
        "Writes the LLM of a Florence-VL model file (Phi-3 or Llama) as a GGUF that llama.cpp\n"
        "loads: general.architecture phi3 or llama, llama.cpp's hyperparameter keys, the rope\n"
        "factor tensors its converter writes, a tokenizer.ggml vocabulary padded with [PAD<i>]\n"
        "tokens to the embedding's rows, and every LLM tensor copied byte for byte (so both\n"
        "runtimes run the same weights; make bench-peers uses it). The vision side is left out.\n"
        "Tokenization in llama.cpp is llama.cpp's own: a SentencePiece model and a byte-level\n"
        "BPE with Llama 3's pre-tokenizer map exactly; a tokenizer.json BPE with SentencePiece\n"
        "conventions gets scores from its merge ranks. --dry-run prints what it would write.\n"
        "The output is written to OUT.gguf.tmp and renamed when complete.\n";

static const char info_help[] =
        "usage: fvl-quant info FILE.gguf [--full]\n"
        "\n"
        "Prints a model file's metadata and tensor table (--full: whole arrays).\n";

static int exit_code(enum fvl_status st)
{
	switch (st) {
	case FVL_STATUS_OK: return 0;
	case FVL_STATUS_INVALID_ARGUMENT: return 2;
	case FVL_STATUS_NO_SPACE:
	case FVL_STATUS_IO: return 3;
	default: return 1;
	}
}

static int bad_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "fvl-quant: %s%s%s\n(try 'fvl-quant help convert')\n", msg, arg ? " " : "",
	        arg ? arg : "");
	return 2;
}

static bool parse_type(const char *s, enum fvl_type *t)
{
	return fvl_type_from_name(s, t);
}

/* Options shared by convert and synth. Returns -1 if argv[*i] is not one of them, else 0, or
 * the exit code of a bad value. */
static int common_opt(int argc, char **argv, int *i, struct convert_opts *o)
{
	const char *a = argv[*i];
	enum fvl_type *slot = NULL;
	if (strcmp(a, "--wtype") == 0)
		slot = &o->wtype;
	else if (strcmp(a, "--vision-wtype") == 0)
		slot = &o->vision_wtype;
	else if (strcmp(a, "--embed-wtype") == 0)
		slot = &o->embed_wtype;
	else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
		if (++*i >= argc)
			return bad_usage("-o needs a file name", NULL);
		o->out = argv[*i];
		return 0;
	} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
		o->quiet = true;
		return 0;
	} else if (strcmp(a, "--no-florence-decoder") == 0) {
		o->no_florence_decoder = true;
		return 0;
	} else if (strcmp(a, "--drop-pooled-token") == 0) {
		o->drop_pooled_token = true;
		return 0;
	} else
		return -1;
	if (++*i >= argc)
		return bad_usage("missing type after", a);
	if (!parse_type(argv[*i], slot))
		return bad_usage("unknown type (f32, f16, bf16, q8_0, q4_0):", argv[*i]);
	return 0;
}

static int cmd_convert(int argc, char **argv)
{
	struct convert_opts o = {
	        .wtype = FVL_TYPE_Q4_0, .vision_wtype = FVL_TYPE_F16, .embed_wtype = FVL_TYPE_Q8_0};
	int rc = 0;
	for (int i = 0; i < argc && rc == 0; i++) {
		int r = common_opt(argc, argv, &i, &o);
		if (r >= 0) {
			rc = r;
			continue;
		}
		if (strcmp(argv[i], "--vision-tower") == 0) {
			if (++i >= argc)
				rc = bad_usage("--vision-tower needs a folder", NULL);
			else
				o.vision_tower = argv[i];
		} else if (strcmp(argv[i], "--llm-tokenizer") == 0) {
			const char *v = ++i < argc ? argv[i] : "";
			if (strcmp(v, "slow") == 0)
				o.llm_tokenizer = LLM_TOKENIZER_SLOW;
			else if (strcmp(v, "fast") == 0)
				o.llm_tokenizer = LLM_TOKENIZER_FAST;
			else if (strcmp(v, "auto") == 0)
				o.llm_tokenizer = LLM_TOKENIZER_AUTO;
			else
				rc = bad_usage("--llm-tokenizer wants slow, fast or auto, got",
				               *v ? v : "nothing");
		} else if (strcmp(argv[i], "--tensor-type") == 0) {
			char *eq = i + 1 < argc ? strrchr(argv[i + 1], '=') : NULL;
			enum fvl_type t;
			if (!eq || eq == argv[i + 1] || !parse_type(eq + 1, &t)) {
				rc = bad_usage("--tensor-type needs PATTERN=TYPE, got",
				               i + 1 < argc ? argv[i + 1] : "nothing");
				break;
			}
			struct type_override *ov =
			        realloc(o.overrides, (o.n_overrides + 1) * sizeof(*ov));
			if (!ov) {
				rc = 1;
				break;
			}
			o.overrides = ov;
			ov[o.n_overrides].pattern =
			        strndup(argv[i + 1], (size_t)(eq - argv[i + 1]));
			ov[o.n_overrides++].type = t;
			i++;
		} else if (argv[i][0] == '-') {
			rc = bad_usage("unknown option", argv[i]);
		} else if (!o.ckpt_dir) {
			o.ckpt_dir = argv[i];
		} else {
			rc = bad_usage("one checkpoint directory at a time; extra argument",
			               argv[i]);
		}
	}
	if (rc == 0 && !o.ckpt_dir)
		rc = bad_usage("convert needs a checkpoint directory", NULL);
	if (rc == 0 && !o.out)
		rc = bad_usage("convert needs -o OUT.gguf", NULL);
	if (rc == 0) {
		enum fvl_status st = convert_run(&o);
		if (st != FVL_STATUS_OK) {
			fprintf(stderr, "fvl-quant: error: %s\n", fvl_last_error());
			rc = exit_code(st);
		}
	}
	for (uint32_t k = 0; k < o.n_overrides; k++)
		free(o.overrides[k].pattern);
	free(o.overrides);
	return rc;
}

static int cmd_synth(int argc, char **argv)
{
	struct convert_opts o = {
	        .wtype = FVL_TYPE_Q4_0, .vision_wtype = FVL_TYPE_F16, .embed_wtype = FVL_TYPE_Q8_0};
	const char *arch = NULL;
	uint64_t seed = 1;
	for (int i = 0; i < argc; i++) {
		int r = common_opt(argc, argv, &i, &o);
		if (r > 0)
			return r;
		if (r == 0)
			continue;
		if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc)
			arch = argv[++i];
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--dry-run") == 0)
			o.dry_run = true;
		else if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
			o.llm_layers = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--image-size") == 0 && i + 1 < argc)
			o.image_size = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			return bad_usage("unknown option", argv[i]);
	}
	if (!arch || (!o.out && !o.dry_run))
		return bad_usage("synth needs --arch A and -o OUT.gguf", NULL);
	if (o.llm_layers > 1024)
		return bad_usage("--layers wants 1..1024", NULL);
	if (o.image_size && (o.image_size < 64 || o.image_size > 1536 || o.image_size % 32))
		return bad_usage("--image-size wants a multiple of 32 in 64..1536", NULL);
	enum fvl_status st = synth_run(arch, seed, &o);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl-quant: error: %s\n", fvl_last_error());
		return exit_code(st);
	}
	return 0;
}

static int cmd_export(int argc, char **argv)
{
	struct export_opts o = {0};
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			o.out = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			o.dry_run = true;
		else if (strcmp(argv[i], "--quiet") == 0)
			o.quiet = true;
		else if (argv[i][0] == '-' || o.in)
			return bad_usage("export-llm: unexpected", argv[i]);
		else
			o.in = argv[i];
	}
	if (!o.in || (!o.out && !o.dry_run))
		return bad_usage("export-llm needs MODEL.gguf and -o OUT.gguf", NULL);
	enum fvl_status st = export_llm_run(&o);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl-quant: error: %s\n", fvl_last_error());
		return exit_code(st);
	}
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct fvl_gguf *g;
	bool full = argc == 2 && strcmp(argv[1], "--full") == 0;
	if (argc < 1 || argc > 2 || (argc == 2 && !full))
		return bad_usage("usage: fvl-quant info FILE.gguf [--full]", NULL);
	if (fvl_gguf_open(argv[0], &g) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl-quant info: error: %s\n", fvl_last_error());
		return 1;
	}
	fvl_gguf_print(g, stdout, full);
	fvl_gguf_free(g);
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static const char *command_help(const char *cmd)
{
	return !strcmp(cmd, "convert")      ? convert_help
	       : !strcmp(cmd, "synth")      ? synth_help
	       : !strcmp(cmd, "export-llm") ? export_help
	       : !strcmp(cmd, "info")       ? info_help
	       : !strcmp(cmd, "version")    ? "usage: fvl-quant version\n"
	                                    : NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		const char *h = argc > 2 ? command_help(argv[2]) : usage;
		if (!h) {
			fprintf(stderr, "fvl-quant help: no command '%s' (try 'fvl-quant help')\n",
			        argv[2]);
			return 2;
		}
		fputs(h, stdout);
		return 0;
	}
	if (command_help(cmd) && wants_help(argc, argv)) {
		fputs(command_help(cmd), stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("fvl-quant %s\n", fvl_version());
		return 0;
	}
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 2, argv + 2);
	if (strcmp(cmd, "synth") == 0)
		return cmd_synth(argc - 2, argv + 2);
	if (strcmp(cmd, "export-llm") == 0)
		return cmd_export(argc - 2, argv + 2);
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 2, argv + 2);
	fprintf(stderr, "fvl-quant: unknown command '%s' (try 'fvl-quant help')\n", cmd);
	return 2;
}
