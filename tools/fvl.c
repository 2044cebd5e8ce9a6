/* fvl.c — the fvl command-line program: one subcommand per job. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench.h"
#include "camera-cmd.h"
#include "cli.h"
#include "doctor.h"
#include "fvl.h"
#include "serve.h"
#include "task-cmd.h"

static const char usage[] =
        "usage: fvl <command> [options]      (fvl help COMMAND, or fvl COMMAND --help, for its "
        "options)\n"
        "\n"
        "Florence-VL and Florence-2 inference for ARM boards (version " FVL_VERSION_STRING ").\n"
        "\n"
        "commands:\n"
        "  run       answer a question about an image, streamed (Florence-VL model files)\n"
        "  camera    answer about camera frames (V4L2) or a folder of frames, one JSON line each\n"
        "  task      run a Florence-2 task on an image: caption, OCR, detection, grounding, ...\n"
        "  serve     an OpenAI-compatible HTTP server (chat completions with images, tasks)\n"
        "  tokenize  the ids (and pieces) a model's tokenizer gives for a text\n"
        "  bench     measure prefill/decode tokens/s and the vision stages on random inputs\n"
        "  info      print a model file's metadata and tensor table\n"
        "  doctor    CPU, kernels, memory, whether a model fits, cameras\n"
        "  cpu       the CPU features and the kernel variant fvl picks\n"
        "  version   print the version\n"
        "  help      this text, or a command's (fvl help run)\n"
        "\n"
        "environment:\n"
        "  FVL_ISA=scalar|baseline|dotprod|i8mm|avx2|avxvnni|avx512vnni\n"
        "                         force a kernel variant (refused if the CPU lacks it)\n"
        "  FVL_ADAPT_THREADS=0    run on every thread -t gives; by default the pool uses one\n"
        "                         fewer while another program's load makes it as fast\n"
        "\n"
        "exit status: 0 success, 1 failure (the message says why), 2 bad command line.\n";

/* The options fvl run and fvl camera share. */
#define GEN_OPTIONS                                                                                \
	"  -p, --prompt TEXT      the question (- reads it from standard input)\n"                 \
	"  -f, --file FILE        the question from a file (up to 1 MB of UTF-8)\n"                \
	"  -n, --n-predict N      tokens to generate at most (run: 256, camera: 64)\n"             \
	"  --temp T               sampling temperature; 0 is greedy (default 0)\n"                 \
	"  --top-k K, --top-p P, --min-p P\n"                                                      \
	"                         sampling filters (default off)\n"                                \
	"  --repeat-penalty R     divides the logits of the last 64 generated tokens (default "    \
	"1)\n"                                                                                     \
	"  --seed S               sampling seed (default 42)\n"                                    \
	"  --parse-special        special-token text in the question (\"<|end|>\") counts as "     \
	"those\n"                                                                                  \
	"                         tokens and \"<image>\" splices the image, as Florence-VL's own " \
	"code\n"                                                                                   \
	"                         does; by default a question is plain text\n"                     \
	"  -t, --threads N        threads (default: the CPUs this process may use)\n"              \
	"  -c, --ctx N            context size (default: the model's, 2048 for Florence-VL)\n"     \
	"  --kv-f32               f32 KV cache (default f16)\n"                                    \
	"  --ignore-eos           do not stop at the model's stop tokens\n"                        \
	"  -v, --verbose          log what the library does (model load, fallbacks, retries); "    \
	"-vv: more\n"

static const char run_help[] =
        "usage: fvl run -m MODEL.gguf [-i IMAGE] (-p QUESTION | -f FILE) [options]\n"
        "\n"
        "Answers a question about an image (JPEG, PNG or PNM; none: a text-only question), "
        "streamed\n"
        "to "
        "standard output. The answer ends at a stop token, after -n tokens, or when the context is "
        "full\n"
        "(--json says which: finish \"stop\", \"length\" or \"context\"); a prompt that cannot fit "
        "the\n"
        "context is refused before the image is processed. SIGINT or SIGTERM stops the vision "
        "pass or\n"
        "the prefill between two layers (exit status 130); -vv shows the vision pass's steps.\n"
        "\n"
        "  -m, --model FILE       a Florence-VL model file (fvl-quant convert)\n"
        "  -i, --image FILE       the image\n" GEN_OPTIONS
        "  --exif-transpose       turn the image upright by its EXIF orientation, as PIL's\n"
        "                         exif_transpose does (default: the pixels as stored, as the\n"
        "                         reference reads them)\n"
        "  --json                 print one JSON object: text, ids, prompt_ids, finish, timings\n"
        "  --dump DIR             write each stage's output as float32 .npy files into DIR:\n"
        "                         pixel_values, davit_out, image_features, encoder_out_0..2,\n"
        "                         fused, projector_out, llm_logits_last (the last prompt "
        "position)\n";

