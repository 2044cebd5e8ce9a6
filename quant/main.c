/* main.c — fvl-quant: the offline converter's command line. */
#include <stdio.h>
#include <string.h>

#include "fvl.h"
#include "gguf.h"

static const char usage[] =
	"usage: fvl-quant <command> [options]\n"
	"\n"
	"Converts Hugging Face checkpoints into fvl model files (GGUF v3) (version " FVL_VERSION_STRING ").\n"
	"\n"
	"commands:\n"
	"  info FILE.gguf [--full]   print a model file's metadata and tensor table\n"
	"  version                   print the version\n"
	"  help                      print this text\n"
	"\n"
	"exit status: 0 success, 1 failure (the message says why), 2 bad command line.\n";

static int cmd_info(int argc, char **argv)
{
	struct fvl_gguf *g;
	bool full = argc == 2 && strcmp(argv[1], "--full") == 0;
	if (argc < 1 || argc > 2 || (argc == 2 && !full)) {
		fprintf(stderr, "usage: fvl-quant info FILE.gguf [--full]\n");
		return 2;
	}
	if (fvl_gguf_open(argv[0], &g) != FVL_STATUS_OK) {
		fprintf(stderr, "fvl-quant info: error: %s\n", fvl_last_error());
		return 1;
	}
	fvl_gguf_print(g, stdout, full);
	fvl_gguf_free(g);
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
		printf("fvl-quant %s\n", fvl_version());
		return 0;
	}
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 2, argv + 2);
	fprintf(stderr, "fvl-quant: unknown command '%s' (try 'fvl-quant help')\n", cmd);
	return 2;
}
