/* test-vision.c — the vision side against the fvl-tiny-phi3 goldens: preprocessing of chelsea.jpg,
 * DaViT, _encode_image, the BART encoder for the three prompts, fusion and the projector, each fed
 * from the previous golden; and bad images rejected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "florence2-encoder.h"
#include "golden.h"
#include "image.h"
#include "test.h"
#include "vision.h"

static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};

static void test_preprocess_chelsea_matches_pixel_values(void)
{
	struct fvl_image img, sq, rs;
	const uint8_t fill[3] = {123, 116, 103};
	T_ASSERT(fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &img) == FVL_STATUS_OK,
	         "%s", fvl_last_error());
	T_ASSERT(fvl_image_pad_square(&img, fill, &sq) == FVL_STATUS_OK, "pad");
	T_ASSERT(fvl_image_resize_bicubic(&sq, 128, 128, &rs) == FVL_STATUS_OK, "resize");
	float *px = malloc(3 * 128 * 128 * sizeof(float)),
	      *want = golden_tensor("pixel_values", 3 * 128 * 128);
	T_ASSERT(px && want, "golden pixel_values");
	fvl_image_normalize(&rs, 1.0f / 255.0f, mean, stdv, px);
	double worst = 0;
	size_t differ = 0;
	for (size_t i = 0; i < 3 * 128 * 128; i++) {
		double d = fabs((double)px[i] - want[i]);
		if (d > worst)
			worst = d;
		differ += d > 1e-4;
	}
	t_note("chelsea.jpg %ux%u -> pad %u -> 128: max |error| %.3g, %zu of %d values differ at "
	       "all",
	       img.w, img.h, sq.w, worst, differ, 3 * 128 * 128);
	fvl_image_free(&img);
	fvl_image_free(&sq);
	fvl_image_free(&rs);
	free(px);
	free(want);
	T_ASSERT(worst <= 0.02, "max error %.3g above 0.02", worst);
}

struct f2_fixture {
	struct fvl_gguf *g;
	struct fvl_f2 f;
	struct fvl_compute compute;
};

static bool open_f2(struct f2_fixture *x, const char *vision_type)
{
	const char *path = golden_model("f32", vision_type);
	memset(x, 0, sizeof(*x));
	if (!path || fvl_gguf_open(path, &x->g) != FVL_STATUS_OK ||
	    fvl_f2_load(&x->f, x->g) != FVL_STATUS_OK ||
	    fvl_compute_init(&x->compute, 2, NULL) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "load (%s): %s", vision_type, fvl_last_error());
		return false;
	}
	return true;
}

static void close_f2(struct f2_fixture *x)
{
	fvl_compute_free(&x->compute);
	fvl_f2_free(&x->f);
	fvl_gguf_free(x->g);
}

/* Runs stage `what` from its golden input and compares with its golden output. */
static double stage_err(struct f2_fixture *x, const char *what, double *cos)
{
	double e = INFINITY;
	float *in = NULL, *got = NULL, *want = NULL;
	if (strcmp(what, "davit_out") == 0) {
		in = golden_tensor("pixel_values", 3 * 128 * 128);
		got = malloc(16 * 128 * sizeof(float));
		want = golden_tensor("davit_out", 16 * 128);
		if (in && got && want &&
		    fvl_davit_forward(&x->f.davit, &x->compute, in, got, NULL) == FVL_STATUS_OK)
			e = golden_err(got, want, 16 * 128),
			*cos = golden_cosine(got, want, 16 * 128);
	} else if (strcmp(what, "image_features") == 0) {
		in = golden_tensor("davit_out", 16 * 128);
		got = malloc(17 * 64 * sizeof(float));
		want = golden_tensor("image_features", 17 * 64);
		if (in && got && want &&
		    fvl_f2_encode_image(&x->f.encoder, &x->compute, in, got) == FVL_STATUS_OK)
			e = golden_err(got, want, 17 * 64),
			*cos = golden_cosine(got, want, 17 * 64);
	} else {
		int row = what[strlen(what) - 1] - '0', ids[64];
		int n = golden_ids("task_ids", ids, 64);
		in = golden_tensor("image_features", 17 * 64);
		got = malloc(31 * 64 * sizeof(float));
		want = golden_tensor(what, 31 * 64);
		int32_t p[14];
		for (int i = 0; i < 14 && n == 42; i++)
			p[i] = ids[row * 14 + i];
		if (n == 42 && in && got && want &&
		    fvl_f2_encoder_forward(&x->f.encoder, &x->compute, in, 17, p, 14, got) ==
		            FVL_STATUS_OK)
			e = golden_err(got, want, 31 * 64),
			*cos = golden_cosine(got, want, 31 * 64);
	}
	free(in);
	free(got);
	free(want);
	return e;
}