static const char camera_help[] =
        "usage: fvl camera -m MODEL.gguf (--device /dev/videoN | --frames DIR)\n"
        "                  (-p QUESTION | -f FILE | --task NAME) [options]\n"
        "\n"
        "Answers about camera frames continuously, one JSON line {ts, frame, text, finish, ms} "
        "per\n"
        "answered frame (with --task: the task's members). The capture thread keeps only the "
        "newest\n"
        "frame; a corrupt frame is skipped and counted; a camera that disappears is reopened with\n"
        "back-off. SIGINT or SIGTERM stops after the current answer.\n"
        "\n"
        "  --device DEV           a V4L2 capture device\n"
        "  --frames DIR           replay the JPEG/PNG/PNM files of DIR in name order instead\n"
        "  --size WxH             capture size to ask the driver for (default 640x480)\n"
        "  --every Ns             seconds between answers (default 2s)\n"
        "  --min-change X         skip frames whose 32x32 grey thumbnail changed less than X "
        "(mean\n"
        "                         absolute difference, 0..255; default 0)\n"
        "  --wait-for-device      wait for a missing camera instead of failing\n"
        "  --max-frames N         stop after N answers\n"
        "  --task NAME [--text T] [--beams N]\n"
        "                         run a Florence-2 task on each frame instead of a "
        "question\n" GEN_OPTIONS;

static const char tokenize_help[] =
        "usage: fvl tokenize -m MODEL.gguf [--tokenizer llm|florence] [--json] [--no-special] "
        "TEXT\n"
        "\n"
        "Prints the ids (and pieces) the model's tokenizer gives for TEXT (- reads standard "
        "input),\n"
        "with special-token text parsed as those tokens.\n"
        "\n"
        "  --tokenizer llm|florence   the LLM's (default) or Florence-2's\n"
        "  --no-special           without the BOS/EOS the tokenizer adds\n"
        "  --json                 {\"ids\": [...], \"pieces\": [...]}\n";

static const char info_help[] =
        "usage: fvl info MODEL.gguf [--full]\n"
        "\n"
        "Prints the model file's metadata and tensor table (--full: whole arrays and strings).\n";

static const char cpu_help[] =
        "usage: fvl cpu\n"
        "\n"
        "Prints the CPU features and the kernel variant fvl picks (FVL_ISA forces one).\n";

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

static int cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	bool full = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--full") == 0)
			full = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "fvl info: unknown option '%s'\n", argv[i]);
			return 2;
		} else if (!path)
			path = argv[i];
		else {
			fprintf(stderr, "fvl info: one model file at a time\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr,
		        "fvl info: which model file? usage: fvl info MODEL.gguf [--full]\n");
		return 2;
	}
	struct fvl_model_info mi;
	if (fvl_model_info(path, &mi) != FVL_STATUS_OK) { /* nothing printed for a bad file */
		fprintf(stderr, "fvl info: error: %s\n", fvl_last_error());
		return 1;
	}
	printf("%s\n", path);
	if (fvl_model_print(path, full, stdout) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl info: error: %s\n", fvl_last_error());
		return 1;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "fvl info: error: cannot write the output\n");
		return 1;
	}
	return 0;
}

