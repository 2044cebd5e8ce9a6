/* fvl.c — the fvl command-line program: one subcommand per job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fvl.h"
#include "gguf.h"
#include "kernels.h"

static const char usage[] =
	"usage: fvl <command> [options]\n"
	"\n"
	"Florence-VL and Florence-2 inference for ARM boards (version " FVL_VERSION_STRING ").\n"
	"\n"
	"commands:\n"
	"  info MODEL.gguf [--full]   print the model file's metadata and tensor table\n"
	"                             (--full: print whole arrays and strings)\n"
	"  cpu                        print the CPU features and the kernel variant fvl picks\n"
	"  version                    print the version\n"
	"  help                       print this text\n"
	"\n"
	"environment:\n"
	"  FVL_ISA=scalar|baseline|dotprod|i8mm   force a kernel variant (refused if the CPU lacks it)\n"
	"\n"
	"exit status: 0 success, 1 failure (the message says why), 2 bad command line.\n";

static int cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	bool full = false;
	struct fvl_gguf *g;

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
		fprintf(stderr, "fvl info: which model file? usage: fvl info MODEL.gguf [--full]\n");
		return 2;
	}
	enum fvl_status st = fvl_gguf_open(path, &g);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl info: error: %s\n", fvl_last_error());
		return 1;
	}
	printf("%s\n", path);
	fvl_gguf_print(g, stdout, full);
	fvl_gguf_free(g);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "fvl info: error: cannot write the output\n");
		return 1;
	}
	return 0;
}

static int cmd_cpu(void)
{
	struct fvl_cpu cpu;
	struct fvl_kernels k;
	const char *isa = getenv("FVL_ISA");
	fvl_cpu_detect(&cpu);
	printf("arch: %s%s\n", cpu.arch, cpu.simde ? " (NEON kernels through SIMDe)" : "");
	printf("asimd: %s\nfp16: %s\ndotprod: %s\ni8mm: %s\n", cpu.asimd ? "yes" : "no",
	       cpu.fp16 ? "yes" : "no", cpu.dotprod ? "yes" : "no", cpu.i8mm ? "yes" : "no");
	enum fvl_status st = fvl_kernels_init(&k, &cpu, isa);
	if (st != FVL_STATUS_OK) {
		fprintf(stderr, "fvl cpu: error: FVL_ISA=%s: %s\n", isa,
		        st == FVL_STATUS_UNSUPPORTED ? "this CPU or build cannot run that variant"
		                                     : "not one of scalar, baseline, dotprod, i8mm");
		return 1;
	}
	printf("kernel variant: %s%s\n", fvl_isa_name(k.isa), isa && *isa ? " (FVL_ISA)" : "");
	printf("  q8_0_q8_dot: %s\n", k.q8_0_q8_dot_name);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("fvl %s\n", fvl_version());
		return 0;
	}
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 2, argv + 2);
	if (strcmp(cmd, "cpu") == 0)
		return cmd_cpu();
	fprintf(stderr, "fvl: unknown command '%s' (try 'fvl help')\n", cmd);
	return 2;
}
