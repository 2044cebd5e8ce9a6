/* fuzz-serve-request.c — libFuzzer target for fvl serve's request parsing: any body as a chat
 * completion and as a task request (no local files: the fuzzer must not read the disk), then the
 * stop-string filter over the parsed question in pieces. A refusal must fill a 4xx/5xx error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct serve_limits lim = {
	        .max_body = 1 << 20, .max_pixels = 1 << 20, .max_tokens = 256, .model_id = "m"};
	struct serve_req r;
	struct serve_error err;
	const char *body = (const char *)data;
	if (serve_parse_chat(body, size, &lim, &r, &err)) {
		if (!r.question || r.gen.n_predict < 1 || r.gen.n_predict > 256 || r.n_stop > 4)
			abort();
		struct serve_stop st = {.stop = r.stop, .n_stop = r.n_stop};
		const size_t n = strlen(r.question);
		size_t sent = 0;
		for (size_t at = 0; at < n; at += 3) {
			const char *p;
			size_t k;
			if (!serve_stop_feed(&st, r.question + at, n - at < 3 ? n - at : 3, &p, &k))
				break;
			sent += k;
		}
		const char *p;
		size_t k;
		serve_stop_flush(&st, &p, &k);
		if (sent + k > n)
			abort();
		serve_stop_free(&st);
		serve_req_free(&r);
	} else if (err.http < 400 || !err.type || !err.message[0]) {
		abort();
	}
	if (serve_parse_task(body, size, &lim, &r, &err))
		serve_req_free(&r);
	else if (err.http < 400)
		abort();
	return 0;
}