static int cmd_cpu(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "fvl cpu: takes no arguments, not '%s' (try 'fvl help cpu')\n",
		        argv[0]);
		return 2;
	}
	struct fvl_system_info si;
	const char *isa = getenv("FVL_ISA");
	enum fvl_status st = fvl_system_info(NULL, &si);
	printf("arch: %s%s\n", si.arch, si.simde ? " (NEON kernels through SIMDe)" : "");
	print_cpu_features(&si);
	if (isa && *isa && (st = fvl_system_info(isa, &si)) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl cpu: error: FVL_ISA=%s: %s\n", isa,
		        st == FVL_STATUS_UNSUPPORTED
		                ? "this CPU or build cannot run that variant"
		                : "not one of scalar, baseline, dotprod, i8mm, avx2");
		return 1;
	}
	printf("kernel variant: %s%s\n", si.kernel_level, isa && *isa ? " (FVL_ISA)" : "");
	print_kernels(&si);
	return 0;
}

/* ---- option parsing ------------------------------------------------------------------------- */

static int bad(const char *cmd, const char *fmt, const char *arg)
{
	return usage_error(cmd, "fvl help", fmt, arg);
}

/* ---- run -------------------------------------------------------------------------------------- */

struct run_out {
	bool json;
	int32_t ids[8192];
	size_t n_ids;
	char *text;
	size_t n_text, cap_text;
};

static bool on_token(void *user, int32_t id, const char *text, size_t len)
{
	struct run_out *o = user;
	if (id >= 0 && o->n_ids < sizeof(o->ids) / sizeof(o->ids[0]))
		o->ids[o->n_ids++] = id;
	if (o->n_text + len + 1 > o->cap_text) {
		size_t cap = 2 * (o->n_text + len + 1);
		char *p = realloc(o->text, cap);
		if (!p)
			return false;
		o->text = p;
		o->cap_text = cap;
	}
	memcpy(o->text + o->n_text, text, len);
	o->n_text += len;
	o->text[o->n_text] = 0;
	if (!o->json) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	}
	return true;
}

/* --dump: the vision side's stages as .npy files in dir. */
static int write_dump(const char *dir, const struct fvl_image_dump *d)
{
	int rc = make_dump_dir(dir) != 0;
	rc = rc || write_npy(dir, "pixel_values", d->pixel_values, 3, d->size * d->size) ||
	     write_npy(dir, "davit_out", d->davit_out, d->grid * d->grid, d->c_last) ||
	     write_npy(dir, "image_features", d->image_features, d->n_visual, d->d_model) ||
	     write_npy(dir, "fused", d->fused, d->n_llm, (1 + d->n_prompts) * d->d_model) ||
	     write_npy(dir, "projector_out", d->projector_out, d->n_llm, d->n_embd);
	for (size_t p = 0; p < d->n_prompts && !rc; p++) {
		char name[32];
		snprintf(name, sizeof(name), "encoder_out_%zu", p);
		rc = write_npy(dir, name, d->encoder_out[p], d->n_visual + d->prompt_len,
		               d->d_model);
	}
	if (rc)
		fprintf(stderr, "fvl run: error: cannot write the dump files into %s: %s\n", dir,
		        strerror(errno));
	return rc;
}

/* fvl run: SIGINT / SIGTERM cancel the vision pass or the prefill between layers (the abort
 * callback); -vv shows the vision pass's steps. */
static volatile sig_atomic_t run_interrupted;

static void on_run_signal(int sig)
{
	(void)sig;
	run_interrupted = 1;
}

static bool run_abort(void *user)
{
	(void)user;
	return run_interrupted != 0;
}

static void run_progress(void *user, const char *stage, uint32_t done, uint32_t total)
{
	if (*(const int *)user >= 2)
		fprintf(stderr, "fvl run: vision step %u of %u (%s)\n", done, total, stage);
}