static void test_vision_stages_match_goldens(void)
{
	static const char *const stages[] = {"davit_out", "image_features", "encoder_out_0",
	                                     "encoder_out_1", "encoder_out_2"};
	struct f2_fixture x;
	if (!open_f2(&x, "f32"))
		goto out;
	T_ASSERT(fvl_davit_grid(&x.f.davit) == 4 && fvl_f2_n_visual(&x.f.encoder) == 17,
	         "grid %zu, visual %zu", fvl_davit_grid(&x.f.davit), fvl_f2_n_visual(&x.f.encoder));
	for (size_t i = 0; i < 5; i++) {
		double cos = 0, e = stage_err(&x, stages[i], &cos);
		t_note("%s (f32 weights, fed from the previous golden): max error %.2e of max "
		       "|value|, "
		       "cosine %.7f",
		       stages[i], e, cos);
		T_ASSERT(e <= 1e-3, "%s: error %.3g above 1e-3 (%s)", stages[i], e,
		         fvl_last_error());
	}
out:
	close_f2(&x);
}

static void test_vision_stages_with_quantized_weights(void)
{
	static const char *const types[] = {"f16", "q8_0"};
	for (int t = 0; t < 2; t++) {
		struct f2_fixture x;
		if (!open_f2(&x, types[t])) {
			close_f2(&x);
			return;
		}
		double c1 = 0, c2 = 0, c3 = 0;
		stage_err(&x, "davit_out", &c1);
		stage_err(&x, "image_features", &c2);
		stage_err(&x, "encoder_out_0", &c3);
		close_f2(&x);
		t_note("%s vision weights: cosine davit_out %.6f, image_features %.6f, "
		       "encoder_out_0 %.6f",
		       types[t], c1, c2, c3);
		T_ASSERT(c1 > 0.99 && c2 > 0.99 && c3 > 0.99, "%s: cosines %.4f %.4f %.4f",
		         types[t], c1, c2, c3);
	}
}

/* On aarch64 f16 weights are packed into panels at load; runtimes forced to the other variants
 * (f32-arithmetic panel kernel, its scalar twin) must agree with the goldens too. */
static void test_f16_panels_under_other_variants(void)
{
	static const char *const isas[] = {"baseline", "scalar"};
	struct f2_fixture x;
	if (!open_f2(&x, "f16")) {
		close_f2(&x);
		return;
	}
	if (!x.compute.kernels.f16p16) {
		close_f2(&x);
		T_SKIP("f16 weights stay row-major on this CPU");
	}
	const struct fvl_compute keep = x.compute;
	double c[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		T_ASSERT(fvl_compute_init(&x.compute, 1, isas[i]) == FVL_STATUS_OK, "%s",
		         fvl_last_error());
		stage_err(&x, "davit_out", &c[i]);
		fvl_compute_free(&x.compute);
	}
	x.compute = keep;
	close_f2(&x);
	t_note("f16 panels, FVL_ISA baseline / scalar: cosine davit_out %.6f / %.6f", c[0], c[1]);
	T_ASSERT(c[0] > 0.9999 && c[1] > 0.9999, "cosines %.6f %.6f", c[0], c[1]);
}

