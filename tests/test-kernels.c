/* test-kernels.c — every NEON kernel variant against its scalar twin over awkward shapes. A variant
 * that this CPU (or this build) cannot run is reported as skipped, never passed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "kernels.h"
#include "rng.h"
#include "test.h"

static void fill_q8_0(struct rng *r, struct fvl_block_q8_0 *b, size_t nb, int mode)
{
	for (size_t i = 0; i < nb; i++) {
		b[i].d = fvl_fp32_to_fp16(mode == 1 ? 1.0f : 1e-3f + rng_f32(r));
		for (int j = 0; j < FVL_QK; j++)
			b[i].qs[j] = (int8_t)(mode == 1 ? -128 : rng_int(r, -128, 127));
	}
}

static void check_q8_0_q8_dot(enum fvl_isa isa)
{
	static const size_t blocks[] = {1, 2, 3, 7, 31, 33, 257, 512};
	struct fvl_cpu cpu;
	struct fvl_kernels k;
	struct rng r = {0x9e3779b97f4a7c15ull};
	double worst = 0;

	fvl_cpu_detect(&cpu);
	if (fvl_kernels_init(&k, &cpu, fvl_isa_name(isa)) != FVL_STATUS_OK)
		T_SKIP("%s: this CPU or build cannot run it", fvl_isa_name(isa));
	struct fvl_block_q8_0 *x = malloc(512 * sizeof(*x)), *y = malloc(512 * sizeof(*y));
	T_ASSERT(x && y, "out of memory");
	for (int mode = 0; mode < 2; mode++) {
		for (size_t s = 0; s < sizeof(blocks) / sizeof(blocks[0]); s++) {
			size_t nb = blocks[s], n = nb * FVL_QK;
			fill_q8_0(&r, x, nb, mode);
			fill_q8_0(&r, y, nb, mode);
			float want = fvl_q8_0_q8_dot__scalar(n, x, y);
			float got = k.q8_0_q8_dot(n, x, y);
			double mag = 0; /* sum of |terms|: the scale of float rounding differences */
			for (size_t b = 0; b < nb; b++)
				mag += fabs((double)fvl_fp16_to_fp32(x[b].d) * fvl_fp16_to_fp32(y[b].d)) *
				       FVL_QK * 128 * 128;
			double err = fabs((double)got - want) / mag;
			if (err > worst)
				worst = err;
			if (err > 1e-6) {
				free(x);
				free(y);
				T_ASSERT(0, "%s n=%zu: got %.9g, scalar %.9g (rel err %.3g)", k.q8_0_q8_dot_name,
				         n, got, want, err);
			}
		}
	}
	free(x);
	free(y);
	t_note("%s: worst error %.3g (relative to sum |terms|), n = 32..16384",
	       k.q8_0_q8_dot_name, worst);
}

static void test_q8_0_q8_dot_baseline_matches_scalar(void) { check_q8_0_q8_dot(FVL_ISA_BASELINE); }
static void test_q8_0_q8_dot_dotprod_matches_scalar(void) { check_q8_0_q8_dot(FVL_ISA_DOTPROD); }
static void test_q8_0_q8_dot_i8mm_matches_scalar(void) { check_q8_0_q8_dot(FVL_ISA_I8MM); }

static void test_q8_0_q8_dot_scalar_on_a_hand_computed_case(void)
{
	struct fvl_block_q8_0 x[2], y[2];
	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	x[0].d = fvl_fp32_to_fp16(0.5f);
	y[0].d = fvl_fp32_to_fp16(2.0f);
	x[1].d = fvl_fp32_to_fp16(0.25f);
	y[1].d = fvl_fp32_to_fp16(4.0f);
	for (int j = 0; j < FVL_QK; j++) {
		x[0].qs[j] = (int8_t)j;      /* sum j*1 = 496 */
		y[0].qs[j] = 1;
		x[1].qs[j] = (int8_t)(j % 2 ? -3 : 3);
		y[1].qs[j] = 2;              /* sum = 0 */
	}
	float got = fvl_q8_0_q8_dot__scalar(64, x, y);
	T_ASSERT(got == 496.0f, "got %g, expected 496", got);
}

void suite_kernels(void)
{
	T_RUN(test_q8_0_q8_dot_scalar_on_a_hand_computed_case);
	T_RUN(test_q8_0_q8_dot_baseline_matches_scalar);
	T_RUN(test_q8_0_q8_dot_dotprod_matches_scalar);
	T_RUN(test_q8_0_q8_dot_i8mm_matches_scalar);
}