/* fvl run and fvl camera share the model, session and generation options. */
static int cmd_run_or_camera(bool camera, int argc, char **argv)
{
	const char *model = NULL, *image = NULL, *prompt = NULL, *dump = NULL, *prompt_file = NULL;
	char *prompt_buf = NULL;
	const char *cmd = camera ? "camera" : "run";
	struct fvl_session_params sp;
	struct fvl_gen_params gp;
	struct run_out out = {0};
	struct fvl_camera_opts co = {.every = 2.0, .min_change = 0.0};
	struct fvl_task_params tp;
	int verbosity = 0;
	uint32_t image_flags = 0;
	fvl_task_params_default(&tp);
	tp.task = NULL;
	fvl_session_params_default(&sp);
	fvl_gen_params_default(&gp);
	if (camera)
		gp.n_predict = 64;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long l;
#define NEXT()                                                                                     \
	do {                                                                                       \
		if (!v)                                                                            \
			return bad(cmd, "%s needs a value", a);                                    \
		i++;                                                                               \
	} while (0)
		if (camera && !strcmp(a, "--device")) {
			NEXT();
			co.device = v;
		} else if (camera && !strcmp(a, "--frames")) {
			NEXT();
			co.frames = v;
		} else if (camera && !strcmp(a, "--wait-for-device"))
			co.wait_for_device = true;
		else if (camera && !strcmp(a, "--task")) {
			NEXT();
			if (!fvl_task_find(v))
				return bad(cmd, "unknown task '%s' (fvl task --help lists them)",
				           v);
			tp.task = v;
		} else if (camera && !strcmp(a, "--text")) {
			NEXT();
			tp.text = v;
		} else if (camera && !strcmp(a, "--beams")) {
			NEXT();
			if (!parse_long(v, 1, 16, &l))
				return bad(cmd, "--beams wants 1..16, not '%s'", v);
			tp.n_beams = (int32_t)l;
		} else if (camera && !strcmp(a, "--size")) {
			NEXT();
			unsigned w, h;
			char x;
			if (sscanf(v, "%u%c%u", &w, &x, &h) != 3 || x != 'x' || !w || !h ||
			    w > 8192 || h > 8192)
				return bad(cmd, "--size wants WxH (e.g. 640x480), not '%s'", v);
			co.width = w, co.height = h;
		} else if (camera && !strcmp(a, "--every")) {
			NEXT();
			char buf[32];
			snprintf(buf, sizeof(buf), "%s", v);
			size_t n = strlen(buf);
			if (n && buf[n - 1] == 's')
				buf[n - 1] = 0;
			float e;
			if (!parse_float(buf, 0, 86400, &e))
				return bad(cmd, "--every wants seconds (e.g. 2s), not '%s'", v);
			co.every = e;
		} else if (camera && !strcmp(a, "--min-change")) {
			NEXT();
			float mc;
			if (!parse_float(v, 0, 255, &mc))
				return bad(cmd, "--min-change wants 0..255, not '%s'", v);
			co.min_change = mc;
		} else if (camera && !strcmp(a, "--max-frames")) {
			NEXT();
			if (!parse_long(v, 1, 1L << 40, &l))
				return bad(cmd, "--max-frames wants a count >= 1, not '%s'", v);
			co.max_frames = (uint64_t)l;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			NEXT();
			model = v;
		} else if (!camera && (!strcmp(a, "-i") || !strcmp(a, "--image"))) {
			NEXT();
			image = v;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			NEXT();
			prompt = v;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			NEXT();
			prompt_file = v;
		} else if (!strcmp(a, "--parse-special"))
			gp.parse_special = true;
		else if (!camera && !strcmp(a, "--exif-transpose"))
			image_flags |= FVL_IMAGE_EXIF_TRANSPOSE;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			verbosity++;
		else if (!strcmp(a, "-vv"))
			verbosity += 2;
		else if (!camera && !strcmp(a, "--dump")) {
			NEXT();
			dump = v;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
			NEXT();
			if (!parse_long(v, 1, 1 << 20, &l))
				return bad(cmd, "-n wants 1..1048576 tokens, not '%s'", v);
			gp.n_predict = (int32_t)l;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
			NEXT();
			if (!parse_long(v, 1, 256, &l))
				return bad(cmd, "-t wants 1..256 threads, not '%s'", v);
			sp.n_threads = (uint32_t)l;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) {
			NEXT();
			if (!parse_long(v, 16, 1 << 20, &l))
				return bad(cmd,
				           "-c wants a context of 16..1048576 tokens, not '%s'", v);
			sp.n_ctx = (uint32_t)l;
		} else if (!strcmp(a, "--temp")) {
			NEXT();
			if (!parse_float(v, 0, 100, &gp.temp))
				return bad(cmd, "--temp wants 0..100, not '%s'", v);
		} else if (!strcmp(a, "--top-k")) {
			NEXT();
			if (!parse_long(v, 0, 1 << 24, &l))
				return bad(cmd, "--top-k wants a count >= 0, not '%s'", v);
			gp.top_k = (int32_t)l;
		} else if (!strcmp(a, "--top-p")) {
			NEXT();
			if (!parse_float(v, 1e-6, 1, &gp.top_p))
				return bad(cmd, "--top-p wants (0, 1], not '%s'", v);
		} else if (!strcmp(a, "--min-p")) {
			NEXT();
			if (!parse_float(v, 0, 0.999999, &gp.min_p))
				return bad(cmd, "--min-p wants [0, 1), not '%s'", v);
		} else if (!strcmp(a, "--repeat-penalty")) {
			NEXT();
			if (!parse_float(v, 1e-3, 100, &gp.repeat_penalty))
				return bad(cmd,
				           "--repeat-penalty wants a positive number, not '%s'", v);
		} else if (!strcmp(a, "--seed")) {
			NEXT();
			if (!parse_long(v, 0, 0x7fffffff, &l))
				return bad(cmd, "--seed wants a number >= 0, not '%s'", v);
			gp.seed = (uint64_t)l;
		} else if (!strcmp(a, "--ignore-eos"))
			gp.ignore_eos = true;
		else if (!strcmp(a, "--kv-f32"))
			sp.kv_f32 = true;
		else if (!strcmp(a, "--json"))
			out.json = true; /* fvl camera always prints JSON lines */
		else
			return bad(cmd, "unknown option '%s'", a);
#undef NEXT
	}
	verbose_logging(verbosity);
	if (!model)
		return bad(cmd, "%s", "which model? -m MODEL.gguf");
	if (prompt && prompt_file)
		return bad(cmd, "%s", "a question from -p or from -f, not both");
	if (prompt_file || (prompt && !strcmp(prompt, "-"))) {
		char why[256];
		if (!(prompt_buf = read_text(prompt_file ? prompt_file : "-", 1 << 20, why,
		                             sizeof(why)))) {
			fprintf(stderr, "fvl %s: error: %s\n", cmd, why);
			return 1;
		}
		prompt = prompt_buf;
	}
	if (tp.task && prompt)
		return bad(cmd, "%s", "ask a question (-p) or run a task (--task), not both");
	if (!prompt && !tp.task)
		return bad(cmd, "%s",
		           camera ? "what question? -p \"...\" (or --task NAME)"
		                  : "what question? -p \"...\"");
	if (camera) {
		if (!co.device && !co.frames)
			return bad(cmd, "%s",
			           "which camera? --device /dev/video0 (or --frames DIR)");
		sp.isa = getenv("FVL_ISA");
		if (tp.task) {
			const struct fvl_task_info *ti = fvl_task_find(tp.task);
			if (ti->takes_text != (tp.text != NULL))
				return bad(cmd,
				           ti->takes_text ? "task %s needs --text"
				                          : "task %s takes no --text",
				           ti->name);
			tp.n_threads = sp.n_threads, tp.isa = sp.isa, tp.max_new = gp.n_predict;
			co.task = &tp;
		}
		const int crc = fvl_camera_main(argc, argv, prompt, model, &sp, &gp, &co);
		free(prompt_buf);
		return crc;
	}
	if (dump && !image)
		return bad("run", "%s", "--dump needs an image (-i)");
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	int rc = 1;
	sp.isa = getenv("FVL_ISA");
	sp.abort_cb = run_abort, sp.progress_cb = run_progress, sp.cb_user = &verbosity;
	signal(SIGINT, on_run_signal);
	signal(SIGTERM, on_run_signal);
	uint32_t need = 0, ctx = 0;
	if (fvl_model_load(model, &m) != FVL_STATUS_OK ||
	    fvl_session_init(m, &sp, &s) != FVL_STATUS_OK ||
	    fvl_session_measure(s, prompt, image != NULL, &gp, &need, &ctx) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl run: error: %s\n", fvl_last_error());
		goto done;
	}
	if (need >= ctx) { /* before the image costs anything */
		fprintf(stderr,
		        "fvl run: error: the prompt%s is %u tokens, the context holds %u (use a "
		        "shorter question or a larger -c)\n",
		        image ? " with the image" : "", need, ctx);
		goto done;
	}
	if (image && !dump && !image_flags &&
	    fvl_session_set_image_file(s, image) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl run: error: %s\n", fvl_last_error());
		goto done;
	}
	if (image && (dump || image_flags)) {
		struct fvl_image img;
		struct fvl_image_dump d = {0};
		if (fvl_image_load_ex(image, image_flags, &img) != FVL_STATUS_OK ||
		    (dump ? fvl_session_set_image_dump(s, img.rgb, img.w, img.h, &d)
		          : fvl_session_set_image_rgb(s, img.rgb, img.w, img.h)) != FVL_STATUS_OK) {
			fprintf(stderr, "fvl run: error: %s\n", fvl_last_error());
			fvl_image_free(&img);
			goto done;
		}
		fvl_image_free(&img);
		const int wrc = dump ? write_dump(dump, &d) : 0;
		fvl_image_dump_free(&d);
		if (wrc)
			goto done;
	}
	enum fvl_status st = fvl_session_ask(s, prompt, &gp, on_token, &out);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "\nfvl run: error: %s\n", fvl_last_error());
		goto done;
	}
	size_t n_logits;
	const float *logits = fvl_session_prompt_logits(s, &n_logits);
	if (dump && (!logits || write_npy(dump, "llm_logits_last", logits, n_logits, 0) != 0)) {
		fprintf(stderr, "fvl run: error: cannot write %s/llm_logits_last.npy: %s\n", dump,
		        strerror(errno));
		goto done;
	}
	struct fvl_stats stt;
	struct rusage ru;
	fvl_session_stats(s, &stt);
	getrusage(RUSAGE_SELF, &ru);
	const double prefill_tps =
	        stt.ms_prefill > 0 ? (stt.n_prompt - stt.n_reused) / stt.ms_prefill * 1e3 : 0;
	const double decode_tps = stt.ms_decode > 0 ? stt.n_generated / stt.ms_decode * 1e3 : 0;
	if (out.json) {
		size_t np;
		const int32_t *pids = fvl_session_prompt_ids(s, &np);
		printf("{\"text\": ");
		json_string(stdout, out.text ? out.text : "", out.n_text);
		printf(", \"ids\": [");
		for (size_t i = 0; i < out.n_ids; i++)
			printf("%s%d", i ? ", " : "", out.ids[i]);
		printf("], \"prompt_ids\": [");
		for (size_t i = 0; i < np; i++)
			printf("%s%d", i ? ", " : "", pids[i]);
		printf("], \"finish\": \"%s\", \"n_visual_tokens\": %u, \"n_prompt_tokens\": %u, "
		       "\"n_ctx\": %u, \"ms\": {\"preprocess\": %.1f, "
		       "\"vision\": %.1f, \"prefill\": %.1f, \"decode\": %.1f}, "
		       "\"prefill_tokens_per_s\": %.1f, "
		       "\"decode_tokens_per_s\": %.1f, \"peak_rss_mb\": %.1f}\n",
		       fvl_finish_str(stt.finish), stt.n_visual, stt.n_prompt, stt.n_ctx,
		       stt.ms_preprocess, stt.ms_vision, stt.ms_prefill, stt.ms_decode, prefill_tps,
		       decode_tps, (double)ru.ru_maxrss / 1024.0);
	} else {
		printf("\n");
		fflush(stdout);
		if (stt.finish == FVL_FINISH_CONTEXT)
			fprintf(stderr,
			        "fvl run: the context of %u tokens is full: the answer stops here "
			        "(a larger -c, or a shorter question, leaves more room)\n",
			        stt.n_ctx);
		fprintf(stderr,
		        "fvl: image %.0f ms (preprocess %.0f), prefill %u tokens %.0f ms (%.1f "
		        "tok/s), "
		        "decode %u tokens %.0f ms (%.1f tok/s), peak RSS %.0f MB\n",
		        stt.ms_preprocess + stt.ms_vision, stt.ms_preprocess, stt.n_prompt,
		        stt.ms_prefill, prefill_tps, stt.n_generated, stt.ms_decode, decode_tps,
		        (double)ru.ru_maxrss / 1024.0);
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
done:
	free(out.text);
	free(prompt_buf);
	fvl_session_free(s);
	fvl_model_free(m);
	if (run_interrupted && rc) {
		fprintf(stderr, "fvl run: interrupted\n");
		return 130;
	}
	return rc;
}