static void test_fusion_and_projector_match_goldens(void)
{
	struct fvl_gguf *g = NULL;
	struct fvl_vision v;
	struct fvl_compute compute;
	const char *path = golden_model("f32", "f32");
	memset(&v, 0, sizeof(v));
	memset(&compute, 0, sizeof(compute));
	T_ASSERT(path && fvl_gguf_open(path, &g) == FVL_STATUS_OK, "open");
	T_ASSERT(fvl_vision_load(&v, g) == FVL_STATUS_OK &&
	                 fvl_compute_init(&compute, 2, NULL) == 0,
	         "%s", fvl_last_error());
	float *feat = golden_tensor("image_features", 17 * 64), *enc[3];
	for (int p = 0; p < 3; p++) {
		char name[32];
		snprintf(name, sizeof(name), "encoder_out_%d", p);
		enc[p] = golden_tensor(name, 31 * 64);
	}
	float *fused = malloc(17 * 256 * 4), *out = malloc(17 * 96 * 4);
	float *want_f = golden_tensor("fused", 17 * 256),
	      *want_p = golden_tensor("projector_out", 17 * 96);
	double ef = INFINITY, ep = INFINITY;
	bool ok = feat && enc[0] && enc[1] && enc[2] && fused && out && want_f && want_p &&
	          v.projector.out_dim == 96;
	if (ok) {
		fvl_dbfusion(17, v.drop, 64, v.n_prompts, feat, (const float *const *)enc, fused);
		ef = golden_err(fused, want_f, 17 * 256);
		/* fed the golden fused */
		ok = fvl_projector_forward(&v.projector, &compute, 17, want_f, out) ==
		     FVL_STATUS_OK;
		ep = golden_err(out, want_p, 17 * 96);
	}
	free(feat), free(enc[0]), free(enc[1]), free(enc[2]);
	free(fused), free(want_f), free(out), free(want_p);
	fvl_vision_free(&v);
	fvl_compute_free(&compute);
	fvl_gguf_free(g);
	T_ASSERT(ok, "fuse/project: %s", fvl_last_error());
	t_note("fused: max error %.2e; projector_out (from the golden fused): %.2e", ef, ep);
	T_ASSERT(ef <= 1e-3 && ep <= 1e-3, "errors %.3g / %.3g above 1e-3", ef, ep);
}

/* The whole chain from the JPEG: preprocessing, DaViT, encoders, fusion, projector. */
static void test_vision_chain_from_chelsea_jpg(void)
{
	struct fvl_gguf *g = NULL;
	struct fvl_vision v;
	struct fvl_compute compute;
	struct fvl_image img;
	memset(&v, 0, sizeof(v));
	memset(&compute, 0, sizeof(compute));
	const char *path = golden_model("f32", "f32");
	T_ASSERT(path && fvl_gguf_open(path, &g) == FVL_STATUS_OK, "open");
	T_ASSERT(fvl_vision_load(&v, g) == FVL_STATUS_OK &&
	                 fvl_compute_init(&compute, 2, NULL) == 0,
	         "%s", fvl_last_error());
	T_ASSERT(fvl_image_load(t_datapath("fvl-tiny-phi3/chelsea.jpg"), &img) == 0, "image");
	float *px = malloc(3 * 128 * 128 * 4), *out = malloc(17 * 96 * 4);
	float *want = golden_tensor("projector_out", 17 * 96);
	/* the intermediate tensors fvl run --dump writes */
	struct fvl_vision_dump dump = {
	        NULL,
	        malloc(16 * 128 * 4),
	        malloc(17 * 64 * 4),
	        {malloc(31 * 64 * 4), malloc(31 * 64 * 4), malloc(31 * 64 * 4)},
	        malloc(17 * 256 * 4)};
	bool ok = px && out && want && fvl_vision_preprocess(&v, &img, px) == FVL_STATUS_OK &&
	          fvl_vision_embed(&v, &compute, px, out, &dump) == FVL_STATUS_OK;
	double e = ok ? golden_err(out, want, 17 * 96) : INFINITY, worst = 0;
	static const struct {
		const char *name;
		size_t n;
	} st[] = {{"davit_out", 16 * 128},    {"image_features", 17 * 64},
	          {"encoder_out_0", 31 * 64}, {"encoder_out_1", 31 * 64},
	          {"encoder_out_2", 31 * 64}, {"fused", 17 * 256}};
	float *got[6] = {dump.davit_out,      dump.image_features, dump.encoder_out[0],
	                 dump.encoder_out[1], dump.encoder_out[2], dump.fused};
	for (int i = 0; i < 6 && ok; i++) {
		float *w = golden_tensor(st[i].name, st[i].n);
		double ei = w ? golden_err(got[i], w, st[i].n) : INFINITY;
		if (ei > worst)
			worst = ei;
		free(w);
	}
	for (int i = 0; i < 6; i++)
		free(got[i]);
	fvl_image_free(&img);
	free(px), free(out), free(want);
	fvl_vision_free(&v);
	fvl_compute_free(&compute);
	fvl_gguf_free(g);
	T_ASSERT(ok, "%s", fvl_last_error());
	t_note("chelsea.jpg -> projector_out: max error %.2e of max |value| (tolerance 2e-3); "
	       "every "
	       "dumped stage within %.2e",
	       e, worst);
	T_ASSERT(e <= 2e-3 && worst <= 2e-3, "chain error %.3g, stages %.3g", e, worst);
}

