/* bench.c — fvl_bench: measured numbers for a model file, as markdown tables. The LLM part times
 * a prefill of P random tokens and the decode of G more; the vision part times every stage of the
 * vision side on a random image and turns the shapes into GFLOP/s, beside what XNNPACK's f32
 * fully-connected operator reaches on this machine; a task part times Florence-2's image to text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xnnpack.h>

#include "common.h"
#include "model.h"
#include "pool.h"

static double ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

void fvl_stage_mark(unsigned id)
{
	if (write(-1, (const void *)(uintptr_t)id, 0) != -1)
		return; /* never: fd -1 is not open */
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

static size_t linear_bytes(const struct fvl_linear *l)
{
	if (!l->n)
		return 0;
	const struct fvl_type_info *ti = fvl_type_info((uint32_t)l->type);
	return l->n * l->k / ti->blck * ti->size;
}

static const char *type_name(const struct fvl_linear *l)
{
	return fvl_type_info((uint32_t)l->type)->name;
}

struct summary {
	double vision_ms, prefill_tps, decode_tps;
};

static int bench_llm(const struct fvl_model *m, struct fvl_compute *compute, size_t P, size_t G,
                     double bw, struct summary *sum, FILE *out)
{
	const struct fvl_llm *L = &m->llm;
	struct fvl_llm_state state;
	size_t wbytes = linear_bytes(&L->output);
	for (size_t l = 0; l < L->n_layer; l++) {
		const struct fvl_llm_layer *y = &L->layers[l];
		const struct fvl_linear *all[] = {&y->qkv,     &y->q,    &y->k,  &y->v,   &y->o,
		                                  &y->gate_up, &y->gate, &y->up, &y->down};
		for (size_t i = 0; i < 9; i++)
			wbytes += linear_bytes(all[i]);
	}
	if (fvl_llm_state_init(&state, L, compute, P + G + 4, true, 256) != FVL_STATUS_OK)
		return 1;
	int32_t *ids = malloc(P * sizeof(int32_t));
	float *logits = malloc(L->n_vocab * sizeof(float));
	if (!ids || !logits)
		return 1;
	uint64_t x = 12345;
	for (size_t i = 0; i < P; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		ids[i] = (int32_t)(100 + (x >> 33) % (L->n_vocab - 100));
	}
	double t0 = ms();
	int rc = fvl_llm_eval(&state, compute, P, ids, NULL, 1, logits) != FVL_STATUS_OK;
	double t1 = ms();
	for (size_t g = 0; g < G && !rc; g++) {
		int32_t id = 0;
		for (size_t i = 1; i < L->n_vocab; i++)
			if (logits[i] > logits[id])
				id = (int32_t)i;
		rc = fvl_llm_eval(&state, compute, 1, &id, NULL, 1, logits) != FVL_STATUS_OK;
	}
	double t2 = ms();
	if (rc) {
		return 1;
	}
	const double kv = (double)(P + G) * (double)L->n_layer * 2.0 *
	                  (double)(L->n_head_kv * L->n_embd_head) * 2.0;
	const double dec_s = (t2 - t1) / 1e3 / (double)G;
	const double gbs = ((double)wbytes + kv) / dec_s / 1e9;
	fprintf(out,
	        "| LLM %s (%zu layers), weights %s | %zu threads | prefill %zu tok: %.1f tok/s | "
	        "decode: "
	        "%.2f tok/s | %.0f MB read/token, %.2f GB/s = %.0f%% of %.1f GB/s | peak RSS %.0f "
	        "MB |\n",
	        L->phi3 ? "phi3" : "llama", L->n_layer, type_name(&L->layers[0].down),
	        fvl_pool_threads(compute->pool), P, (double)P / ((t1 - t0) / 1e3), 1.0 / dec_s,
	        ((double)wbytes + kv) / 1e6, gbs, 100.0 * gbs / bw, bw, peak_rss_mb());
	sum->prefill_tps = (double)P / ((t1 - t0) / 1e3);
	sum->decode_tps = 1.0 / dec_s;
	free(ids);
	free(logits);
	fvl_llm_state_free(&state);
	return 0;
}

