/* test.h — the minimal test harness: each test is a void function; T_ASSERT records the first
 * failure (with a message saying what was measured) and leaves the test. The runner's last line
 * is "N passed, N failed, N skipped". */
#ifndef FVL_TEST_H
#define FVL_TEST_H

#include <stdbool.h>
#include <stdio.h>

struct t_result {
	bool failed, skipped;
	char msg[512];
};

extern struct t_result *t_cur;

void t_run(const char *name, void (*fn)(void));
void t_failf(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prints a note under the current test (measured values): always shown. */
void t_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh directory for this process's temporary files (removed at exit). */
const char *t_tmpdir(void);
/* Path of a file in the temporary directory. */
const char *t_tmppath(const char *name);
/* Path of a file under tests/data (FVL_TEST_DATA or the source tree). */
const char *t_datapath(const char *name);

#define T_RUN(fn) t_run(#fn, fn)

#define T_ASSERT(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			t_failf(__FILE__, __LINE__, __VA_ARGS__);                                  \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Like T_ASSERT but the test goes on (for loops over cases that each clean up). */
#define T_CHECK(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			t_failf(__FILE__, __LINE__, __VA_ARGS__);                                  \
	} while (0)

#define T_SKIP(...)                                                                                \
	do {                                                                                       \
		t_cur->skipped = true;                                                             \
		snprintf(t_cur->msg, sizeof(t_cur->msg), __VA_ARGS__);                             \
		return;                                                                            \
	} while (0)

/* Suites, one per test file. */
void suite_base(void);
void suite_kernels(void);
void suite_gguf(void);
void suite_convert(void);
void suite_export(void);
void suite_llm(void);
void suite_vision(void);
void suite_tokenizer(void);
void suite_session(void);
void suite_api(void);
void suite_camera(void);
void suite_f2task(void);
void suite_layouts(void);
void suite_threads(void);
void suite_ops(void);
void suite_serve(void);

/* Writes small valid GGUF files into dir (the fuzzer's seed corpus). */
int t_write_gguf_seeds(const char *dir);
/* Writes a small safetensors file and a small torch.save zip into dir. */
int t_write_ckpt_seeds(const char *dir);
/* Writes tokenizers.gguf and model.gguf, the tokenizer and model-load fuzzers' bases, into dir. */
int t_write_fuzz_files(const char *dir);

#endif /* FVL_TEST_H */
