/* serve-reply.c — the JSON the server answers with, in OpenAI's shapes (chat.completion,
 * chat.completion.chunk, error, list) and fvl task --json's for tasks. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

/* A memory stream: open, write with stdio, close to get the text. */
struct mem {
	char *p;
	size_t n;
	FILE *f;
};

static FILE *mem_open(struct mem *m)
{
	m->p = NULL;
	m->n = 0;
	return m->f = open_memstream(&m->p, &m->n);
}

static char *mem_close(struct mem *m)
{
	if (!m->f)
		return NULL;
	const bool bad = ferror(m->f) != 0;
	if (fclose(m->f) || bad) {
		free(m->p);
		return NULL;
	}
	return m->p;
}

static void json_cstr(FILE *f, const char *s)
{
	if (s)
		json_string(f, s, strlen(s));
	else
		fputs("null", f);
}

char *serve_error_json(const struct serve_error *err)
{
	struct mem m;
	FILE *f = mem_open(&m);
	if (!f)
		return NULL;
	fputs("{\"error\": {\"message\": ", f);
	json_cstr(f, err->message);
	fputs(", \"type\": ", f);
	json_cstr(f, err->type);
	fputs(", \"param\": ", f);
	json_cstr(f, err->param);
	fputs(", \"code\": ", f);
	json_cstr(f, err->code);
	fputs("}}", f);
	return mem_close(&m);
}

char *serve_models_json(const char *model_id, long created)
{
	struct mem m;
	FILE *f = mem_open(&m);
	if (!f)
		return NULL;
	fputs("{\"object\": \"list\", \"data\": [{\"id\": ", f);
	json_cstr(f, model_id);
	fprintf(f, ", \"object\": \"model\", \"created\": %ld, \"owned_by\": \"fvl\"}]}", created);
	return mem_close(&m);
}

/* "id", "object", "created", "model" */
static void head(FILE *f, const char *id, const char *object, long created, const char *model)
{
	fputs("{\"id\": ", f);
	json_cstr(f, id);
	fprintf(f, ", \"object\": \"%s\", \"created\": %ld, \"model\": ", object, created);
	json_cstr(f, model);
}

/* An SSE event's start: "data: " and a chunk's id, object, created, model. NULL: no memory. */
static FILE *chunk_open(struct mem *m, const char *id, long created, const char *model)
{
	FILE *f = mem_open(m);
	if (f) {
		fputs("data: ", f);
		head(f, id, "chat.completion.chunk", created, model);
	}
	return f;
}

char *serve_chunk_json(const char *id, long created, const char *model, const char *content,
                       size_t n, bool first, const char *finish)
{
	struct mem m;
	FILE *f = chunk_open(&m, id, created, model);
	if (!f)
		return NULL;
	fputs(", \"choices\": [{\"index\": 0, \"delta\": {", f);
	if (first)
		fputs("\"role\": \"assistant\", \"content\": \"\"", f);
	else if (content) {
		fputs("\"content\": ", f);
		json_string(f, content, n);
	}
	fputs("}, \"finish_reason\": ", f);
	json_cstr(f, finish);
	fputs("}]}\n\n", f);
	return mem_close(&m);
}

static void usage(FILE *f, uint32_t n_prompt, uint32_t n_completion)
{
	fprintf(f,
	        "\"usage\": {\"prompt_tokens\": %u, \"completion_tokens\": %u, \"total_tokens\": "
	        "%u}",
	        n_prompt, n_completion, n_prompt + n_completion);
}

char *serve_usage_chunk_json(const char *id, long created, const char *model, uint32_t n_prompt,
                             uint32_t n_completion)
{
	struct mem m;
	FILE *f = chunk_open(&m, id, created, model);
	if (!f)
		return NULL;
	fputs(", \"choices\": [], ", f);
	usage(f, n_prompt, n_completion);
	fputs("}\n\n", f);
	return mem_close(&m);
}

char *serve_completion_json(const char *id, long created, const char *model, const char *text,
                            size_t n, const char *finish, uint32_t n_prompt, uint32_t n_completion)
{
	struct mem m;
	FILE *f = mem_open(&m);
	if (!f)
		return NULL;
	head(f, id, "chat.completion", created, model);
	fputs(", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": ",
	      f);
	json_string(f, text ? text : "", text ? n : 0);
	fputs("}, \"finish_reason\": ", f);
	json_cstr(f, finish);
	fputs("}], ", f);
	usage(f, n_prompt, n_completion);
	fputc('}', f);
	return mem_close(&m);
}

char *serve_task_json(const struct fvl_task_result *r, uint32_t w, uint32_t h)
{
	struct mem m;
	FILE *f = mem_open(&m);
	if (!f)
		return NULL;
	fputc('{', f);
	json_task_members(f, r);
	fputs(", ", f);
	json_task_search(f, r);
	fprintf(f,
	        ", \"image\": {\"width\": %u, \"height\": %u}, \"ms\": {\"vision\": %.1f, "
	        "\"decode\": %.1f}}",
	        w, h, r->ms_vision, r->ms_decode);
	return mem_close(&m);
}