/* XNNPACK's f32 fully-connected on a vision-sized problem: the reference GFLOP/s. */
static double xnnpack_gflops(pthreadpool_t pool)
{
	const size_t m = 576, k = 1024, n = 4096;
	xnn_operator_t op = NULL;
	float *w = calloc(n * k, 4), *b = calloc(n, 4), *x = calloc(m * k, 4),
	      *y = calloc(m * n, 4);
	double best = 0;
	if (!w || !b || !x || !y || xnn_initialize(NULL) != xnn_status_success ||
	    xnn_create_fully_connected_nc_f32(k, n, k, n, w, b, -INFINITY, INFINITY, 0, &op) !=
	            xnn_status_success ||
	    xnn_setup_fully_connected_nc_f32(op, m, x, y, pool) != xnn_status_success)
		goto done;
	for (int r = 0; r < 3; r++) {
		double t0 = ms();
		xnn_run_operator(op, pool);
		double s = (ms() - t0) / 1e3;
		if (2.0 * m * n * k / s / 1e9 > best)
			best = 2.0 * m * n * k / s / 1e9;
	}
done:
	if (op)
		xnn_delete_operator(op);
	free(w), free(b), free(x), free(y);
	return best;
}

/* One image through the vision side, timed by part: t[s] the DaViT stages, then _encode_image,
 * the BART encoder (every prompt in one pass), fusion + projector (Florence-VL only). Marked for
 * counting by part under qemu: VISION_MARK at the start, then VISION_MARK + 1 + part after each
 * part (DaViT marks its stages). */
struct vision_run {
	const struct fvl_f2 *f;
	const struct fvl_vision *v; /* NULL for a Florence-2 file */
	const int32_t *prompts;     /* (n_prompts, prompt_len) */
	size_t n_prompts, prompt_len, n, d, L;
	float *px, *dav, *feat, *enc, *fused, *proj;
	const float *enc_p[FVL_VISION_MAX_PROMPTS];
	double ms[FVL_DAVIT_MAX_STAGES + 3];
};

static int vision_pass(struct vision_run *r, struct fvl_compute *compute)
{
	const struct fvl_f2 *f = r->f;
	const size_t ns = f->davit.n_stages;
	fvl_stage_mark(FVL_VISION_MARK);
	if (fvl_davit_forward(&f->davit, compute, r->px, r->dav, r->ms) != FVL_STATUS_OK)
		return 1;
	double t1 = ms();
	if (fvl_f2_encode_image(&f->encoder, compute, r->dav, r->feat) != FVL_STATUS_OK)
		return 1;
	fvl_stage_mark(FVL_VISION_MARK + 1 + (unsigned)ns);
	double t2 = ms();
	if (fvl_f2_encoder_forward_prompts(&f->encoder, compute, r->feat, r->n, r->prompts,
	                                   r->prompt_len, r->n_prompts, r->enc) != FVL_STATUS_OK)
		return 1;
	fvl_stage_mark(FVL_VISION_MARK + 2 + (unsigned)ns);
	double t3 = ms();
	if (r->v) {
		const size_t nl = fvl_vision_n_tokens(r->v);
		fvl_dbfusion(nl, r->v->drop, r->d, r->n_prompts, r->feat, r->enc_p, r->fused);
		if (fvl_projector_forward(&r->v->projector, compute, nl, r->fused, r->proj) !=
		    FVL_STATUS_OK)
			return 1;
	}
	fvl_stage_mark(FVL_VISION_MARK + 3 + (unsigned)ns);
	double t4 = ms();
	r->ms[ns] = t2 - t1, r->ms[ns + 1] = t3 - t2, r->ms[ns + 2] = t4 - t3;
	fvl_compute_rest(compute);
	return 0;
}

/* The vision side's parts at 1 thread and at the pool's count, with their GFLOP (multiply-adds
 * x 2 from the shapes) and the speed-up. For a Florence-2 file the encoder runs one prompt of
 * 14 ids (a task prompt's length). */
