/* test-serve.c — fvl serve's request parsing, base64 and stop strings (tools/serve-request.c);
 * the server itself runs end to end in tests/serve.sh. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"
#include "test.h"

static const struct serve_limits lim = {
        .max_body = 1 << 20, .max_pixels = 1 << 20, .max_tokens = 64, .model_id = "m"};

static void test_base64_is_strict(void)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {{"QQ==", "A"},   {"QUI=", "AB"},   {"QUJD", "ABC"},    {"QUJDRA==", "ABCD"},
	             {"", NULL},      {"QQ=", NULL},    {"Q===", NULL},     {"QQ==QUJD", NULL},
	             {"QU JD", NULL}, {"QUJ\n", NULL},  {"QUJD\r\n", NULL}, {"QU-_", NULL},
	             {"====", NULL},  {"QUJDRA=", NULL}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;
		uint8_t *got = serve_base64_decode(cases[i].in, strlen(cases[i].in), &n);
		if (!cases[i].out)
			T_CHECK(!got, "'%s' decoded (%zu bytes)", cases[i].in, n);
		else
			T_CHECK(got && n == strlen(cases[i].out) && !memcmp(got, cases[i].out, n),
			        "'%s' -> %zu bytes", cases[i].in, n);
		free(got);
	}
}

/* Feeds pieces, collects what the filter lets through, then flushes. */
static char *through(char *const *stop, size_t n_stop, const char *const *pieces, bool *done)
{
	struct serve_stop st = {.stop = stop, .n_stop = n_stop};
	static char out[256];
	size_t n = 0;
	for (size_t i = 0; pieces[i]; i++) {
		const char *p;
		size_t k;
		if (!serve_stop_feed(&st, pieces[i], strlen(pieces[i]), &p, &k))
			return NULL;
		if (k)
			memcpy(out + n, p, k);
		n += k;
	}
	const char *p;
	size_t k;
	serve_stop_flush(&st, &p, &k);
	if (k)
		memcpy(out + n, p, k);
	out[n + k] = 0;
	*done = st.done;
	serve_stop_free(&st);
	return out;
}

static void test_stop_strings_across_pieces(void)
{
	char *end[] = {"END", "\n\n"};
	bool done;
	const char *a[] = {"ab", "cE", "N", "Dxyz", NULL};
	T_ASSERT(!strcmp(through(end, 2, a, &done), "abc") && done, "split stop: '%s'",
	         through(end, 2, a, &done));
	const char *b[] = {"aE", "Nx", "E",
	                   NULL}; /* a prefix that does not complete, then the end */
	T_ASSERT(!strcmp(through(end, 2, b, &done), "aENxE") && !done, "'%s'",
	         through(end, 2, b, &done));
	const char *c[] = {"x\n", "\nEND", NULL}; /* the earliest of two stops wins */
	T_ASSERT(!strcmp(through(end, 2, c, &done), "x") && done, "'%s'",
	         through(end, 2, c, &done));
	const char *d[] = {"ENDING", "more", NULL};
	T_ASSERT(!strcmp(through(end, 2, d, &done), "") && done, "at the start");
	const char *e[] = {"plain ", "text", NULL};
	T_ASSERT(!strcmp(through(end, 0, e, &done), "plain text") && !done, "no stops");
	/* what is held back is only a tail that could still become a stop */
	struct serve_stop st = {.stop = end, .n_stop = 2};
	const char *p;
	size_t k;
	T_ASSERT(serve_stop_feed(&st, "helloE", 6, &p, &k) && k == 5 && !memcmp(p, "hello", 5),
	         "held %zu", k);
	T_ASSERT(serve_stop_feed(&st, "N", 1, &p, &k) && k == 0, "EN held");
	T_ASSERT(serve_stop_feed(&st, "!", 1, &p, &k) && k == 3 && !memcmp(p, "EN!", 3),
	         "released");
	serve_stop_free(&st);
}