/* ---- tokenize ------------------------------------------------------------------------------- */

static int cmd_tokenize(int argc, char **argv)
{
	const char *model = NULL, *text = NULL, *which = "llm";
	bool json = false, special = true;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc)
			model = argv[++i];
		else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc)
			which = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--no-special"))
			special = false;
		else if (argv[i][0] == '-' && argv[i][1])
			return bad("tokenize", "unknown option '%s'", argv[i]);
		else if (!text)
			text = argv[i];
		else
			return bad("tokenize", "one TEXT at a time (quote it): '%s'", argv[i]);
	}
	if (!model || !text)
		return bad("tokenize", "%s",
		           "usage: fvl tokenize -m MODEL.gguf [--tokenizer llm|florence] TEXT");
	if (strcmp(which, "llm") && strcmp(which, "florence"))
		return bad("tokenize", "--tokenizer is llm or florence, not '%s'", which);
	char *stdin_text = NULL, why[256];
	if (!strcmp(text, "-") &&
	    !(text = stdin_text = read_text("-", 1 << 20, why, sizeof(why)))) {
		fprintf(stderr, "fvl tokenize: error: %s\n", why);
		return 1;
	}
	struct fvl_tokenizer *t = NULL;
	int32_t *ids = NULL;
	size_t n = 0;
	enum fvl_status st = fvl_tokenizer_load(
	        model, strcmp(which, "llm") ? FVL_TOKENIZER_FLORENCE : FVL_TOKENIZER_LLM, &t);
	const bool no_llm_tokenizer = st == FVL_STATUS_NOT_FOUND && !strcmp(which, "llm");
	if (st == FVL_STATUS_OK)
		st = fvl_tokenize(t, text, strlen(text), special, &ids, &n);
	free(stdin_text);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl tokenize: error: %s%s\n", fvl_last_error(),
		        no_llm_tokenizer ? " (use --tokenizer florence)" : "");
		fvl_tokenizer_free(t);
		return 1;
	}
	if (json) {
		printf("{\"ids\": [");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? ", " : "", ids[i]);
		printf("], \"pieces\": [");
		for (size_t i = 0; i < n; i++) {
			size_t pl;
			const char *p = fvl_token_piece(t, ids[i], &pl);
			if (i)
				printf(", ");
			json_string(stdout, p, pl);
		}
		printf("]}\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			size_t pl;
			const char *p = fvl_token_piece(t, ids[i], &pl);
			printf("%6d -> '%.*s'\n", ids[i], (int)pl, p);
		}
	}
	free(ids);
	fvl_tokenizer_free(t);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("fvl %s\n", fvl_version());
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	return cmd_run_or_camera(false, argc, argv);
}