static int bench_vision(const struct fvl_model *m, struct fvl_compute *compute, long reps,
                        const char *isa, struct summary *sum, FILE *out)
{
	static const int32_t f2_prompt[14] = {0, 5, 9, 17, 33, 65, 129, 257, 3, 7, 11, 13, 2, 1};
	const struct fvl_vision *v = m->is_vl ? &m->vision : NULL;
	const struct fvl_f2 *f = v ? &v->f2 : &m->f2;
	struct vision_run r = {
	        .f = f,
	        .v = v,
	        .prompts = v ? v->prompts : f2_prompt,
	        .n_prompts = v ? v->n_prompts : 1,
	        .prompt_len = v ? v->prompt_len : 14,
	};
	const size_t S = f->davit.image_size, grid = fvl_davit_grid(&f->davit),
	             ns = f->davit.n_stages;
	const size_t cl = f->davit.stages[ns - 1].c;
	r.n = fvl_f2_n_visual(&f->encoder), r.d = f->encoder.n_embd, r.L = r.n + r.prompt_len;
	const size_t n = r.n, d = r.d, L = r.L, P = r.n_prompts;
	r.px = malloc(3 * S * S * 4), r.dav = malloc(grid * grid * cl * 4);
	r.feat = malloc(n * d * 4), r.enc = malloc(P * L * d * 4);
	r.fused = v ? malloc(n * (1 + P) * d * 4) : NULL;
	r.proj = v ? malloc(n * v->projector.out_dim * 4) : NULL;
	struct fvl_compute one;
	int rc = fvl_compute_init(&one, 1, isa) != FVL_STATUS_OK;
	if (rc || !r.px || !r.dav || !r.feat || !r.enc || (v && (!r.fused || !r.proj))) {
		rc = 1;
		goto done;
	}
	for (size_t p = 0; p < P; p++)
		r.enc_p[p] = r.enc + p * L * d;
	uint64_t x = 99;
	for (size_t i = 0; i < 3 * S * S; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		r.px[i] = (float)((x >> 40) & 0xffff) / 16384.0f - 2.0f;
	}
	/* earlier repetitions (for instruction counting: the difference of two runs), then one
	 * timed image at 1 thread and one at the pool's threads */
	for (long i = 1; i < reps && !rc; i++)
		rc = vision_pass(&r, compute);
	const size_t threads = fvl_pool_threads(compute->pool);
	double ms1[FVL_DAVIT_MAX_STAGES + 3] = {0};
	if (!rc && threads > 1) {
		rc = vision_pass(&r, &one);
		memcpy(ms1, r.ms, sizeof(ms1));
	}
	rc = rc || vision_pass(&r, compute);
	if (rc)
		goto done;
	if (threads == 1)
		memcpy(ms1, r.ms, sizeof(ms1));
	/* multiply-adds by part */
	double mac[FVL_DAVIT_MAX_STAGES + 3] = {0};
	size_t h = S;
	for (size_t s = 0; s < ns; s++) {
		const struct fvl_davit_stage *t = &f->davit.stages[s];
		h = (h + 2 * t->pad - t->k) / t->stride + 1;
		const double ntok = (double)(h * h), c = (double)t->c,
		             win = (double)(f->davit.window * f->davit.window);
		mac[s] = ntok * (double)(t->cin * t->k * t->k) * c +
		         (double)t->depth * ntok *
		                 (24.0 * c * c + 36.0 * c + 2.0 * win * c +
		                  2.0 * c * c / (double)t->groups);
	}
	mac[ns] = (double)n * cl * d;
	mac[ns + 1] = (double)P * f->encoder.n_layer *
	              ((double)L * (4.0 * d * d + 2.0 * d * f->encoder.n_ff) +
	               2.0 * (double)L * (double)L * (double)d);
	if (v)
		mac[ns + 2] = (double)n * ((double)(1 + P) * d * v->projector.out_dim +
		                           (double)(v->projector.depth - 1) * v->projector.out_dim *
		                                   v->projector.out_dim);
	fprintf(out,
	        "\n| vision part (%zux%zu, weights %s) | GFLOP | ms, 1 thread | ms, %zu thread%s | "
	        "GFLOP/s | speed-up |\n|---|---|---|---|---|---|\n",
	        S, S, type_name(&f->davit.stages[0].spatial[0].qkv), threads,
	        threads == 1 ? "" : "s");
	double total_gf = 0, total1 = 0, totaln = 0;
	const size_t parts = ns + (v ? 3 : 2);
	for (size_t i = 0; i < parts; i++) {
		char label[96];
		if (i < ns)
			snprintf(label, sizeof(label), "DaViT stage %zu (C=%zu, depth %zu)", i,
			         f->davit.stages[i].c, f->davit.stages[i].depth);
		else if (i == ns)
			snprintf(label, sizeof(label), "_encode_image");
		else if (i == ns + 1)
			snprintf(label, sizeof(label), "BART encoder, %zu prompt%s (L=%zu)", P,
			         P == 1 ? "" : "s", L);
		else
			snprintf(label, sizeof(label), "fusion + projector");
		const double gf = 2 * mac[i] / 1e9;
		fprintf(out, "| %s | %.2f | %.1f | %.1f | %.1f | %.2f |\n", label, gf, ms1[i],
		        r.ms[i], gf / (r.ms[i] / 1e3), r.ms[i] > 0 ? ms1[i] / r.ms[i] : 0.0);
		total_gf += gf, total1 += ms1[i], totaln += r.ms[i];
	}
	fprintf(out, "| **whole vision side** | %.1f | %.0f | %.0f | %.1f | %.2f |\n", total_gf,
	        total1, totaln, total_gf / (totaln / 1e3), totaln > 0 ? total1 / totaln : 0.0);
	sum->vision_ms = totaln;
	const double xg = xnnpack_gflops(fvl_pool_xnn(compute->pool));
	fvl_pool_xnn_rest(compute->pool);
	fprintf(out,
	        "\nXNNPACK f32 fully-connected (576 x 1024 -> 4096) on this machine: %.1f GFLOP/s; "
	        "the vision side reaches %.0f%% of it. Peak RSS %.0f MB. The pool ran on %zu of "
	        "its %zu threads at the end%s.\n",
	        xg, xg > 0 ? 100.0 * total_gf / (totaln / 1e3) / xg : 0.0, peak_rss_mb(),
	        fvl_pool_active(compute->pool), threads,
	        fvl_pool_active(compute->pool) < threads
	                ? " (other programs' load: fewer did as much, FVL_ADAPT_THREADS)"
	                : "");
done:
	fvl_compute_free(&one);
	free(r.px), free(r.dav), free(r.feat), free(r.enc), free(r.fused), free(r.proj);
	return rc;
}

