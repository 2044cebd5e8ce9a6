/* test-base.c — status words, errors, fp16/bf16 conversions, CPU detection and the kernel table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fp16.h"
#include "kernels.h"
#include "linear.h"
#include "pool.h"
#include "test.h"

static void test_status_words_are_distinct(void)
{
	for (int a = FVL_STATUS_OK; a <= FVL_STATUS_CANCELLED; a++) {
		T_ASSERT(fvl_status_str(a) && *fvl_status_str(a), "status %d has no words", a);
		for (int b = a + 1; b <= FVL_STATUS_CANCELLED; b++)
			T_ASSERT(strcmp(fvl_status_str(a), fvl_status_str(b)) != 0,
			         "statuses %d and %d share '%s'", a, b, fvl_status_str(a));
	}
	T_ASSERT(strcmp(fvl_status_str((enum fvl_status)999), "unknown status") == 0, "bad status");
}

static void test_last_error_holds_the_message(void)
{
	enum fvl_status st = fvl_fail(FVL_STATUS_BAD_FILE, "tensor '%s' is %d bytes", "x", 7);
	T_ASSERT(st == FVL_STATUS_BAD_FILE, "fvl_fail returned %d", st);
	T_ASSERT(strcmp(fvl_last_error(), "tensor 'x' is 7 bytes") == 0, "got '%s'",
	         fvl_last_error());
	fvl_error_prefix("model.gguf");
	T_ASSERT(strcmp(fvl_last_error(), "model.gguf: tensor 'x' is 7 bytes") == 0, "got '%s'",
	         fvl_last_error());
	fvl_error_clear();
	T_ASSERT(fvl_last_error()[0] == '\0', "not cleared");
}

static void test_fp16_roundtrips_every_half(void)
{
	int mismatches = 0;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = fvl_fp16_to_fp32((uint16_t)h);
		if (isnan(f))
			continue;
		if (fvl_fp32_to_fp16(f) != h)
			mismatches++;
	}
	T_ASSERT(mismatches == 0, "%d halves do not round-trip", mismatches);
}

static void test_fp16_rounds_to_nearest_even(void)
{
	static const struct {
		float f;
		uint16_t h;
	} cases[] = {
	        {1.0f, 0x3c00},
	        {-2.0f, 0xc000},
	        {65504.0f, 0x7bff},
	        {65520.0f, 0x7c00},
	        {1.0f + 0x1p-11f, 0x3c00},     /* halfway, rounds to even */
	        {1.0f + 3 * 0x1p-11f, 0x3c02}, /* halfway, rounds up to even */
	        {0x1p-24f, 0x0001},
	        {0x1p-26f, 0x0000},
	        {0.1f, 0x2e66},
	        {-0.0f, 0x8000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t h = fvl_fp32_to_fp16(cases[i].f);
		T_ASSERT(h == cases[i].h, "fp16(%a) = %04x, expected %04x", cases[i].f, h,
		         cases[i].h);
	}
	T_ASSERT(isnan(fvl_fp16_to_fp32(fvl_fp32_to_fp16(NAN))), "nan lost");
	T_ASSERT(fvl_fp16_to_fp32(0x0001) == 0x1p-24f, "smallest subnormal");
}

static void test_bf16_rounds_to_nearest_even(void)
{
	T_ASSERT(fvl_fp32_to_bf16(1.0f) == 0x3f80, "1.0");
	T_ASSERT(fvl_fp32_to_bf16(fvl_bits_to_f32(0x3f808000u)) == 0x3f80, "tie to even, down");
	T_ASSERT(fvl_fp32_to_bf16(fvl_bits_to_f32(0x3f818000u)) == 0x3f82, "tie to even, up");
	T_ASSERT(fvl_fp32_to_bf16(fvl_bits_to_f32(0x3f808001u)) == 0x3f81, "above half");
	T_ASSERT(fvl_bf16_to_fp32(0xc000) == -2.0f, "bf16 -> f32");
	T_ASSERT(isnan(fvl_bf16_to_fp32(fvl_fp32_to_bf16(NAN))), "nan lost");
}

