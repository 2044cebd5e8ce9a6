/* test-api.c — the parts of fvl.h the command-line programs build on, through fvl.h alone: the
 * vision side's stage dump against the goldens, the model file's header, the tokenizer handle
 * against the golden ids, the machine report, images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fvl.h"
#include "golden.h"
#include "test.h"

#define QUESTION "What is in this picture? Answer briefly."

/* The tiny Florence-VL model (f32), a session on it with n_threads, and the chelsea image. */
static bool open_session(uint32_t n_threads, struct fvl_model **m, struct fvl_session **s,
                         struct fvl_image *img)
{
	struct fvl_session_params sp;
	const char *path = golden_model("f32", "f32");
	fvl_session_params_default(&sp);
	sp.n_threads = n_threads;
	return path && fvl_model_load(path, m) == FVL_STATUS_OK &&
	       fvl_session_init(*m, &sp, s) == FVL_STATUS_OK &&
	       fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), img) == FVL_STATUS_OK;
}

static void test_session_image_dump_matches_the_goldens(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	struct fvl_image img;
	struct fvl_image_dump d;
	T_ASSERT(open_session(2, &m, &s, &img), "%s", fvl_last_error());
	T_ASSERT(fvl_session_set_image_dump(s, img.rgb, img.w, img.h, &d) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	fvl_image_free(&img);
	T_ASSERT(d.size == 128 && d.grid == 4 && d.c_last == 128 && d.n_visual == 17 &&
	                 d.n_llm == 17 && d.d_model == 64 && d.n_prompts == 3 &&
	                 d.prompt_len == 14 && d.n_embd == 96,
	         "dump shape: size %zu grid %zu c %zu visual %zu/%zu d %zu prompts "
	         "%zu x %zu n_embd %zu",
	         d.size, d.grid, d.c_last, d.n_visual, d.n_llm, d.d_model, d.n_prompts,
	         d.prompt_len, d.n_embd);
	const struct {
		const char *name;
		const float *got;
		size_t n;
	} stages[] = {
	        {"pixel_values", d.pixel_values, 3 * 128 * 128},
	        {"davit_out", d.davit_out, 16 * 128},
	        {"image_features", d.image_features, 17 * 64},
	        {"encoder_out_0", d.encoder_out[0], 31 * 64},
	        {"encoder_out_1", d.encoder_out[1], 31 * 64},
	        {"encoder_out_2", d.encoder_out[2], 31 * 64},
	        {"fused", d.fused, 17 * 256},
	        {"projector_out", d.projector_out, 17 * 96},
	};
	double worst = 0;
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		float *want = golden_tensor(stages[i].name, stages[i].n);
		const double e = want ? golden_err(stages[i].got, want, stages[i].n) : INFINITY;
		free(want);
		T_ASSERT(e <= 2e-3, "%s: error %.3g of max |value|", stages[i].name, e);
		worst = e > worst ? e : worst;
	}
	fvl_image_dump_free(&d);
	fvl_image_dump_free(NULL);
	/* the dump set the image: the question that follows has the golden prompt */
	struct fvl_gen_params g;
	fvl_gen_params_default(&g);
	g.n_predict = 1;
	int want[64];
	const int nw = golden_ids("llm_input_ids_with_image_placeholder", want, 64);
	T_ASSERT(fvl_session_ask(s, QUESTION, &g, NULL, NULL) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	size_t n;
	const int32_t *ids = fvl_session_prompt_ids(s, &n);
	T_ASSERT((int)n == nw, "%zu prompt ids, golden %d", n, nw);
	for (size_t i = 0; i < n; i++)
		T_ASSERT(ids[i] == want[i], "prompt id %zu: %d, golden %d", i, ids[i], want[i]);
	fvl_session_free(s);
	fvl_model_free(m);
	t_note("8 stages from chelsea.jpg within %.2e of the goldens (tolerance 2e-3); the prompt "
	       "after the dump is the golden one",
	       worst);
}

static void test_model_info_reads_the_header_only(void)
{
	struct fvl_model_info mi;
	struct stat sb;
	const char *vl = golden_model("q8_0", "q8_0");
	T_ASSERT(vl && stat(vl, &sb) == 0, "model");
	T_ASSERT(fvl_model_info(vl, &mi) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(!strcmp(mi.arch, "florence-vl") && mi.format_version == 1 &&
	                 mi.file_bytes == (uint64_t)sb.st_size && mi.n_tensors > 100 &&
	                 mi.tensor_bytes > 0 && mi.tensor_bytes < mi.file_bytes &&
	                 mi.n_layer == 2 && mi.n_head_kv > 0 && mi.n_embd_head > 0 &&
	                 mi.n_ctx == 2048,
	         "%s v%u %llu bytes %llu tensors, %u layers, "
	         "%u kv heads x %u, ctx %u",
	         mi.arch, mi.format_version, (unsigned long long)mi.file_bytes,
	         (unsigned long long)mi.n_tensors, mi.n_layer, mi.n_head_kv, mi.n_embd_head,
	         mi.n_ctx);
	T_ASSERT(fvl_model_info(t_tmppath("no-such.gguf"), &mi) == FVL_STATUS_NOT_FOUND &&
	                 strstr(fvl_last_error(), "no-such.gguf"),
	         "%s", fvl_last_error());
	T_ASSERT(fvl_model_info(NULL, &mi) == FVL_STATUS_INVALID_ARGUMENT, "NULL path");
	FILE *f = tmpfile();
	T_ASSERT(f && fvl_model_print(vl, false, f) == FVL_STATUS_OK && ftell(f) > 1000, "print");
	fclose(f);
}

static void test_tokenizer_handle_gives_the_golden_ids(void)
{
	struct fvl_tokenizer *t = NULL;
	const char *vl = golden_model("q8_0", "q8_0");
	int want[64];
	/* Florence-2's: the CAPTION prompt, with <s> and </s> */
	const int nw = golden_ids("florence_tasks.CAPTION.prompt_ids", want, 64);
	T_ASSERT(nw == 8, "golden");
	T_ASSERT(fvl_tokenizer_load(vl, FVL_TOKENIZER_FLORENCE, &t) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	int32_t *ids = NULL;
	size_t n = 0;
	const char *text = "What does the image describe?";
	T_ASSERT(fvl_tokenize(t, text, strlen(text), true, &ids, &n) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	T_ASSERT((int)n == nw, "%zu ids, golden %d", n, nw);
	for (size_t i = 0; i < n; i++)
		T_ASSERT(ids[i] == want[i], "id %zu: %d, golden %d", i, ids[i], want[i]);
	size_t len;
	const char *p = fvl_token_piece(t, ids[1], &len);
	T_ASSERT(len == 4 && !memcmp(p, "What", 4), "piece of %d: '%.*s'", ids[1], (int)len, p);
	p = fvl_token_piece(t, -5, &len);
	T_ASSERT(len == 0 && p && !*p, "a bad id has an empty piece");
	free(ids);
	fvl_tokenizer_free(t);
	/* the LLM's: the question chunk after <image>, as the session splices it (its first token
	 * dropped) */
	const int np = golden_ids("llm_input_ids_with_image_placeholder", want, 64);
	int at = 0;
	while (at < np && want[at] != -200)
		at++;
	T_ASSERT(at < np, "golden has the image");
	T_ASSERT(fvl_tokenizer_load(vl, FVL_TOKENIZER_LLM, &t) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	const char *chunk = "\n" QUESTION "<|end|>\n<|assistant|>\n";
	T_ASSERT(fvl_tokenize(t, chunk, strlen(chunk), true, &ids, &n) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	T_ASSERT((int)n - 1 == np - at - 1, "%zu ids after the first, golden %d", n - 1,
	         np - at - 1);
	for (size_t i = 1; i < n; i++)
		T_ASSERT(ids[i] == want[at + (int)i], "id %zu: %d, golden %d", i, ids[i],
		         want[at + (int)i]);
	free(ids);
	/* any bytes */
	T_ASSERT(fvl_tokenize(t, "\xff\xfe", 2, false, &ids, &n) == FVL_STATUS_OK && n >= 1,
	         "invalid UTF-8: %s", fvl_last_error());
	free(ids);
	fvl_tokenizer_free(t);
	fvl_tokenizer_free(NULL);
	T_ASSERT(fvl_tokenizer_load(t_tmppath("none.gguf"), FVL_TOKENIZER_LLM, &t) ==
	                         FVL_STATUS_NOT_FOUND &&
	                 t == NULL,
	         "missing file");
}

static void test_system_info_names_every_kernel(void)
{
	struct fvl_system_info si;
	T_ASSERT(fvl_system_info(NULL, &si) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(si.arch && si.kernel_level && !strcmp(si.kernel_level, si.best_level) &&
	                 si.n_kernels >= 16 && si.n_cpus >= 1 && si.default_threads >= 1 &&
	                 si.board && si.f16_weights && strncmp(si.f16_weights, "fvl_", 4) == 0,
	         "system info");
	for (size_t i = 0; i < si.n_kernels; i++)
		T_ASSERT(si.kernels[i].contract &&
		                 strstr(si.kernels[i].function, si.kernels[i].contract),
		         "%s runs %s", si.kernels[i].contract, si.kernels[i].function);
	T_ASSERT(fvl_system_info("scalar", &si) == FVL_STATUS_OK &&
	                 !strcmp(si.kernel_level, "scalar"),
	         "scalar");
	for (size_t i = 0; i < si.n_kernels; i++)
		T_ASSERT(strstr(si.kernels[i].function, "__scalar"), "%s under scalar",
		         si.kernels[i].function);
	t_note("%s, best level %s, %zu kernels, %u CPUs, board %s", si.arch, si.best_level,
	       si.n_kernels, si.n_cpus, si.board);
	struct fvl_system_info bad;
	T_ASSERT(fvl_system_info("avx9000", &bad) == FVL_STATUS_INVALID_ARGUMENT &&
	                 strstr(fvl_last_error(), "avx9000"),
	         "unknown level");
}

static void test_image_load_and_change(void)
{
	struct fvl_image a, b;
	T_ASSERT(fvl_image_load(t_datapath("images/coffee.jpg"), &a) == FVL_STATUS_OK && a.w > 0 &&
	                 a.h > 0 && a.rgb,
	         "%s", fvl_last_error());
	T_ASSERT(fvl_image_load(t_datapath("images/text.jpg"), &b) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	const double same = fvl_image_change(&a, &a), other = fvl_image_change(&a, &b);
	struct fvl_image none = {0};
	T_ASSERT(same == 0.0 && other > 5.0 && fvl_image_change(&a, &none) == 255.0,
	         "change: same %.2f, other %.2f", same, other);
	fvl_image_free(&a);
	fvl_image_free(&b);
	fvl_image_free(NULL);
	T_ASSERT(fvl_image_load(t_tmpdir(), &a) != FVL_STATUS_OK && !a.rgb, "a directory");
	T_ASSERT(fvl_image_load(NULL, &a) == FVL_STATUS_INVALID_ARGUMENT, "NULL");
}

/* BT.601 limited range, in floating point: the definition the integer converters round. */
static void ref_yuv(int y, int u, int v, float rgb[3])
{
	const float Y = 1.164383f * (float)(y - 16), U = (float)(u - 128), V = (float)(v - 128);
	rgb[0] = Y + 1.596027f * V;
	rgb[1] = Y - 0.391762f * U - 0.812968f * V;
	rgb[2] = Y + 2.017232f * U;
	for (int i = 0; i < 3; i++)
		rgb[i] = rgb[i] < 0 ? 0 : rgb[i] > 255 ? 255 : rgb[i];
}

static void test_image_views_in_every_pixel_format(void)
{
	enum { W = 6, H = 4, PAD = 5 };
	uint8_t rgb[H][W][3], rgb_s[H][W * 3 + PAD], bgr[H][W * 3 + PAD], rgba[H][W * 4 + PAD];
	uint8_t gray[H][W + PAD], yuyv[H][W * 2 + PAD], nv12[H + H / 2][W + PAD];
	uint32_t x = 12345;
	for (int y = 0; y < H; y++)
		for (int i = 0; i < W; i++)
			for (int c = 0; c < 3; c++) {
				x = x * 1103515245u + 12345u;
				rgb[y][i][c] = (uint8_t)(x >> 24);
				rgb_s[y][i * 3 + c] = rgb[y][i][c];
				bgr[y][i * 3 + 2 - c] = rgb[y][i][c];
				rgba[y][i * 4 + c] = rgb[y][i][c];
				rgba[y][i * 4 + 3] = 7;
				gray[y][i] = rgb[y][i][0];
			}
	/* YUV: luma from the random bytes (16..235), one chroma pair per 2 x 2 block */
	for (int y = 0; y < H; y++)
		for (int i = 0; i < W; i++) {
			const int Y = 16 + rgb[y][i][1] * 219 / 255;
			const int U = 16 + rgb[y / 2 * 2][i / 2 * 2][0] * 224 / 255,
			          V = 16 + rgb[y / 2 * 2][i / 2 * 2][2] * 224 / 255;
			yuyv[y][2 * i] = (uint8_t)Y;
			yuyv[y][(2 * i & ~3) + 1] = (uint8_t)U;
			yuyv[y][(2 * i & ~3) + 3] = (uint8_t)V;
			nv12[y][i] = (uint8_t)Y;
			nv12[H + y / 2][i & ~1] = (uint8_t)U;
			nv12[H + y / 2][(i & ~1) + 1] = (uint8_t)V;
		}
	const struct {
		enum fvl_pixel_format f;
		const void *data;
		size_t stride, size;
	} views[] = {
	        {FVL_PIXEL_RGB8, rgb, 0, sizeof(rgb)},
	        {FVL_PIXEL_RGB8, rgb_s, W * 3 + PAD, sizeof(rgb_s)},
	        {FVL_PIXEL_BGR8, bgr, W * 3 + PAD, sizeof(bgr)},
	        {FVL_PIXEL_RGBA8, rgba, W * 4 + PAD, 0},
	        {FVL_PIXEL_GRAY8, gray, W + PAD, sizeof(gray)},
	        {FVL_PIXEL_YUYV, yuyv, W * 2 + PAD, sizeof(yuyv)},
	        {FVL_PIXEL_NV12, nv12, W + PAD, sizeof(nv12)},
	};
	struct fvl_image out = {0};
	int worst_yuv = 0;
	for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
		const struct fvl_image_view v = {.data = views[k].data,
		                                 .w = W,
		                                 .h = H,
		                                 .stride = views[k].stride,
		                                 .format = views[k].f,
		                                 .size = views[k].size};
		T_ASSERT(fvl_image_from_view(&v, &out) == FVL_STATUS_OK && out.w == W && out.h == H,
		         "view %zu: %s", k, fvl_last_error());
		for (int y = 0; y < H; y++)
			for (int i = 0; i < W; i++)
				for (int c = 0; c < 3; c++) {
					const int got = out.rgb[(y * W + i) * 3 + c];
					if (views[k].f == FVL_PIXEL_YUYV ||
					    views[k].f == FVL_PIXEL_NV12) {
						float want[3];
						const uint8_t *p = &yuyv[y][0];
						ref_yuv(p[2 * i], p[(2 * i & ~3) + 1],
						        p[(2 * i & ~3) + 3], want);
						const int d = abs(got - (int)lrintf(want[c]));
						worst_yuv = d > worst_yuv ? d : worst_yuv;
					} else {
						const int want = views[k].f == FVL_PIXEL_GRAY8
						                         ? rgb[y][i][0]
						                         : rgb[y][i][c];
						T_ASSERT(got == want,
						         "view %zu pixel %d,%d,%d: %d, not %d", k,
						         y, i, c, got, want);
					}
				}
	}
	t_note("YUYV and NV12 against BT.601 in floating point: off by at most %d", worst_yuv);
	T_ASSERT(worst_yuv <= 1, "YUV conversion off by %d", worst_yuv);
	/* views that do not hold together are refused, and out is kept */
	const uint8_t *p_rgb = &rgb[0][0][0], *p_yuyv = &yuyv[0][0], *p_nv12 = &nv12[0][0];
	const struct {
		struct fvl_image_view v;
		const char *why;
	} bad[] = {
	        {{.data = p_yuyv, .w = 5, .h = H, .format = FVL_PIXEL_YUYV}, "even width"},
	        {{.data = p_nv12, .w = W, .h = 3, .format = FVL_PIXEL_NV12}, "even height"},
	        {{.data = p_rgb, .w = W, .h = H, .stride = 17, .format = FVL_PIXEL_RGB8},
	         "shorter"},
	        {{.data = p_rgb, .w = W, .h = H, .format = FVL_PIXEL_RGB8, .size = 71}, "needs 72"},
	        {{.data = p_nv12,
	          .w = W,
	          .h = H,
	          .stride = W,
	          .format = FVL_PIXEL_NV12,
	          .size = 35},
	         "needs 36"},
	        {{.data = NULL, .w = W, .h = H, .format = FVL_PIXEL_RGB8}, "empty"},
	        {{.data = p_rgb, .w = 0, .h = H, .format = FVL_PIXEL_RGB8}, "empty"},
	        {{.data = p_rgb, .w = 65535, .h = 65535, .format = FVL_PIXEL_GRAY8}, "64 Mpixel"},
	        {{.data = p_rgb, .w = W, .h = H, .format = (enum fvl_pixel_format)99}, "unknown"},
	};
	const uint8_t *kept = out.rgb;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		T_CHECK(fvl_image_from_view(&bad[k].v, &out) == FVL_STATUS_INVALID_ARGUMENT &&
		                strstr(fvl_last_error(), bad[k].why) && out.rgb == kept,
		        "bad view %zu: %s", k, fvl_last_error());
	fvl_image_free(&out);
}

static bool collect(void *user, int32_t id, const char *text, size_t len)
{
	(void)id;
	char *buf = user;
	const size_t n = strlen(buf);
	if (n + len < 256) {
		memcpy(buf + n, text, len);
		buf[n + len] = 0;
	}
	return true;
}

/* A BGR8 view with a stride gives the session what the RGB image gives it. */
static void test_session_image_view_equals_rgb(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	struct fvl_gen_params g;
	struct fvl_image img;
	fvl_gen_params_default(&g);
	g.n_predict = 6;
	T_ASSERT(open_session(0, &m, &s, &img), "%s", fvl_last_error());
	const size_t stride = (size_t)img.w * 3 + 9;
	uint8_t *bgr = calloc(stride, img.h);
	T_ASSERT(bgr, "oom");
	for (uint32_t y = 0; y < img.h; y++)
		for (uint32_t x = 0; x < img.w; x++)
			for (int c = 0; c < 3; c++)
				bgr[y * stride + x * 3 + 2 - c] = img.rgb[(y * img.w + x) * 3 + c];
	char a[256] = "", b[256] = "";
	size_t na = 0, nb = 0;
	float *la = NULL;
	T_ASSERT(fvl_session_set_image_rgb(s, img.rgb, img.w, img.h) == FVL_STATUS_OK &&
	                 fvl_session_ask(s, QUESTION, &g, collect, a) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	const float *l = fvl_session_prompt_logits(s, &na);
	la = malloc(na * sizeof(float));
	T_ASSERT(l && la, "logits");
	memcpy(la, l, na * sizeof(float));
	const struct fvl_image_view v = {.data = bgr,
	                                 .w = img.w,
	                                 .h = img.h,
	                                 .stride = stride,
	                                 .format = FVL_PIXEL_BGR8,
	                                 .size = stride * img.h};
	T_ASSERT(fvl_session_set_image_view(s, &v) == FVL_STATUS_OK &&
	                 fvl_session_ask(s, QUESTION, &g, collect, b) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	l = fvl_session_prompt_logits(s, &nb);
	T_CHECK(l && na == nb && memcmp(l, la, na * sizeof(float)) == 0,
	        "prompt logits differ between the RGB image and its BGR view");
	T_CHECK(strcmp(a, b) == 0, "answers differ: '%s' / '%s'", a, b);
	/* a bad view leaves no image behind */
	const struct fvl_image_view odd = {.data = bgr, .w = 3, .h = 1, .format = FVL_PIXEL_YUYV};
	T_CHECK(fvl_session_set_image_view(s, &odd) == FVL_STATUS_INVALID_ARGUMENT, "odd YUYV");
	free(la);
	free(bgr);
	fvl_image_free(&img);
	fvl_session_free(s);
	fvl_model_free(m);
}

struct cb_log {
	uint32_t calls, last_done, total,
	        abort_after; /* abort once calls reach abort_after (0: never) */
	bool monotonic, abort_now;
};

static void on_progress(void *user, const char *stage, uint32_t done, uint32_t total)
{
	struct cb_log *l = user;
	l->monotonic = l->monotonic && stage && done == l->last_done + 1 && done <= total;
	l->calls++, l->last_done = done, l->total = total;
}

static bool on_abort(void *user)
{
	const struct cb_log *l = user;
	return l->abort_now || (l->abort_after && l->calls >= l->abort_after);
}

static bool has_image_id(const struct fvl_session *s)
{
	size_t n = 0;
	const int32_t *ids = fvl_session_prompt_ids(s, &n);
	for (size_t i = 0; ids && i < n; i++)
		if (ids[i] == FVL_IMAGE_TOKEN_ID)
			return true;
	return false;
}

/* The progress callback counts every step of the vision pass; the abort callback stops the vision
 * pass (no image left) and a prefill (the next question then answers as a fresh session does). */
static void test_abort_and_progress_callbacks(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL, *fresh = NULL;
	struct fvl_session_params sp;
	struct fvl_gen_params g;
	struct fvl_image img;
	struct cb_log log = {.monotonic = true};
	T_ASSERT(open_session(1, &m, &fresh, &img), "%s", fvl_last_error());
	fvl_session_params_default(&sp);
	sp.abort_cb = on_abort, sp.progress_cb = on_progress, sp.cb_user = &log;
	T_ASSERT(fvl_session_init(m, &sp, &s) == FVL_STATUS_OK, "%s", fvl_last_error());
	fvl_gen_params_default(&g);
	g.n_predict = 5;
	T_ASSERT(fvl_session_set_image_rgb(s, img.rgb, img.w, img.h) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	t_note("vision pass: %u progress calls of %u steps", log.calls, log.total);
	T_CHECK(log.monotonic && log.calls == log.total && log.last_done == log.total &&
	                log.total >= 10,
	        "progress: %u calls, last %u of %u", log.calls, log.last_done, log.total);
	/* abort after 3 steps of the next image: CANCELLED, and no image left to answer about */
	log = (struct cb_log){.monotonic = true, .abort_after = 3};
	T_CHECK(fvl_session_set_image_rgb(s, img.rgb, img.w, img.h) == FVL_STATUS_CANCELLED &&
	                log.calls == 3,
	        "abort in the vision pass: %s after %u steps", fvl_last_error(), log.calls);
	log.abort_after = 0;
	T_CHECK(fvl_session_ask(s, QUESTION, &g, NULL, NULL) == FVL_STATUS_OK && !has_image_id(s),
	        "after a cancelled image the question still saw one (%s)", fvl_last_error());
	/* abort a prefill, then ask again: the answer equals a fresh session's */
	T_ASSERT(fvl_session_set_image_rgb(s, img.rgb, img.w, img.h) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	log.abort_now = true;
	T_CHECK(fvl_session_ask(s, QUESTION, &g, NULL, NULL) == FVL_STATUS_CANCELLED,
	        "abort in the prefill: %s", fvl_last_error());
	log.abort_now = false;
	char a[256] = "", b[256] = "";
	T_ASSERT(fvl_session_ask(s, QUESTION, &g, collect, a) == FVL_STATUS_OK &&
	                 fvl_session_set_image_rgb(fresh, img.rgb, img.w, img.h) == FVL_STATUS_OK &&
	                 fvl_session_ask(fresh, QUESTION, &g, collect, b) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	T_CHECK(strcmp(a, b) == 0 && a[0], "after a cancelled prefill: '%s', a fresh session: '%s'",
	        a, b);
	fvl_image_free(&img);
	fvl_session_free(s);
	fvl_session_free(fresh);
	fvl_model_free(m);
}

/* Params structs of another size (another fvl.h, or not started from _default) are refused with
 * both sizes named, by every call that takes one; the right size works. */
static void test_params_of_another_size_are_refused(void)
{
	struct fvl_model *m = NULL;
	struct fvl_session *s = NULL;
	struct fvl_image img;
	T_ASSERT(open_session(1, &m, &s, &img), "%s", fvl_last_error());
	struct fvl_session_params sp;
	struct fvl_gen_params g;
	struct fvl_task_params tp;
	struct fvl_camera_params cp;
	struct fvl_bench_params bp;
	struct fvl_session *s2 = NULL;
	struct fvl_capture *cap = NULL;
	struct fvl_task_result r;
	char want[32];
	fvl_session_params_default(&sp);
	fvl_gen_params_default(&g);
	fvl_task_params_default(&tp);
	fvl_camera_params_default(&cp);
	fvl_bench_params_default(&bp);
	T_CHECK(sp.size == sizeof(sp) && g.size == sizeof(g) && tp.size == sizeof(tp) &&
	                cp.size == sizeof(cp) && bp.size == sizeof(bp),
	        "the _default functions set the sizes");
	sp.size -= 8, g.size += 4, tp.size = 0, cp.size = 1, bp.size = 3;
	snprintf(want, sizeof(want), "has %zu", sizeof(sp));
	T_CHECK(fvl_session_init(m, &sp, &s2) == FVL_STATUS_INVALID_ARGUMENT && !s2 &&
	                strstr(fvl_last_error(), want),
	        "session params: %s", fvl_last_error());
	t_note("%s", fvl_last_error());
	T_CHECK(fvl_session_ask(s, QUESTION, &g, NULL, NULL) == FVL_STATUS_INVALID_ARGUMENT,
	        "gen params (ask)");
	uint32_t np, nc;
	T_CHECK(fvl_session_measure(s, QUESTION, true, &g, &np, &nc) == FVL_STATUS_INVALID_ARGUMENT,
	        "gen params (measure)");
	T_CHECK(fvl_task_run(m, img.rgb, img.w, img.h, &tp, &r) == FVL_STATUS_INVALID_ARGUMENT,
	        "task params: %s", fvl_last_error());
	T_CHECK(fvl_capture_start(&cp, false, &cap) == FVL_STATUS_INVALID_ARGUMENT && !cap,
	        "camera params: %s", fvl_last_error());
	T_CHECK(fvl_bench(m, "x", &bp, stderr) == FVL_STATUS_INVALID_ARGUMENT, "bench params");
	g.size = sizeof(g);
	g.n_predict = 2;
	T_CHECK(fvl_session_ask(s, QUESTION, &g, NULL, NULL) == FVL_STATUS_OK, "%s",
	        fvl_last_error());
	fvl_image_free(&img);
	fvl_session_free(s);
	fvl_model_free(m);
}

void suite_api(void)
{
	T_RUN(test_params_of_another_size_are_refused);
	T_RUN(test_abort_and_progress_callbacks);
	T_RUN(test_image_views_in_every_pixel_format);
	T_RUN(test_session_image_view_equals_rgb);
	T_RUN(test_session_image_dump_matches_the_goldens);
	T_RUN(test_model_info_reads_the_header_only);
	T_RUN(test_tokenizer_handle_gives_the_golden_ids);
	T_RUN(test_system_info_names_every_kernel);
	T_RUN(test_image_load_and_change);
}