static int cmd_camera(int argc, char **argv)
{
	return cmd_run_or_camera(true, argc, argv);
}

static void print_text(FILE *f, const char *text)
{
	fputs(text, f);
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* or */
	void (*print_help)(FILE *f);
} commands[] = {
        {"run", cmd_run, run_help, NULL},
        {"camera", cmd_camera, camera_help, NULL},
        {"task", fvl_task_main, NULL, fvl_task_help},
        {"serve", cmd_serve, serve_help, NULL},
        {"tokenize", cmd_tokenize, tokenize_help, NULL},
        {"bench", fvl_bench_main, NULL, fvl_bench_help},
        {"info", cmd_info, info_help, NULL},
        {"doctor", fvl_doctor_main, NULL, fvl_doctor_help},
        {"cpu", cmd_cpu, cpu_help, NULL},
        {"version", cmd_version, "usage: fvl version\n", NULL},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void command_help(const struct command *c, FILE *f)
{
	if (c->print_help)
		c->print_help(f);
	else
		print_text(f, c->help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc > 2) {
			const struct command *c = find_command(argv[2]);
			if (!c) {
				fprintf(stderr, "fvl help: no command '%s' (try 'fvl help')\n",
				        argv[2]);
				return 2;
			}
			command_help(c, stdout);
			return 0;
		}
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0)
		return cmd_version(0, NULL);
	const struct command *c = find_command(cmd);
	if (!c) {
		fprintf(stderr, "fvl: unknown command '%s' (try 'fvl help')\n", cmd);
		return 2;
	}
	if (wants_help(argc - 2, argv + 2)) {
		command_help(c, stdout);
		return 0;
	}
	return c->run(argc - 2, argv + 2);
}
