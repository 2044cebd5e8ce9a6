/* gguf-print.c — human-readable dump of a GGUF file: metadata, then the tensor table. */
#include <inttypes.h>
#include <string.h>

#include "common.h"
#include "gguf.h"

#define PREVIEW 8 /* array elements shown unless full_arrays */

static void print_str(FILE *f, struct fvl_str s, uint64_t max)
{
	fputc('"', f);
	for (uint64_t i = 0; i < s.n && i < max; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
	if (s.n > max)
		fprintf(f, "... (%" PRIu64 " bytes)", s.n);
}

static void print_scalar(FILE *f, const uint8_t *p, uint32_t type)
{
	struct fvl_gguf_kv one = {.type = type, .n = 1, .data = p};
	int64_t i;
	double d;
	uint64_t u;
	switch (type) {
	case FVL_GGUF_TYPE_BOOL: fputs(p[0] ? "true" : "false", f); break;
	case FVL_GGUF_TYPE_FLOAT32:
	case FVL_GGUF_TYPE_FLOAT64:
		fvl_gguf_kv_float(&one, &d);
		fprintf(f, "%.9g", d);
		break;
	case FVL_GGUF_TYPE_UINT64:
		memcpy(&u, p, 8);
		fprintf(f, "%" PRIu64, u);
		break;
	default:
		fvl_gguf_kv_int(&one, &i);
		fprintf(f, "%" PRId64, i);
		break;
	}
}

void fvl_gguf_print(const struct fvl_gguf *g, FILE *f, bool full_arrays)
{
	uint64_t total = 0;
	fprintf(f,
	        "GGUF v%u: %" PRIu64 " metadata entries, %" PRIu64 " tensors, alignment %u, "
	        "data at offset %" PRIu64 ", file %" PRIu64 " bytes\n",
	        g->version, g->n_kv, g->n_tensors, g->alignment, g->data_offset, g->size);
	fputs("\nmetadata:\n", f);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct fvl_gguf_kv *kv = &g->kv[i];
		fprintf(f, "  %.*s: ", (int)kv->key.n, kv->key.p);
		if (kv->type == FVL_GGUF_TYPE_STRING) {
			struct fvl_str s;
			memcpy(&s.n, kv->data, 8);
			s.p = (const char *)kv->data + 8;
			fputs("str = ", f);
			print_str(f, s, full_arrays ? UINT64_MAX : 200);
		} else if (kv->type == FVL_GGUF_TYPE_ARRAY) {
			uint64_t show = full_arrays || kv->n <= PREVIEW ? kv->n : PREVIEW;
			fprintf(f, "arr[%s, %" PRIu64 "] = [", fvl_gguf_type_name(kv->arr_type),
			        kv->n);
			for (uint64_t j = 0; j < show; j++) {
				if (j)
					fputs(", ", f);
				if (kv->arr_type == FVL_GGUF_TYPE_STRING)
					print_str(f, fvl_gguf_arr_str(kv, j), 64);
				else
					print_scalar(
					        f, kv->data + j * fvl_gguf_value_size(kv->arr_type),
					        kv->arr_type);
			}
			fputs(show < kv->n ? ", ...]" : "]", f);
		} else {
			fprintf(f, "%s = ", fvl_gguf_type_name(kv->type));
			print_scalar(f, kv->data, kv->type);
		}
		fputc('\n', f);
	}
	fprintf(f, "\ntensors:\n  %-5s %-48s %-5s %-28s %14s %14s\n", "#", "name", "type", "shape",
	        "offset", "bytes");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct fvl_gguf_tensor *t = &g->tensors[i];
		char shape[96];
		int n = snprintf(shape, sizeof(shape), "[");
		for (uint32_t d = 0; d < t->n_dims; d++)
			n += snprintf(shape + n, sizeof(shape) - (size_t)n, "%s%" PRIu64,
			              d ? ", " : "", t->ne[d]);
		snprintf(shape + n, sizeof(shape) - (size_t)n, "]");
		fprintf(f, "  %-5" PRIu64 " %-48.*s %-5s %-28s %14" PRIu64 " %14" PRIu64 "\n", i,
		        (int)t->name.n, t->name.p, fvl_type_info(t->type)->name, shape, t->offset,
		        t->n_bytes);
		total += t->n_bytes;
	}
	fprintf(f, "\n%" PRIu64 " tensors, %" PRIu64 " bytes of tensor data (%.2f MiB)\n",
	        g->n_tensors, total, (double)total / (1024.0 * 1024.0));
}