static void test_bad_images_are_rejected(void)
{
	struct fvl_image img;
	uint8_t *jpg = NULL;
	size_t n = 0;
	FILE *f = fopen(t_datapath("images/coffee.jpg"), "rb");
	T_ASSERT(f, "coffee.jpg");
	jpg = malloc(1 << 20);
	n = fread(jpg, 1, 1 << 20, f);
	fclose(f);
	T_ASSERT(fvl_image_decode(jpg, n, 0, &img) == FVL_STATUS_OK && img.w > 0, "%s",
	         fvl_last_error());
	t_note("coffee.jpg: %ux%u", img.w, img.h);
	fvl_image_free(&img);
	static const struct {
		size_t cut;
		const char *want;
	} cuts[] = {{100, "JPEG"}, {2, "unsupported"}, {0, "empty"}};
	for (size_t i = 0; i < 3; i++) {
		enum fvl_status st = fvl_image_decode(jpg, cuts[i].cut, 0, &img);
		T_ASSERT(st != FVL_STATUS_OK && strstr(fvl_last_error(), cuts[i].want) && !img.rgb,
		         "cut at %zu: %s", cuts[i].cut, fvl_last_error());
		t_note("%zu bytes: %s", cuts[i].cut, fvl_last_error());
	}
	enum fvl_status st = fvl_image_decode(jpg, n / 2, 0, &img); /* truncated scan */
	T_ASSERT(st == FVL_STATUS_BAD_FILE && !img.rgb, "truncated JPEG accepted");
	t_note("half a JPEG: %s", fvl_last_error());
	memset(jpg + 200, 0x55, 400); /* corrupt the tables */
	st = fvl_image_decode(jpg, n, 0, &img);
	T_ASSERT(st != FVL_STATUS_OK && !img.rgb, "corrupt JPEG accepted");
	T_ASSERT(fvl_image_decode(jpg, n, 1000, &img) != FVL_STATUS_OK, "cap");
	free(jpg);
	static const char pnm_big[] = "P6\n100000 100000\n255\n";
	T_ASSERT(fvl_image_decode((const uint8_t *)pnm_big, sizeof(pnm_big) - 1, 0, &img) ==
	                         FVL_STATUS_UNSUPPORTED &&
	                 strstr(fvl_last_error(), "over the limit"),
	         "%s", fvl_last_error());
	static const char pnm_zero[] = "P5\n0 7\n255\n";
	T_ASSERT(fvl_image_decode((const uint8_t *)pnm_zero, sizeof(pnm_zero) - 1, 0, &img) ==
	                         FVL_STATUS_BAD_FILE &&
	                 strstr(fvl_last_error(), "no pixels"),
	         "%s", fvl_last_error());
	static const char pnm_short[] = "P6\n4 4\n255\nabc";
	T_ASSERT(fvl_image_decode((const uint8_t *)pnm_short, sizeof(pnm_short) - 1, 0, &img) ==
	                         FVL_STATUS_BAD_FILE &&
	                 strstr(fvl_last_error(), "truncated PNM"),
	         "%s", fvl_last_error());
	static const char pnm_ok[] = "P5\n# comment\n2 1\n255\n\x10\x20";
	T_ASSERT(fvl_image_decode((const uint8_t *)pnm_ok, sizeof(pnm_ok) - 1, 0, &img) == 0 &&
	                 img.w == 2 && img.rgb[3] == 0x20 && img.rgb[5] == 0x20,
	         "P5 gray");
	fvl_image_free(&img);
	T_ASSERT(fvl_image_load(t_tmppath("none.jpg"), &img) == FVL_STATUS_NOT_FOUND, "missing");
}

/* PNG files decode to the pixels PIL's open + convert("RGB") gives (the .ppm beside each, written by
 * PIL 9.4): 8-bit RGB, RGBA (alpha dropped), a palette with tRNS, grey + alpha, 16-bit RGB (the high
 * byte) and 4-bit grey (scaled). Corrupt, truncated and oversized PNGs are refused. */