/* --task: Florence-2's image-to-text time for a 20-token answer (greedy and 3 beams) on a
 * synthetic image of the model's input size. */
static int bench_task(const struct fvl_model *m, const char *task, long threads, const char *isa,
                      long reps, FILE *out)
{
	const uint32_t S =
	        (uint32_t)(m->is_vl ? m->vision.f2.davit.image_size : m->f2.davit.image_size);
	uint8_t *rgb = malloc((size_t)S * S * 3);
	if (!rgb)
		return 1;
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < (size_t)S * S * 3; i++) { /* smooth gradients plus noise */
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		rgb[i] = (uint8_t)((i / 3 % S + i / 3 / S) / 3 + (x & 31));
	}
	fprintf(out,
	        "### Florence-2 task %s, %ux%u image, 20-token answers (forced </s> at 20)\n\n"
	        "| search | image + encoder ms | decoder ms | tokens | ms/token | total ms |\n"
	        "|---|---|---|---|---|---|\n",
	        task, S, S);
	struct fvl_task_params warm; /* first-touch of the weights and thread start-up */
	struct fvl_task_result wr;
	fvl_task_params_default(&warm);
	warm.task = task, warm.n_beams = 1, warm.max_new = 1, warm.n_threads = (uint32_t)threads;
	warm.isa = isa;
	int rc = fvl_task_run(m, rgb, S, S, &warm, &wr) == FVL_STATUS_OK ? 0 : 1;
	fvl_task_result_free(&wr);
	for (int beams = 1; beams <= 3 && !rc; beams += 2) {
		for (long r = 0; r < reps && !rc; r++) {
			struct fvl_task_params p;
			struct fvl_task_result res;
			fvl_task_params_default(&p);
			p.task = task, p.n_beams = beams, p.max_new = 20,
			p.n_threads = (uint32_t)threads;
			p.isa = isa;
			if (fvl_task_run(m, rgb, S, S, &p, &res) != FVL_STATUS_OK) {
				rc = 1;
				break;
			}
			fprintf(out, "| %s | %.0f | %.0f | %zu | %.1f | %.0f |\n",
			        beams == 1 ? "greedy" : "3 beams", res.ms_vision, res.ms_decode,
			        res.n_ids, res.n_ids ? res.ms_decode / (double)res.n_ids : 0.0,
			        res.ms_vision + res.ms_decode);
			fvl_task_result_free(&res);
		}
	}
	fprintf(out, "\nPeak RSS %.0f MB.\n", peak_rss_mb());
	free(rgb);
	return rc;
}

