/* cli.c — option parsing and JSON output shared by fvl's commands. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool parse_float(const char *s, double lo, double hi, float *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return false;
	*out = (float)v;
	return true;
}

/* The length of the well-formed UTF-8 character at s (n bytes left) as a positive number, or
 * minus the length of the ill-formed sequence there: its lead byte and the continuation bytes that
 * still fitted it (Unicode's "maximal subpart", one U+FFFD each, as Python's decode("utf-8",
 * "replace") counts them). */
static long utf8_len(const unsigned char *s, size_t n)
{
	const unsigned c = s[0];
	const size_t len = c >= 0xf0 && c <= 0xf4  ? 4
	                   : c >= 0xe0             ? 3
	                   : c >= 0xc2 && c < 0xe0 ? 2
	                                           : 0;
	if (len == 0)
		return -1;
	/* the second byte's range depends on the lead (no overlongs, surrogates, > U+10FFFF) */
	const unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	const unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	size_t k = 1;
	for (; k < len && k < n; k++)
		if (k == 1 ? s[1] < lo || s[1] > hi : (s[k] & 0xc0) != 0x80)
			break;
	return k == len ? (long)len : -(long)k;
}

void json_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else if (c < 0x80)
			fputc(c, f);
		else {
			const long len = utf8_len((const unsigned char *)s + i, n - i);
			if (len > 0)
				fwrite(s + i, 1, (size_t)len, f);
			else
				fputs("\\ufffd", f); /* not UTF-8: the replacement character */
			i += (size_t)(len > 0 ? len : -len) - 1;
		}
	}
	fputc('"', f);
}

void json_task_members(FILE *f, const struct fvl_task_result *r)
{
	fputs("\"task\": ", f);
	json_string(f, r->task, strlen(r->task));
	fputs(", \"text\": ", f);
	json_string(f, r->text ? r->text : "", r->text ? strlen(r->text) : 0);
	fputs(", \"ids\": [", f);
	for (size_t i = 0; i < r->n_ids; i++)
		fprintf(f, "%s%d", i ? ", " : "", r->ids[i]);
	fputc(']', f);
	if (r->item_coords == 0)
		return;
	fprintf(f, ", \"%s\": [", r->item_coords == 8 ? "quad_boxes" : "bboxes");
	for (size_t i = 0; i < r->n_items; i++) {
		fputs(i ? ", [" : "[", f);
		for (uint32_t j = 0; j < r->items[i].n_coords; j++)
			fprintf(f, "%s%.2f", j ? ", " : "", r->items[i].coords[j]);
		fputc(']', f);
	}
	fputs("], \"labels\": [", f);
	for (size_t i = 0; i < r->n_items; i++) {
		fputs(i ? ", " : "", f);
		json_string(f, r->items[i].label, strlen(r->items[i].label));
	}
	fputc(']', f);
}

void json_task_search(FILE *f, const struct fvl_task_result *r)
{
	const struct fvl_task_search *s = &r->search;
	fprintf(f,
	        "\"search\": {\"beams\": %u, \"max_new\": %u, \"no_repeat_ngram\": %u, "
	        "\"early_stopping\": %s, \"forced_bos_id\": %d, \"forced_eos\": %s, "
	        "\"length_penalty\": %.2f}",
	        s->n_beams, s->max_new, s->no_repeat_ngram, s->early_stopping ? "true" : "false",
	        s->forced_bos_id, s->forced_eos ? "true" : "false", (double)s->length_penalty);
}

void print_cpu_features(const struct fvl_system_info *si)
{
	printf("asimd: %s\nfp16: %s\ndotprod: %s\ni8mm: %s\n", si->asimd ? "yes" : "no",
	       si->fp16 ? "yes" : "no", si->dotprod ? "yes" : "no", si->i8mm ? "yes" : "no");
	if (si->simde) /* x86-64 host: the native GEMMs need AVX2 + FMA + F16C, then VNNI */
		printf("avx2: %s\navxvnni: %s\navx512vnni: %s\n", si->avx2 ? "yes" : "no",
		       si->avxvnni ? "yes" : "no", si->avx512vnni ? "yes" : "no");
}

void print_kernels(const struct fvl_system_info *si)
{
	for (size_t i = 0; i < si->n_kernels; i++)
		printf("  %-16s %s\n", si->kernels[i].contract, si->kernels[i].function);
	printf("  %-16s %s\n", "f16 weights", si->f16_weights);
}

static void log_to_stderr(enum fvl_log_level level, const char *msg, void *user)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	(void)user;
	fprintf(stderr, "fvl: %s: %s\n", names[level <= FVL_LOG_DEBUG ? level : FVL_LOG_DEBUG],
	        msg);
}

void verbose_logging(int verbosity)
{
	if (verbosity > 0)
		fvl_log_set(log_to_stderr, NULL, verbosity > 1 ? FVL_LOG_DEBUG : FVL_LOG_INFO);
}

int usage_error(const char *cmd, const char *help, const char *fmt, const char *arg)
{
	fprintf(stderr, "fvl %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try '%s')\n", help);
	return 2;
}

/* A float32 .npy file of the given shape. */
int write_npy(const char *dir, const char *name, const float *x, size_t a, size_t b)
{
	char path[4096], hdr[128];
	snprintf(path, sizeof(path), "%s/%s.npy", dir, name);
	int n = b ? snprintf(hdr, sizeof(hdr),
	                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", a,
	                     b)
	          : snprintf(hdr, sizeof(hdr),
	                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }", a);
	while ((10 + n + 1) % 64)
		hdr[n++] = ' ';
	hdr[n++] = '\n';
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	uint16_t hl = (uint16_t)n;
	bool ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fwrite(&hl, 2, 1, f) == 1 &&
	          fwrite(hdr, 1, (size_t)n, f) == (size_t)n &&
	          fwrite(x, sizeof(float), a * (b ? b : 1), f) == a * (b ? b : 1);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int make_dump_dir(const char *dir)
{
	struct stat sb;
	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	return -1;
}

char *read_text(const char *path, size_t cap, char *why, size_t why_n)
{
	const bool in = strcmp(path, "-") == 0;
	FILE *f = in ? stdin : fopen(path, "rb");
	struct stat sb;
	if (!f) {
		snprintf(why, why_n, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(why, why_n, "%s: is a directory, not a text file",
		         in ? "standard input" : path);
		if (!in)
			fclose(f);
		return NULL;
	}
	char *buf = malloc(cap + 1);
	size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
	const bool err = !buf || ferror(f);
	if (!in)
		fclose(f);
	if (err || n > cap) {
		snprintf(why, why_n, "%s: %s", in ? "standard input" : path,
		         !buf  ? "out of memory"
		         : err ? "read error"
		               : "longer than the 1 MB a question may have");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (memchr(buf, 0, n)) {
		snprintf(why, why_n, "%s: holds a NUL byte (not text)",
		         in ? "standard input" : path);
		free(buf);
		return NULL;
	}
	return buf;
}
