/* bench.c — `fvl bench`: the options, then fvl_bench's tables on standard output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fvl.h"

void fvl_bench_help(FILE *f)
{
	fputs("usage: fvl bench -m MODEL.gguf [--llm] [--vision] [--task NAME] [-t N] [-p "
	      "PROMPT_TOKENS]\n"
	      "                 [-n GEN_TOKENS] [-r IMAGES]\n"
	      "\n"
	      "Measures on random inputs and prints markdown tables: prefill and decode tokens/s "
	      "and the\n"
	      "weight bandwidth they use (--llm), the vision side's parts at 1 thread and at -t "
	      "threads\n"
	      "with their GFLOP/s and speed-up (--vision; both by default, the vision side only "
	      "for a\n"
	      "Florence-2 file), or a Florence-2 task's image-to-text time, greedy and 3 beams "
	      "(--task).\n"
	      "\n"
	      "  -t N                   threads (default: the CPUs this process may use)\n"
	      "  -p N                   prompt tokens of the prefill (default 600; within the "
	      "context)\n"
	      "  -n N                   generated tokens (default 16)\n"
	      "  -r N                   images (default 1)\n",
	      f);
}

int fvl_bench_main(int argc, char **argv)
{
	const char *model = NULL, *task = NULL;
	bool llm = false, vision = false;
	long threads = 0, P = 600, G = 16, R = 1;
	for (int i = 0; i < argc; i++) {
		char *end = NULL;
		if (!strcmp(argv[i], "-m") && i + 1 < argc)
			model = argv[++i];
		else if (!strcmp(argv[i], "--llm"))
			llm = true;
		else if (!strcmp(argv[i], "--vision"))
			vision = true;
		else if (!strcmp(argv[i], "--task") && i + 1 < argc) {
			task = argv[++i];
			if (!fvl_task_find(task)) {
				fprintf(stderr,
				        "fvl bench: unknown task '%s' (fvl task --help lists "
				        "them)\n",
				        task);
				return 2;
			}
		} else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "-p") ||
		            !strcmp(argv[i], "-n") || !strcmp(argv[i], "-r")) &&
		           i + 1 < argc) {
			long v = strtol(argv[i + 1], &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "fvl bench: %s wants a positive number, not '%s'\n",
				        argv[i], argv[i + 1]);
				return 2;
			}
			*(argv[i][1] == 't'   ? &threads
			  : argv[i][1] == 'p' ? &P
			  : argv[i][1] == 'n' ? &G
			                      : &R) = v;
			i++;
		} else {
			fprintf(stderr, "fvl bench: unknown option '%s' (try 'fvl bench --help')\n",
			        argv[i]);
			return 2;
		}
	}
	if (!model) {
		fprintf(stderr, "fvl bench: which model? -m MODEL.gguf\n");
		return 2;
	}
	struct fvl_model *m;
	if (fvl_model_load(model, &m) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl bench: error: %s\n", fvl_last_error());
		return 1;
	}
	struct fvl_bench_params bp;
	fvl_bench_params_default(&bp);
	bp.n_threads = (uint32_t)threads, bp.isa = getenv("FVL_ISA"), bp.llm = llm,
	bp.vision = vision;
	bp.n_prompt = (uint32_t)P, bp.n_gen = (uint32_t)G, bp.n_images = (uint32_t)R,
	bp.task = task;
	const enum fvl_status st = fvl_bench(m, model, &bp, stdout);
	fvl_model_free(m);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl bench: error: %s%s\n", fvl_last_error(),
		        st == FVL_STATUS_INVALID_ARGUMENT ? " (try 'fvl bench --help')" : "");
		return st == FVL_STATUS_INVALID_ARGUMENT ? 2 : 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