void fvl_bench_params_default(struct fvl_bench_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->n_prompt = 600;
	p->n_gen = 16;
	p->n_images = 1;
}

enum fvl_status
fvl_bench(const struct fvl_model *m, const char *name, const struct fvl_bench_params *bp, FILE *out)
{
	struct fvl_bench_params def;
	if (!m || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_bench: NULL argument");
	if (!bp) {
		fvl_bench_params_default(&def);
		bp = &def;
	}
	if (FVL_PARAMS_CHECK(bp))
		return FVL_STATUS_INVALID_ARGUMENT;
	if (!name)
		name = "model";
	bool llm = bp->llm, vision = bp->vision;
	const long threads = bp->n_threads, R = bp->n_images ? bp->n_images : 1;
	const size_t P = bp->n_prompt ? bp->n_prompt : 600, G = bp->n_gen ? bp->n_gen : 16;
	if (bp->task) {
		if (!fvl_task_find(bp->task))
			return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "unknown task '%s'", bp->task);
		fprintf(out, "model %s (%s), model load peak RSS %.0f MB\n\n", name, m->arch,
		        peak_rss_mb());
		return bench_task(m, bp->task, threads, bp->isa, R, out)
		               ? fvl_fail(FVL_STATUS_IO, "%s", fvl_last_error())
		               : FVL_STATUS_OK;
	}
	if (!m->is_vl && llm)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this %s file has no LLM: measure its vision side (--vision) or a "
		                "task (--task NAME)",
		                m->arch);
	if (!llm && !vision) {
		llm = m->is_vl;
		vision = true;
	}
	if (llm && P + G + 4 > m->llm.n_ctx_train)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "%zu prompt and %zu generated tokens do not "
		                "fit the model's context of %zu tokens",
		                P, G, m->llm.n_ctx_train);
	struct fvl_compute compute;
	enum fvl_status st = fvl_compute_init(&compute, (size_t)threads, bp->isa);
	if (st != FVL_STATUS_OK)
		return st;
	fprintf(out, "model %s (%s), kernels %s, model load peak RSS %.0f MB\n\n", name, m->arch,
	        fvl_isa_name(compute.kernels.isa), peak_rss_mb());
	const double bw = fvl_pool_read_bandwidth(compute.pool, 256u << 20);
	int rc = 0;
	struct summary sum = {-1, -1, -1};
	if (llm)
		rc = bench_llm(m, &compute, P, G, bw, &sum, out);
	if (vision && !rc)
		rc = bench_vision(m, &compute, R, bp->isa, &sum, out);
	if (!rc) { /* llama-bench style, for posting comparable numbers */
		const char *slash = strrchr(name, '/');
		char v[32] = "-", p[32] = "-", d[32] = "-";
		if (sum.vision_ms >= 0)
			snprintf(v, sizeof(v), "%.0f", sum.vision_ms);
		if (sum.prefill_tps >= 0)
			snprintf(p, sizeof(p), "%.2f (%zu tok)", sum.prefill_tps, P);
		if (sum.decode_tps >= 0)
			snprintf(d, sizeof(d), "%.2f", sum.decode_tps);
		fprintf(out,
		        "\n| model | quant (LLM / vision) | threads | vision ms | prefill tok/s | "
		        "decode tok/s | "
		        "peak RSS MB |\n|---|---|---|---|---|---|---|\n| %s | %s / %s | %zu | %s | "
		        "%s | %s | %.0f |\n",
		        slash ? slash + 1 : name,
		        m->is_vl ? type_name(&m->llm.layers[0].down) : "-",
		        type_name(&(m->is_vl ? &m->vision.f2 : &m->f2)
		                           ->davit.stages[0]
		                           .spatial[0]
		                           .qkv),
		        fvl_pool_threads(compute.pool), v, p, d, peak_rss_mb());
	}
	fvl_compute_free(&compute);
	if (rc)
		return fvl_fail(FVL_STATUS_IO, "%s", fvl_last_error());
	return FVL_STATUS_OK;
}
