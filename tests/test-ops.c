/* test-ops.c — the non-GEMM kernels split over the pool (runtime/ops.c) give exactly what one call
 * of the kernel gives, for 1, 2 and 3 threads and shapes that split unevenly; and the whole vision
 * side gives the same bits at 1 and 2 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "fvl.h"
#include "golden.h"
#include "ops.h"
#include "pool.h"
#include "rng.h"
#include "test.h"

static float *rand_buf(struct rng *r, size_t n, float scale)
{
	float *p = malloc(n * sizeof(float));
	for (size_t i = 0; p && i < n; i++)
		p[i] = (2.0f * rng_f32(r) - 1.0f) * scale;
	return p;
}

/* A compute context with a pool of exactly n threads (fvl_compute_init clamps to the CPUs). */
static bool compute_with(struct fvl_compute *c, size_t n)
{
	if (fvl_compute_init(c, 1, NULL) != FVL_STATUS_OK)
		return false;
	fvl_pool_free(c->pool);
	return fvl_pool_init(n, &c->pool) == FVL_STATUS_OK;
}

#define EQ(a, b, n) (memcmp((a), (b), (n) * sizeof(float)) == 0)

static void test_ops_split_across_threads_equal_one_call(void)
{
	struct rng r = {0x0b5e55ed};
	const size_t m = 301, n = 97, h = 37, w = 23, c = 36; /* odd shapes, uneven splits */
	float *x = rand_buf(&r, m * n * 2, 2.0f), *g = rand_buf(&r, n, 1.0f),
	      *b = rand_buf(&r, n, 1.0f), *want = malloc(m * n * 2 * sizeof(float)),
	      *got = malloc(m * n * 2 * sizeof(float));
	float *img = rand_buf(&r, h * w * c, 1.0f), *taps = rand_buf(&r, 9 * c, 1.0f);
	/* attention: 6 query heads over 2 kv heads, 150 queries after 40 cached, causal */
	const size_t nq = 150, nkv = 190, heads = 6, kvh = 2, hd = 16;
	float *q = rand_buf(&r, nq * heads * hd, 1.0f), *kv = rand_buf(&r, nkv * kvh * hd, 1.0f),
	      *vv = rand_buf(&r, nkv * kvh * hd, 1.0f);
	T_ASSERT(x && g && b && want && got && img && taps && q && kv && vv, "oom");
	struct fvl_compute c1 = {0};
	T_ASSERT(compute_with(&c1, 1), "%s", fvl_last_error());
	const struct fvl_kernels *k = &c1.kernels;
	for (size_t threads = 1; threads <= 3; threads++) {
		struct fvl_compute ct = {0};
		T_ASSERT(compute_with(&ct, threads), "%s", fvl_last_error());
		k->layernorm(m, n, x, g, b, 1e-5f, want);
		fvl_op_layernorm(&ct, m, n, x, g, b, 1e-5f, got);
		T_CHECK(EQ(want, got, m * n), "layernorm at %zu threads", threads);
		k->rmsnorm(m, n, x, g, 1e-6f, want);
		fvl_op_rmsnorm(&ct, m, n, x, g, 1e-6f, got);
		T_CHECK(EQ(want, got, m * n), "rmsnorm at %zu threads", threads);
		k->gelu(m * n * 2, x, want);
		fvl_op_gelu(&ct, m * n * 2, x, got);
		T_CHECK(EQ(want, got, m * n * 2), "gelu at %zu threads", threads);
		k->add(m * n, x, x + m * n, want);
		fvl_op_add(&ct, m * n, x, x + m * n, got);
		T_CHECK(EQ(want, got, m * n), "add at %zu threads", threads);
		for (size_t i = 0; i < m; i++)
			k->silu_mul(n, x + i * 2 * n, x + i * 2 * n + n, want + i * n);
		fvl_op_silu_mul_halves(&ct, m, n, x, got);
		T_CHECK(EQ(want, got, m * n), "silu_mul at %zu threads", threads);
		memcpy(want, x, m * n * sizeof(float));
		memcpy(got, x, m * n * sizeof(float));
		for (size_t i = 0; i < m; i++)
			k->add(n, want + i * n, b, want + i * n);
		fvl_op_add_bias(&ct, m, n, got, n, b);
		T_CHECK(EQ(want, got, m * n), "bias at %zu threads", threads);
		k->dwconv3x3(h, w, c, 0, h, img, taps, b, want);
		fvl_op_dwconv3x3(&ct, h, w, c, img, taps, b, got);
		T_CHECK(EQ(want, got, h * w * c), "dwconv3x3 at %zu threads", threads);
		/* activation quantizers: k = 96 (three q8 blocks) */
		const size_t kq = 96, mq = 211;
		int8_t qa[211 * 96], qb[211 * 96];
		float da[211 * 3], db[211 * 3];
		k->f32_q8_quant(mq, kq, x, kq, qa, da);
		fvl_op_f32_q8_quant(&ct, mq, kq, x, kq, qb, db);
		T_CHECK(!memcmp(qa, qb, sizeof(qa)) && EQ(da, db, mq * 3),
		        "q8 quant at %zu threads", threads);
		if (k->f32_f16_quant) {
			const size_t ks = FVL_F16_ROW_STRIDE(kq);
			uint16_t ha[211 * 96], hb[211 * 96];
			k->f32_f16_quant(mq, kq, x, kq, ha, da);
			fvl_op_f32_f16_quant(&ct, mq, kq, x, kq, hb, db);
			T_CHECK(!memcmp(ha, hb, mq * ks * 2) && EQ(da, db, mq),
			        "f16 quant at %zu threads", threads);
		}
		const struct fvl_attn_args a = {
		        .n_q = nq,
		        .n_kv = nkv,
		        .n_heads = heads,
		        .n_kv_heads = kvh,
		        .head_dim = hd,
		        .q = q,
		        .ldq = heads * hd,
		        .k = kv,
		        .v = vv,
		        .ldk = kvh * hd,
		        .ldv = kvh * hd,
		        .causal = true,
		        .q_pos0 = nkv - nq,
		        .scale = 0.25f,
		        .o = want,
		        .ldo = heads * hd,
		        .head0 = 1,
		        .head1 = heads, /* a sub-range of heads, as a caller may split them */
		};
		struct fvl_attn_args a2 = a;
		a2.o = got;
		memset(want, 0, nq * heads * hd * sizeof(float));
		memset(got, 0, nq * heads * hd * sizeof(float));
		k->attn(&a);
		fvl_op_attn(&ct, &a2);
		T_CHECK(EQ(want, got, nq * heads * hd), "attention at %zu threads", threads);
		fvl_compute_free(&ct);
	}
	fvl_compute_free(&c1);
	free(x), free(g), free(b), free(want), free(got), free(img), free(taps);
	free(q), free(kv), free(vv);
}

