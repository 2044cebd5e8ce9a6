/* f2post.c — Florence-2 task prompts and post-processing, following processing_florence2.py
 * (_construct_prompts, Florence2PostProcesser). The parsers walk the text the way its regular
 * expressions do, so odd text gives the same (possibly empty) answer, never a crash. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "f2post.h"

static const struct fvl_task_info tasks[] = {
	{"caption", "<CAPTION>", FVL_TASK_TEXT, false},
	{"detailed_caption", "<DETAILED_CAPTION>", FVL_TASK_TEXT, false},
	{"more_detailed_caption", "<MORE_DETAILED_CAPTION>", FVL_TASK_TEXT, false},
	{"ocr", "<OCR>", FVL_TASK_TEXT, false},
	{"ocr_with_region", "<OCR_WITH_REGION>", FVL_TASK_QUADS, false},
	{"od", "<OD>", FVL_TASK_BOXES, false},
	{"dense_region_caption", "<DENSE_REGION_CAPTION>", FVL_TASK_BOXES, false},
	{"region_proposal", "<REGION_PROPOSAL>", FVL_TASK_PROPOSALS, false},
	{"caption_to_phrase_grounding", "<CAPTION_TO_PHRASE_GROUNDING>", FVL_TASK_GROUNDING, true},
	{"open_vocabulary_detection", "<OPEN_VOCABULARY_DETECTION>", FVL_TASK_BOXES, true},
	{"region_to_category", "<REGION_TO_CATEGORY>", FVL_TASK_TEXT, true},
	{"region_to_description", "<REGION_TO_DESCRIPTION>", FVL_TASK_TEXT, true},
	{"region_to_ocr", "<REGION_TO_OCR>", FVL_TASK_TEXT, true},
};

const struct fvl_task_info *fvl_task_list(size_t *n)
{
	*n = sizeof(tasks) / sizeof(tasks[0]);
	return tasks;
}

const struct fvl_task_info *fvl_task_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(tasks) / sizeof(tasks[0]); i++)
		if (strcasecmp(name, tasks[i].name) == 0 || strcasecmp(name, tasks[i].token) == 0)
			return &tasks[i];
	return NULL;
}

enum fvl_status fvl_task_prompt(const struct fvl_task_info *task, const char *tmpl,
                                const char *text, char **out)
{
	const char *at = strstr(tmpl, "{input}");
	*out = NULL;
	if (task->takes_text && (!text || !*text))
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "task %s needs --text (%s)", task->name,
		                tmpl);
	if (!task->takes_text && text && *text)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "task %s takes no text", task->name);
	const size_t n = strlen(tmpl) + (text ? strlen(text) : 0) + 1;
	char *s = malloc(n);
	if (!s)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (at && text)
		snprintf(s, n, "%.*s%s%s", (int)(at - tmpl), tmpl, text, at + 7);
	else
		snprintf(s, n, "%s", tmpl);
	*out = s;
	return FVL_STATUS_OK;
}

void fvl_task_result_free(struct fvl_task_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_items; i++)
		free(r->items[i].label);
	free(r->items);
	free(r->text);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

/* ---- parsing ----------------------------------------------------------------------------------- */

/* "<loc_N>" at p: N in *v, returns its length (0 if p is not one). */
static size_t loc_at(const char *p, long *v)
{
	if (strncmp(p, "<loc_", 5) != 0)
		return 0;
	size_t i = 5;
	long x = 0;
	while (isdigit((unsigned char)p[i]) && i < 5 + 9)
		x = x * 10 + (p[i++] - '0');
	if (i == 5 || p[i] != '>')
		return 0;
	*v = x;
	return i + 1;
}

/* Consecutive location tokens at p, up to cap values; returns how many, *end after them. */
static size_t locs_at(const char *p, long *v, size_t cap, const char **end)
{
	size_t n = 0, len;
	long x;
	while ((len = loc_at(p, &x)) != 0) {
		if (n < cap)
			v[n] = x;
		n++;
		p += len;
	}
	*end = p;
	return n;
}