static void test_png_decodes_as_pil_does(void)
{
	static const char *const names[] = {"rgb8",       "rgba8", "palette",
	                                    "gray-alpha", "rgb16", "gray4"};
	char path[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fvl_image png, want;
		snprintf(path, sizeof(path), "images/png/%s.png", names[i]);
		T_ASSERT(fvl_image_load(t_datapath(path), &png) == FVL_STATUS_OK, "%s: %s", path,
		         fvl_last_error());
		snprintf(path, sizeof(path), "images/png/%s.ppm", names[i]);
		T_ASSERT(fvl_image_load(t_datapath(path), &want) == FVL_STATUS_OK, "%s", path);
		T_ASSERT(png.w == want.w && png.h == want.h, "%s: %ux%u", names[i], png.w, png.h);
		size_t diff = 0;
		for (size_t k = 0; k < (size_t)png.w * png.h * 3; k++)
			diff += png.rgb[k] != want.rgb[k];
		T_ASSERT(diff == 0, "%s: %zu bytes differ from PIL", names[i], diff);
		fvl_image_free(&png);
		fvl_image_free(&want);
	}
	FILE *f = fopen(t_datapath("images/png/rgb8.png"), "rb");
	T_ASSERT(f, "rgb8.png");
	uint8_t buf[4096];
	const size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct fvl_image img;
	T_ASSERT(fvl_image_decode(buf, n - 20, 0, &img) == FVL_STATUS_BAD_FILE && !img.rgb,
	         "truncated PNG: %s", fvl_last_error());
	t_note("truncated PNG: %s", fvl_last_error());
	T_ASSERT(fvl_image_decode(buf, n, 100, &img) != FVL_STATUS_OK &&
	                 strstr(fvl_last_error(), "over the limit") && !img.rgb,
	         "pixel cap: %s", fvl_last_error());
	buf[n / 2] ^= 0x5a; /* inside the IDAT: its CRC no longer holds */
	T_ASSERT(fvl_image_decode(buf, n, 0, &img) == FVL_STATUS_BAD_FILE && !img.rgb,
	         "corrupt PNG: %s", fvl_last_error());
	t_note("corrupt PNG: %s", fvl_last_error());
	buf[n / 2] ^= 0x5a;
	buf[16] = 0x7f; /* width 2^31 + ...: an IHDR out of range */
	T_ASSERT(fvl_image_decode(buf, n, 0, &img) != FVL_STATUS_OK && !img.rgb, "huge IHDR");
}

static bool same_image(const struct fvl_image *a, const struct fvl_image *b)
{
	return a->w == b->w && a->h == b->h && !memcmp(a->rgb, b->rgb, (size_t)a->w * a->h * 3);
}

/* EXIF orientation: off by default (the pixels as stored, as the reference's PIL open gives them);
 * with FVL_IMAGE_EXIF_TRANSPOSE each of the 8 orientations (JPEG APP1) and a PNG's eXIf turn the
 * image upright exactly as PIL's ImageOps.exif_transpose (the .ppm files PIL 9.4 wrote). */
static void test_exif_orientation_as_pil_transposes(void)
{
	char path[64];
	struct fvl_image got, want;
	for (uint32_t o = 1; o <= 8; o++) {
		snprintf(path, sizeof(path), "images/exif/o%u.jpg", o);
		T_ASSERT(fvl_image_load_ex(t_datapath(path), FVL_IMAGE_EXIF_TRANSPOSE, &got) == 0,
		         "%s: %s", path, fvl_last_error());
		snprintf(path, sizeof(path), "images/exif/o%u-upright.ppm", o);
		T_ASSERT(fvl_image_load(t_datapath(path), &want) == 0, "%s", path);
		T_CHECK(same_image(&got, &want), "orientation %u: %ux%u, PIL %ux%u", o, got.w,
		        got.h, want.w, want.h);
		fvl_image_free(&got);
		fvl_image_free(&want);
	}
	T_ASSERT(fvl_image_load(t_datapath("images/exif/o6.jpg"), &got) == 0 &&
	                 fvl_image_load(t_datapath("images/exif/o6-stored.ppm"), &want) == 0,
	         "o6");
	T_CHECK(same_image(&got, &want) && got.w == 24, "default: not transposed");
	fvl_image_free(&got);
	fvl_image_free(&want);
	T_ASSERT(fvl_image_load_ex(t_datapath("images/exif/o6.png"), FVL_IMAGE_EXIF_TRANSPOSE,
	                           &got) == 0 &&
	                 fvl_image_load(t_datapath("images/exif/o6-png-upright.ppm"), &want) == 0,
	         "o6.png: %s", fvl_last_error());
	T_CHECK(same_image(&got, &want), "PNG eXIf orientation 6");
	fvl_image_free(&got);
	fvl_image_free(&want);
	/* broken metadata reads as "no orientation": every cut of a JPEG's header */
	FILE *f = fopen(t_datapath("images/exif/o8.jpg"), "rb");
	T_ASSERT(f, "o8.jpg");
	uint8_t buf[4096];
	const size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	T_CHECK(fvl_image_exif_orientation(buf, n) == 8, "o8: %u",
	        fvl_image_exif_orientation(buf, n));
	for (size_t cut = 0; cut < 200 && cut < n; cut++) {
		const uint32_t o = fvl_image_exif_orientation(buf, cut);
		T_CHECK(o == 1 || o == 8, "cut at %zu: %u", cut, o);
	}
	struct fvl_image tiny = {0};
	T_CHECK(fvl_image_orient(&tiny, 6) == FVL_STATUS_INVALID_ARGUMENT, "no image");
}