static void test_cpu_features_pick_a_kernel_variant(void)
{
	struct fvl_cpu cpu;
	struct fvl_kernels k;
	fvl_cpu_detect(&cpu);
	T_ASSERT(fvl_kernels_init(&k, &cpu, NULL) == FVL_KERNELS_OK, "default init failed");
	t_note("cpu: %s%s asimd: %s fp16: %s dotprod: %s i8mm: %s", cpu.arch,
	       cpu.simde ? " (NEON via SIMDe)" : "", cpu.asimd ? "yes" : "no",
	       cpu.fp16 ? "yes" : "no", cpu.dotprod ? "yes" : "no", cpu.i8mm ? "yes" : "no");
	t_note("kernel variant selected: %s (q4_0x4_q8_gemm = %s)", fvl_isa_name(k.isa),
	       fvl_kernel_name(&k, "q4_0x4_q8_gemm"));
	T_ASSERT(k.isa == fvl_isa_best(&cpu), "selected %s, best is %s", fvl_isa_name(k.isa),
	         fvl_isa_name(fvl_isa_best(&cpu)));
	/* The table never picks a variant the CPU lacks. */
	if (!cpu.dotprod)
		for (size_t i = 0; i < k.n_names; i++)
			T_ASSERT(strstr(k.names[i].function, "neondot") == NULL,
			         "%s on a CPU without "
			         "dotprod",
			         k.names[i].function);
	const char *env = getenv("FVL_ISA");
	if (env && *env) {
		enum fvl_isa want;
		T_ASSERT(fvl_isa_from_name(env, &want), "FVL_ISA=%s is not a variant", env);
		enum fvl_kernels_status st = fvl_kernels_init(&k, &cpu, env);
		if (fvl_isa_supported(&cpu, want))
			T_ASSERT(st == FVL_KERNELS_OK && k.isa == want, "FVL_ISA=%s not honoured",
			         env);
		else
			T_ASSERT(st == FVL_KERNELS_ISA_UNSUPPORTED,
			         "FVL_ISA=%s accepted on a CPU without it", env);
		t_note("FVL_ISA=%s -> %s", env,
		       st == FVL_KERNELS_OK ? fvl_isa_name(k.isa) : "unsupported here");
	}
}

static void test_isa_override_is_checked(void)
{
	struct fvl_cpu cpu;
	struct fvl_kernels k;
	fvl_cpu_detect(&cpu);
	T_ASSERT(fvl_kernels_init(&k, &cpu, "avx9000") == FVL_KERNELS_UNKNOWN_ISA, "bad name");
	for (int i = 0; i < FVL_ISA_N; i++) {
		enum fvl_kernels_status st =
		        fvl_kernels_init(&k, &cpu, fvl_isa_name((enum fvl_isa)i));
		if (fvl_isa_supported(&cpu, (enum fvl_isa)i))
			T_ASSERT(st == FVL_KERNELS_OK && k.isa == (enum fvl_isa)i, "%s refused",
			         fvl_isa_name((enum fvl_isa)i));
		else
			T_ASSERT(st == FVL_KERNELS_ISA_UNSUPPORTED,
			         "%s accepted without the feature", fvl_isa_name((enum fvl_isa)i));
	}
	/* A CPU without dotprod must refuse the dotprod table. */
	struct fvl_cpu a72 = {.arch = "aarch64", .asimd = true};
	T_ASSERT(fvl_kernels_init(&k, &a72, "dotprod") == FVL_KERNELS_ISA_UNSUPPORTED,
	         "a72 dotprod");
	T_ASSERT(fvl_kernels_init(&k, &a72, NULL) == FVL_KERNELS_OK && k.isa == FVL_ISA_BASELINE,
	         "a72 picks %s", fvl_isa_name(k.isa));
}

static void quiet_log(enum fvl_log_level level, const char *msg, void *user)
{
	(void)level;
	snprintf(user, 256, "%s", msg);
}

/* More threads than CPUs only wait for each other: the pool is clamped to the CPUs this
 * process may run on, with a warning; 0 means all of them. */
static void test_threads_are_clamped_to_the_cpus(void)
{
	struct fvl_compute compute;
	char said[256] = "";
	const size_t avail = fvl_cpus_available();
	fvl_log_set(quiet_log, said, FVL_LOG_WARN);
	T_ASSERT(fvl_compute_init(&compute, 256, NULL) == FVL_STATUS_OK, "%s", fvl_last_error());
	const size_t got = fvl_pool_threads(compute.pool);
	fvl_compute_rest(&compute);
	fvl_compute_free(&compute);
	T_ASSERT(fvl_compute_init(&compute, 0, NULL) == FVL_STATUS_OK, "%s", fvl_last_error());
	const size_t all = fvl_pool_threads(compute.pool);
	fvl_compute_free(&compute);
	fvl_log_set(NULL, NULL, FVL_LOG_WARN);
	t_note("256 threads asked, %zu CPUs available: %zu used (\"%s\"); 0 asked: %zu", avail, got,
	       said, all);
	T_ASSERT(avail >= 1 && got == avail && all == avail && strstr(said, "256 threads"),
	         "clamped to %zu, default %zu, of %zu", got, all, avail);
}

void suite_base(void)
{
	T_RUN(test_status_words_are_distinct);
	T_RUN(test_last_error_holds_the_message);
	T_RUN(test_fp16_roundtrips_every_half);
	T_RUN(test_fp16_rounds_to_nearest_even);
	T_RUN(test_bf16_rounds_to_nearest_even);
	T_RUN(test_cpu_features_pick_a_kernel_variant);
	T_RUN(test_isa_override_is_checked);
	T_RUN(test_threads_are_clamped_to_the_cpus);
}