/* Copy of s without every occurrence of the given tokens. */
static char *strip_tokens(const char *s, const char *const *tok, size_t n_tok)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	while (*s) {
		size_t skip = 0;
		for (size_t i = 0; i < n_tok && !skip; i++)
			if (strncmp(s, tok[i], strlen(tok[i])) == 0)
				skip = strlen(tok[i]);
		if (skip) {
			s += skip;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static enum fvl_status push(struct fvl_task_result *r, size_t *cap, const char *label, size_t n_label,
                            const double *c, uint32_t n_c)
{
	if (r->n_items == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		struct fvl_task_item *it = realloc(r->items, nc * sizeof(*it));
		if (!it)
			return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		r->items = it, *cap = nc;
	}
	struct fvl_task_item *it = &r->items[r->n_items];
	it->label = malloc(n_label + 1);
	if (!it->label)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	memcpy(it->label, label, n_label);
	it->label[n_label] = '\0';
	for (uint32_t i = 0; i < n_c; i++)
		it->coords[i] = (float)c[i];
	it->n_coords = n_c;
	r->n_items++;
	return FVL_STATUS_OK;
}

/* Bin centres to pixels: (bin + 0.5) * side / 1000, less the padding offset. */
static void dequantize(const struct fvl_task_geom *g, const long *bins, size_t n, double *out)
{
	const double sw = g->side ? g->side : g->w, sh = g->side ? g->side : g->h;
	for (size_t i = 0; i < n; i++)
		out[i] = i % 2 == 0 ? ((double)bins[i] + 0.5) * sw / 1000.0 - g->off_x :
		                      ((double)bins[i] + 0.5) * sh / 1000.0 - g->off_y;
}

/* The pronouns and fillers phrase grounding drops (the post-processor's black list). */
static bool blacklisted(const char *p, size_t n)
{
	static const char *const words[] = {
		"it", "I", "me", "mine", "you", "your", "yours", "he", "him", "his", "she", "her",
		"hers", "they", "them", "their", "theirs", "one", "oneself", "we", "us", "our", "ours",
		"its", "myself", "yourself", "himself", "herself", "itself", "ourselves", "yourselves",
		"themselves", "this", "that", "these", "those", "who", "whom", "whose", "which", "what",
		"all", "another", "any", "anybody", "anyone", "anything", "each", "everybody",
		"everyone", "everything", "few", "many", "nobody", "none", "several", "some",
		"somebody", "someone", "something", "each other", "one another", "the image", "image",
		"images", "the", "a", "an", "a group", "other objects", "lots", "a set"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
			return true;
	return false;
}

/* Boxes after phrases: the matches of ([^<]+(?:<loc_\d+>){4,}), or with empty phrases allowed
 * of (?:<loc_\d+>){4,}; each phrase's label is its text stripped, ASCII only; every 4
 * locations make a box. */
static enum fvl_status parse_boxes(const char *t, const struct fvl_task_geom *g, bool empty_phrase,
                                   bool grounding, struct fvl_task_result *r)
{
	size_t cap = 0;
	const char *p = t;
	long bins[4096];
	while (*p) {
		const char *run = p, *end;
		if (!empty_phrase) {
			if (*p == '<') {
				p++;
				continue;
			}
			while (*p && *p != '<')
				p++;
		}
		const size_t n_loc = locs_at(p, bins, sizeof(bins) / sizeof(bins[0]), &end);
		if (n_loc < 4) {
			p = empty_phrase ? p + 1 : p;
			continue;
		}
		/* label: ^\s*(.*?) up to the first location ('.' stops at a newline), stripped */
		const char *a = run, *b = p;
		while (a < b && isspace((unsigned char)*a))
			a++;
		bool ok = true;
		for (const char *c = a; c < b && ok; c++)
			ok = *c != '\n';
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (ok && grounding && blacklisted(a, (size_t)(b - a)))
			ok = false;
		char label[512];
		size_t n_label = 0;
		for (const char *c = a; c < b && n_label < sizeof(label) - 1; c++)
			if ((unsigned char)*c < 0x80)
				label[n_label++] = *c;
		const size_t n_box = (n_loc < sizeof(bins) / sizeof(bins[0]) ? n_loc : 4096) / 4;
		for (size_t i = 0; ok && i < n_box; i++) {
			double c[4];
			dequantize(g, bins + 4 * i, 4, c);
			enum fvl_status st = push(r, &cap, label, n_label, c, 4);
			if (st != FVL_STATUS_OK)
				return st;
		}
		p = end;
	}
	return FVL_STATUS_OK;
}

/* OCR lines: the matches of (.+?)(<loc_\d+>){8} ('.' stops at a newline). */
static enum fvl_status parse_quads(const char *t, const struct fvl_task_geom *g,
                                   struct fvl_task_result *r)
{
	size_t cap = 0;
	const char *p = t;
	while (*p) {
		if (*p == '\n') {
			p++;
			continue;
		}
		const char *e = p + 1, *end = NULL;
		long bins[8];
		for (; *e; e++) {
			if (e[-1] == '\n')
				break;
			const char *stop;
			long v[8];
			if (locs_at(e, v, 8, &stop) >= 8) {
				memcpy(bins, v, sizeof(bins));
				/* exactly 8: the lazy label stops at the first position 8 follow */
				const char *q = e;
				for (int i = 0; i < 8; i++) {
					long x;
					q += loc_at(q, &x);
				}
				end = q;
				break;
			}
		}
		if (!end) { /* no line from here on: skip to after the next newline, or stop */
			const char *nl = strchr(p, '\n');
			if (!nl)
				break;
			p = nl + 1;
			continue;
		}
		double c[8];
		dequantize(g, bins, 8, c);
		enum fvl_status st = push(r, &cap, p, (size_t)(e - p), c, 8);
		if (st != FVL_STATUS_OK)
			return st;
		p = end;
	}
	return FVL_STATUS_OK;
}

enum fvl_status fvl_task_parse(const struct fvl_task_info *task, const char *text,
                               const struct fvl_task_geom *geom, struct fvl_task_result *r)
{
	static const char *const specials[] = {"<s>", "</s>", "<pad>"};
	enum fvl_status st = FVL_STATUS_OK;
	r->task = task->token;
	r->item_coords = task->kind == FVL_TASK_TEXT ? 0 : task->kind == FVL_TASK_QUADS ? 8 : 4;
	r->text = strip_tokens(text, specials, 3);
	if (!r->text)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	switch (task->kind) {
	case FVL_TASK_TEXT:
		break;
	case FVL_TASK_BOXES:
		st = parse_boxes(r->text, geom, false, false, r);
		break;
	case FVL_TASK_PROPOSALS:
		st = parse_boxes(r->text, geom, true, false, r);
		break;
	case FVL_TASK_GROUNDING:
		st = parse_boxes(r->text, geom, false, true, r);
		break;
	case FVL_TASK_QUADS:
		st = parse_quads(r->text, geom, r);
		break;
	}
	return st;
}