static void test_chat_request_fields(void)
{
	struct serve_req r;
	struct serve_error err;
	static const char body[] =
	        "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
	        "\"text\", \"text\": \"one\"}, {\"type\": \"image_url\", \"image_url\": {\"url\": "
	        "\"data:image/png;base64,QUJD\"}}, {\"type\": \"text\", \"text\": \"two\"}]}], "
	        "\"max_tokens\": 9, \"max_completion_tokens\": 7, \"temperature\": 0.5, \"top_p\": "
	        "0.9, \"seed\": 12345678901, \"stop\": \"##\", \"stream\": true, "
	        "\"stream_options\": {\"include_usage\": true}, \"frequency_penalty\": 0}";
	T_ASSERT(serve_parse_chat(body, strlen(body), &lim, &r, &err), "%s", err.message);
	T_CHECK(!strcmp(r.question, "one\ntwo"), "question '%s'", r.question);
	T_CHECK(r.n_image == 3 && !memcmp(r.image, "ABC", 3) && r.image_hash != 0, "image");
	T_CHECK(r.gen.n_predict == 7 && r.gen.temp == 0.5f && r.gen.top_p == 0.9f &&
	                r.gen.seed == 12345678901ull,
	        "gen %d %g %g", r.gen.n_predict, r.gen.temp, r.gen.top_p);
	T_CHECK(r.stream && r.include_usage && r.n_stop == 1 && !strcmp(r.stop[0], "##"), "flags");
	serve_req_free(&r);
	/* omitted: the server's max_tokens, fvl's greedy default; top_p 0 is greedy */
	static const char plain[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
	                            "\"temperature\": 1, \"top_p\": 0}";
	T_ASSERT(serve_parse_chat(plain, strlen(plain), &lim, &r, &err), "%s", err.message);
	T_CHECK(r.gen.n_predict == 64 && r.gen.temp == 0.0f && !r.image && !r.stream, "defaults");
	serve_req_free(&r);
}

static void test_bad_chat_requests_name_the_field(void)
{
	static const struct {
		const char *body;
		int http;
		const char *code, *param;
	} cases[] = {
	        {"", 400, "invalid_json", NULL},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]", 400, "invalid_json",
	         NULL},
	        {"{\"messages\": []}", 400, NULL, "messages"},
	        {"{\"messages\": [1]}", 400, NULL, "messages"},
	        {"{\"messages\": [{\"role\": \"user\"}]}", 400, NULL, "content"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}", 400,
	         NULL, "content"},
	        {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", 400,
	         "unsupported_role", "messages"},
	        {"{\"model\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", 404,
	         "model_not_found", "model"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 65}",
	         400, "invalid_value", "max_tokens"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 1.5}",
	         400, "invalid_value", "max_tokens"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"seed\": -1}", 400,
	         "invalid_value", "seed"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream\": 1}", 400,
	         "invalid_value", "stream"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\", 2]}",
	         400, "invalid_value", "stop"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"\"]}",
	         400, "invalid_value", "stop"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": "
	         "[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
	         400, "invalid_value", "stop"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream_options\": "
	         "3}",
	         400, "invalid_value", "stream_options"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", "
	         "\"image_url\": {\"url\": \"data:text/plain;base64,QUJD\"}}]}]}",
	         400, "invalid_image_url", "image_url"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", "
	         "\"image_url\": {\"url\": \"data:image/png,QUJD\"}}]}]}",
	         400, "invalid_image_url", "image_url"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", "
	         "\"image_url\": {\"url\": \"/etc/passwd\"}}]}]}",
	         400, "local_files_disabled", "image_url"},
	        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", "
	         "\"image_url\": {\"url\": \"ftp://x\"}}]}]}",
	         400, "invalid_image_url", "image_url"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct serve_req r;
		struct serve_error err;
		const bool ok =
		        serve_parse_chat(cases[i].body, strlen(cases[i].body), &lim, &r, &err);
		T_CHECK(!ok && err.http == cases[i].http &&
		                (cases[i].code ? err.code && !strcmp(err.code, cases[i].code)
		                               : !err.code) &&
		                (cases[i].param ? err.param && !strcmp(err.param, cases[i].param)
		                                : !err.param),
		        "case %zu: %s -> %d %s %s: %s", i, cases[i].body, err.http,
		        err.code ? err.code : "-", err.param ? err.param : "-", err.message);
		T_CHECK(!r.question && !r.image, "case %zu left memory", i);
	}
}

static void test_task_request_fields(void)
{
	struct serve_req r;
	struct serve_error err;
	static const char body[] =
	        "{\"task\": \"<CAPTION_TO_PHRASE_GROUNDING>\", \"text\": \"a cup\", "
	        "\"image\": {\"url\": \"data:image/jpeg;base64,QUJD\"}, "
	        "\"n_beams\": 2, \"max_new_tokens\": 40}";
	T_ASSERT(serve_parse_task(body, strlen(body), &lim, &r, &err), "%s", err.message);
	T_CHECK(!strcmp(r.task, "caption_to_phrase_grounding") && !strcmp(r.text, "a cup") &&
	                r.n_beams == 2 && r.max_new == 40 && r.n_image == 3,
	        "task %s", r.task);
	serve_req_free(&r);
	static const char no_text[] = "{\"task\": \"caption_to_phrase_grounding\", \"image\": "
	                              "\"data:image/jpeg;base64,QUJD\"}";
	T_ASSERT(!serve_parse_task(no_text, strlen(no_text), &lim, &r, &err) &&
	                 !strcmp(err.param, "text"),
	         "grounding without text");
	static const char beams[] =
	        "{\"task\": \"od\", \"image\": \"data:image/jpeg;base64,QUJD\", "
	        "\"n_beams\": 99}";
	T_ASSERT(!serve_parse_task(beams, strlen(beams), &lim, &r, &err) &&
	                 !strcmp(err.param, "n_beams"),
	         "99 beams");
}

/* JSON strings replace ill-formed UTF-8 as Python's decode("utf-8", "replace") does: one U+FFFD
 * per maximal subpart (what a client decoding the same bytes shows). */
static void test_json_strings_replace_bad_utf8(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"a\xe4\xbb"
	         "b",
	         "\"a\\ufffdb\""},                             /* a truncated 3-byte character */
	        {"\xff\xfe", "\"\\ufffd\\ufffd\""},            /* bytes that never start one */
	        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
	        {"\xf0\x9f\x98", "\"\\ufffd\""},               /* a truncated 4-byte one */
	        {"\xc3\xa9\xe2\x82\xac\"\n", "\"\xc3\xa9\xe2\x82\xac\\\"\\n\""}, /* good */
	        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},        /* past U+10FFFF */
	        {"\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\""},                   /* overlong */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&p, &n);
		T_ASSERT(f, "open_memstream");
		json_string(f, cases[i].in, strlen(cases[i].in));
		fclose(f);
		T_CHECK(!strcmp(p, cases[i].want), "case %zu: %s, want %s", i, p, cases[i].want);
		free(p);
	}
}

void suite_serve(void)
{
	T_RUN(test_json_strings_replace_bad_utf8);
	T_RUN(test_base64_is_strict);
	T_RUN(test_stop_strings_across_pieces);
	T_RUN(test_chat_request_fields);
	T_RUN(test_bad_chat_requests_name_the_field);
	T_RUN(test_task_request_fields);
}