/* The stage dumps of one image at 1 and at 2 threads: every value the same. */
static void test_vision_side_same_bits_at_1_and_2_threads(void)
{
	struct fvl_model *m = NULL;
	struct fvl_image img = {0};
	struct fvl_image_dump d[2];
	const char *path = golden_model("f32", "f32");
	T_ASSERT(path && fvl_model_load(path, &m) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &img) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	for (int i = 0; i < 2; i++) {
		struct fvl_session_params sp;
		struct fvl_session *s = NULL;
		fvl_session_params_default(&sp);
		sp.n_threads = (uint32_t)(i + 1);
		T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_OK, "%s", fvl_last_error());
		T_ASSERT(fvl_session_set_image_dump(s, img.rgb, img.w, img.h, &d[i]) ==
		                 FVL_STATUS_OK,
		         "%s", fvl_last_error());
		fvl_session_free(s);
	}
	const size_t nv = d[0].n_visual, dm = d[0].d_model, L = nv + d[0].prompt_len;
	T_CHECK(EQ(d[0].davit_out, d[1].davit_out, d[0].grid * d[0].grid * d[0].c_last),
	        "davit_out differs");
	T_CHECK(EQ(d[0].image_features, d[1].image_features, nv * dm), "image_features differ");
	for (size_t p = 0; p < d[0].n_prompts; p++)
		T_CHECK(EQ(d[0].encoder_out[p], d[1].encoder_out[p], L * dm),
		        "encoder_out_%zu differs", p);
	T_CHECK(EQ(d[0].projector_out, d[1].projector_out, d[0].n_llm * d[0].n_embd),
	        "projector_out differs");
	fvl_image_dump_free(&d[0]);
	fvl_image_dump_free(&d[1]);
	fvl_image_free(&img);
	fvl_model_free(m);
}

void suite_ops(void)
{
	T_RUN(test_ops_split_across_threads_equal_one_call);
	T_RUN(test_vision_side_same_bits_at_1_and_2_threads);
}
