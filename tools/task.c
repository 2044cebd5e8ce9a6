/* task.c — `fvl task`: caption, OCR, detection, grounding and region tasks of Florence-2, on a
 * florence2 model file or the Florence-2 inside a florence-vl one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "fvl.h"
#include "task-cmd.h"

void fvl_task_help(FILE *f)
{
	size_t n;
	const struct fvl_task_info *t = fvl_task_list(&n);
	fputs("usage: fvl task -m MODEL.gguf -i IMAGE --task NAME [--text TEXT] [options]\n"
	      "\n"
	      "Runs a Florence-2 task: prompt expansion, greedy or beam search, and the "
	      "post-processing\n"
	      "of Florence-2's processor (<loc_k> bins to pixel coordinates of IMAGE).\n"
	      "\n"
	      "  --task NAME            one of the tasks below (or its token, e.g. '<OD>')\n"
	      "  --text TEXT            the input of tasks marked (text); a region is given as\n"
	      "                         <loc_x1><loc_y1><loc_x2><loc_y2> (bins 0..999 of "
	      "width/height)\n"
	      "  --beams N              beam search width (default: the model's, 3 for "
	      "Florence-2;\n"
	      "                         1 is greedy)\n"
	      "  -n, --max-new N        tokens to generate at most (default 1024)\n"
	      "  --no-repeat-ngram N    ban repeated n-grams (default: the model's, 3; 0 is off)\n"
	      "  -t, --threads N        threads (default: the CPUs this process may use)\n"
	      "  -v, --verbose          log what the library does (model load, fallbacks); -vv: "
	      "more\n"
	      "  --exif-transpose       turn the image upright by its EXIF orientation (as PIL's\n"
	      "                         exif_transpose; default: the pixels as stored, as the\n"
	      "                         reference reads them); boxes are then in upright pixels\n"
	      "  --json                 print one JSON object: task, text, ids, the search that "
	      "ran,\n"
	      "                         and bboxes or quad_boxes with labels\n"
	      "  --dump DIR             write the stages as float32 .npy files into DIR: "
	      "pixel_values,\n"
	      "                         davit_out, image_features, encoder_out, "
	      "decoder_logits_first\n"
	      "                         (the first decoder step, before any logits processor)\n"
	      "\n"
	      "tasks:\n",
	      f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-30s %s%s\n", t[i].name, t[i].token,
		        t[i].takes_text ? " (text)" : "");
}

static int bad(const char *fmt, const char *arg)
{
	return usage_error("task", "fvl task --help", fmt, arg);
}

static void print_plain(const struct fvl_task_result *r)
{
	printf("%s\n", r->text);
	for (size_t i = 0; i < r->n_items; i++) {
		printf("%s:", r->items[i].label[0] ? r->items[i].label : "(region)");
		for (uint32_t j = 0; j < r->items[i].n_coords; j++)
			printf(" %.1f", r->items[i].coords[j]);
		printf("\n");
	}
}

int fvl_task_main(int argc, char **argv)
{
	const char *model = NULL, *image = NULL, *dump_dir = NULL;
	struct fvl_task_params p;
	bool json = false;
	uint32_t image_flags = 0;
	int verbosity = 0;
	fvl_task_params_default(&p);
	p.task = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long l;
#define NEXT()                                                                                     \
	do {                                                                                       \
		if (!v)                                                                            \
			return bad("%s needs a value", a);                                         \
		i++;                                                                               \
	} while (0)
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fvl_task_help(stdout);
			return 0;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			NEXT();
			model = v;
		} else if (!strcmp(a, "-i") || !strcmp(a, "--image")) {
			NEXT();
			image = v;
		} else if (!strcmp(a, "--task")) {
			NEXT();
			if (!fvl_task_find(v))
				return bad("unknown task '%s'", v);
			p.task = v;
		} else if (!strcmp(a, "--text")) {
			NEXT();
			p.text = v;
		} else if (!strcmp(a, "--beams")) {
			NEXT();
			if (!parse_long(v, 1, 16, &l))
				return bad("--beams wants 1..16, not '%s'", v);
			p.n_beams = (int32_t)l;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--max-new")) {
			NEXT();
			if (!parse_long(v, 1, 1 << 20, &l))
				return bad("-n wants a number of tokens >= 1, not '%s'", v);
			p.max_new = (int32_t)l;
		} else if (!strcmp(a, "--no-repeat-ngram")) {
			NEXT();
			if (!parse_long(v, 0, 64, &l))
				return bad("--no-repeat-ngram wants 0..64, not '%s'", v);
			p.no_repeat_ngram = (int32_t)l;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbosity++;
		} else if (!strcmp(a, "-vv")) {
			verbosity += 2;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
			NEXT();
			if (!parse_long(v, 1, 256, &l))
				return bad("-t wants 1..256 threads, not '%s'", v);
			p.n_threads = (uint32_t)l;
		} else if (!strcmp(a, "--dump")) {
			NEXT();
			dump_dir = v;
		} else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--exif-transpose"))
			image_flags |= FVL_IMAGE_EXIF_TRANSPOSE;
		else
			return bad("unknown option '%s'", a);
#undef NEXT
	}
	verbose_logging(verbosity);
	if (!model)
		return bad("%s", "which model? -m MODEL.gguf");
	if (!image)
		return bad("%s", "which image? -i IMAGE");
	if (!p.task)
		return bad("%s", "which task? --task NAME");
	const struct fvl_task_info *ti = fvl_task_find(p.task);
	if (ti->takes_text && !p.text)
		return bad("task %s needs --text", ti->name);
	if (!ti->takes_text && p.text)
		return bad("task %s takes no --text", ti->name);
	p.isa = getenv("FVL_ISA");
	struct fvl_model *m = NULL;
	struct fvl_image img = {0};
	struct fvl_task_result r;
	struct fvl_task_dump dump = {0};
	int rc = 1;
	memset(&r, 0, sizeof(r));
	if (fvl_model_load(model, &m) != FVL_STATUS_OK ||
	    fvl_image_load_ex(image, image_flags, &img) != 0 ||
	    fvl_task_run_dump(m, img.rgb, img.w, img.h, &p, &r, dump_dir ? &dump : NULL) != 0) {
		fprintf(stderr, "fvl task: error: %s\n", fvl_last_error());
		goto done;
	}
	if (dump_dir &&
	    (make_dump_dir(dump_dir) != 0 ||
	     write_npy(dump_dir, "pixel_values", dump.pixel_values, 3, dump.size * dump.size) ||
	     write_npy(dump_dir, "davit_out", dump.davit_out, dump.grid * dump.grid, dump.c_last) ||
	     write_npy(dump_dir, "image_features", dump.image_features, dump.n_visual, dump.d) ||
	     write_npy(dump_dir, "encoder_out", dump.encoder_out, dump.n_enc, dump.d) ||
	     write_npy(dump_dir, "decoder_logits_first", dump.decoder_logits_first, dump.vocab,
	               0))) {
		fprintf(stderr, "fvl task: error: cannot write the dump files into %s: %s\n",
		        dump_dir, strerror(errno));
		goto done;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	if (json) {
		printf("{");
		json_task_members(stdout, &r);
		printf(", ");
		json_task_search(stdout, &r);
		printf(", \"image\": {\"width\": %u, \"height\": %u}, \"ms\": {\"vision\": %.1f, "
		       "\"decode\": %.1f}, \"peak_rss_mb\": %.1f}\n",
		       img.w, img.h, r.ms_vision, r.ms_decode, (double)ru.ru_maxrss / 1024.0);
	} else {
		print_plain(&r);
		fflush(stdout);
		fprintf(stderr,
		        "fvl: image and encoder %.0f ms, decoder %zu tokens %.0f ms, peak RSS "
		        "%.0f MB\n",
		        r.ms_vision, r.n_ids, r.ms_decode, (double)ru.ru_maxrss / 1024.0);
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
done:
	fvl_task_dump_free(&dump);
	fvl_task_result_free(&r);
	fvl_image_free(&img);
	fvl_model_free(m);
	return rc;
}
