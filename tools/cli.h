/* cli.h — helpers the command-line tools share: option values and JSON output. */
#ifndef FVL_TOOLS_CLI_H
#define FVL_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "fvl.h"

/* A decimal integer in [lo, hi] (the whole string), or false. */
bool parse_long(const char *s, long lo, long hi, long *out);
/* A number in [lo, hi] (the whole string), or false. */
bool parse_float(const char *s, double lo, double hi, float *out);

/* s (n bytes) as a quoted JSON string; bytes that are not well-formed UTF-8 become U+FFFD. */
void json_string(FILE *f, const char *s, size_t n);
/* A task result as JSON members (no braces): "task", "text", "ids", and "bboxes"/"quad_boxes"
 * with "labels" when the task gives regions. */
void json_task_members(FILE *f, const struct fvl_task_result *r);
/* The search that ran, as the JSON member "search". */
void json_task_search(FILE *f, const struct fvl_task_result *r);

/* -v (1): the library's info lines on stderr (model load, fallbacks, lazy loads, retries); -vv
 * (2): debug lines too; 0: warnings and errors only (the default). */
void verbose_logging(int verbosity);

/* A usage error: "fvl CMD: <fmt with arg> (try 'HELP')" on stderr; returns the exit status 2. */
int usage_error(const char *cmd, const char *help, const char *fmt, const char *arg);

/* dir/name.npy: float32 of shape (a, b), or (a,) when b is 0. 0 on success, -1 (errno set). */
int write_npy(const char *dir, const char *name, const float *x, size_t a, size_t b);
/* mkdir dir unless it is a folder already; 0 on success, -1 (errno set). */
int make_dump_dir(const char *dir);

/* The text of file path ("-": standard input), at most cap bytes, NUL-terminated (malloc'd); NULL
 * with the reason in why for a missing file, a directory, a read error, more than cap bytes or a
 * NUL byte. */
char *read_text(const char *path, size_t cap, char *why, size_t why_n);

/* The CPU's feature lines ("asimd: yes", ...), as `fvl cpu` and `fvl doctor` print them. */
void print_cpu_features(const struct fvl_system_info *si);
/* The kernel table: each contract and the function that runs it, and the f16 weights' path. */
void print_kernels(const struct fvl_system_info *si);

#endif