/* The three prompts in one pass (one GEMM per linear over all their rows) against three single
 * passes and the goldens, for f32 and q8_0 vision weights. */
static void test_encoder_prompts_in_one_pass(void)
{
	static const char *const types[] = {"f32", "q8_0"};
	for (size_t ti = 0; ti < 2; ti++) {
		struct f2_fixture x;
		if (!open_f2(&x, types[ti]))
			goto out;
		int ids[64];
		int32_t p[3 * 14];
		const int n = golden_ids("task_ids", ids, 64);
		float *in = golden_tensor("image_features", 17 * 64);
		float *one = malloc(3 * 31 * 64 * sizeof(float)), *all = malloc(3 * 31 * 64 * 4);
		T_CHECK(n == 42 && in && one && all, "fixture");
		if (n == 42 && in && one && all) {
			for (int i = 0; i < 42; i++)
				p[i] = ids[i];
			bool ok = fvl_f2_encoder_forward_prompts(&x.f.encoder, &x.compute, in, 17,
			                                         p, 14, 3, all) == FVL_STATUS_OK;
			for (int r = 0; r < 3 && ok; r++)
				ok = fvl_f2_encoder_forward(&x.f.encoder, &x.compute, in, 17,
				                            p + r * 14, 14,
				                            one + r * 31 * 64) == FVL_STATUS_OK;
			T_CHECK(ok, "%s", fvl_last_error());
			double worst = 0, vs_golden = 0;
			for (int r = 0; r < 3 && ok; r++) {
				char name[32];
				snprintf(name, sizeof(name), "encoder_out_%d", r);
				float *want = golden_tensor(name, 31 * 64);
				const double e =
				        golden_err(all + r * 31 * 64, one + r * 31 * 64, 31 * 64);
				const double g = want ? golden_err(all + r * 31 * 64, want, 31 * 64)
				                      : INFINITY;
				worst = e > worst ? e : worst;
				vs_golden = g > vs_golden ? g : vs_golden;
				free(want);
			}
			t_note("%s: one pass vs three: max difference %.2e of max |value|; vs the "
			       "goldens %.2e",
			       types[ti], worst, vs_golden);
			T_CHECK(worst <= 1e-6, "%s: one pass differs from three by %.3g", types[ti],
			        worst);
			T_CHECK(vs_golden <= (ti ? 3e-2 : 1e-3), "%s: %.3g from the goldens",
			        types[ti], vs_golden);
		}
		free(in), free(one), free(all);
	out:
		close_f2(&x);
	}
}

void suite_vision(void)
{
	T_RUN(test_encoder_prompts_in_one_pass);
	T_RUN(test_bad_images_are_rejected);
	T_RUN(test_png_decodes_as_pil_does);
	T_RUN(test_exif_orientation_as_pil_transposes);
	T_RUN(test_fusion_and_projector_match_goldens);
	T_RUN(test_vision_chain_from_chelsea_jpg);
	T_RUN(test_preprocess_chelsea_matches_pixel_values);
	T_RUN(test_vision_stages_match_goldens);
	T_RUN(test_vision_stages_with_quantized_weights);
	T_RUN(test_f16_panels_under_other_variants);
}
