/* fuzz-tokenizer.c — libFuzzer over every tokenizer fvl ships (Florence-2's byte-level BART, the
 * SentencePiece-style fast Phi-3, Llama-3.1's regex BPE, the slow Phi-3 SentencePiece): any bytes
 * in, with and without BOS/EOS and with a plain range; the ids decode back, at once and streamed.
 * The tokenizers come from $FVL_FUZZ_FILES/tokenizers.gguf (tests/run --write-fuzz-files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fvl_gguf *g;
static struct fvl_tok *tok[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const prefixes[4] = {"tokenizer.f2", "tokenizer.phi3",
	                                        "tokenizer.llama3", "tokenizer.spm"};
	char path[1024];
	const char *dir = getenv("FVL_FUZZ_FILES");
	(void)argc, (void)argv;
	snprintf(path, sizeof(path), "%s/tokenizers.gguf", dir ? dir : ".");
	if (fvl_gguf_open(path, &g) != FVL_STATUS_OK) {
		fprintf(stderr, "fuzz-tokenizer: %s\n", fvl_last_error());
		exit(1);
	}
	for (int i = 0; i < 4; i++)
		if (fvl_tok_load(g, prefixes[i], &tok[i]) != FVL_STATUS_OK) {
			fprintf(stderr, "fuzz-tokenizer: %s: %s\n", prefixes[i], fvl_last_error());
			exit(1);
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const struct fvl_tok *t = tok[data[0] & 3];
	const bool special = data[0] & 4;
	const char *text = (const char *)data + 2;
	const size_t n = size - 2, pb = data[1] % (n + 1), pe = pb + (data[0] >> 3) % (n - pb + 1);
	int32_t *ids = NULL;
	size_t n_ids = 0;
	if (fvl_tok_encode_ex(t, text, n, special, pb, pe, &ids, &n_ids) != FVL_STATUS_OK)
		return 0;
	char *out = NULL;
	size_t len = 0;
	if (fvl_tok_decode(t, ids, n_ids, data[0] & 8, &out, &len) == FVL_STATUS_OK) {
		if (strlen(out) > len)
			abort(); /* NUL-terminated at len */
		free(out);
	}
	struct fvl_tok_stream st;
	char buf[256];
	fvl_tok_stream_init(&st, t, true);
	for (size_t i = 0; i < n_ids; i++)
		if (fvl_tok_stream_push(&st, ids[i], buf, sizeof(buf)) > sizeof(buf))
			abort();
	fvl_tok_stream_flush(&st, buf, sizeof(buf));
	free(ids);
	return 0;
}
