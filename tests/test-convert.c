/* test-convert.c — fvl-quant: quantizers bit-exact on hand-computed blocks; both fixture
 * checkpoints (sharded safetensors with Florence-2 inside, and a PyTorch .bin) converted at each
 * type and read back against the source tensors; metadata and tokenizers against the configs;
 * and every bad-input case rejected with its own message and no output file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "ckpt.h"
#include "common.h"
#include "convert.h"
#include "fp16.h"
#include "gguf.h"
#include "kernels.h"
#include "synth.h"
#include "test.h"

#define PHI3 "fvl-tiny-phi3/checkpoint"
#define F2   "florence2-tiny"

static bool quick(void)
{
	const char *q = getenv("FVL_TEST_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

/* ---- quantizers on hand-computed blocks ----------------------------------------------------- */

static void test_q8_0_quantizer_matches_hand_computed_block(void)
{
	float x[32];
	struct fvl_block_q8_0 b;
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16); /* amax 16: d = 16/127, id = 127/16 = 7.9375 */
	fvl_quantize_row_q8_0(x, &b, 32);
	/* fp16(0.125984...) = 2^-3 * (1 + 8/1024) */
	T_ASSERT(b.d == 0x3008, "d = %04x, expected 3008", b.d);
	static const struct {
		int j, q;
	} want[] = {
	        {0, -127}, {1, -119}, {2, -111}, {15, -8}, {16, 0}, {17, 8}, {30, 111}, {31, 119},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		T_ASSERT(b.qs[want[i].j] == want[i].q, "q[%d] = %d, expected %d", want[i].j,
		         b.qs[want[i].j], want[i].q);
	/* Halves round away from zero (roundf). */
	float y[32] = {127.0f, 2.5f, -2.5f, 0.49999997f};
	fvl_quantize_row_q8_0(y, &b, 32);
	T_ASSERT(b.d == 0x3c00 && b.qs[0] == 127 && b.qs[1] == 3 && b.qs[2] == -3 && b.qs[3] == 0 &&
	                 b.qs[4] == 0,
	         "rounding: d %04x q %d %d %d %d", b.d, b.qs[0], b.qs[1], b.qs[2], b.qs[3]);
	float z[32] = {0};
	fvl_quantize_row_q8_0(z, &b, 32);
	T_ASSERT(b.d == 0 && b.qs[0] == 0 && b.qs[31] == 0, "zero block");
}

static void test_q4_0_quantizer_matches_hand_computed_block(void)
{
	float x[32];
	struct fvl_block_q4_0 b;
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j -
		               16); /* largest magnitude -16 (first): d = -16/-8 = 2, id = 0.5 */
	fvl_quantize_row_q4_0(x, &b, 32);
	T_ASSERT(b.d == 0x4000, "d = %04x, expected 4000 (2.0)", b.d);
	/* q_j = min(15, (int)((j-16)*0.5 + 8.5)); byte j = q_j | q_{j+16} << 4 */
	static const struct {
		int j;
		uint8_t v;
	} want[] = {
	        {0, 0x80}, {1, 0x91}, {2, 0x91}, {3, 0xa2}, {14, 0xf7}, {15, 0xf8},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		T_ASSERT(b.qs[want[i].j] == want[i].v, "qs[%d] = %02x, expected %02x", want[i].j,
		         b.qs[want[i].j], want[i].v);
	/* The sign of d follows the extreme value: a positive maximum gives a negative d. */
	float y[32] = {0};
	y[5] = 4.0f;
	y[6] = -1.0f;
	fvl_quantize_row_q4_0(y, &b, 32);
	T_ASSERT(b.d == fvl_fp32_to_fp16(-0.5f), "d = %04x, expected fp16(-0.5)", b.d);
	/* 4 * -2 + 8.5 = 0.5 -> 0; -1 * -2 + 8.5 = 10.5 -> 10; 0 -> 8 */
	T_ASSERT((b.qs[5] & 15) == 0 && (b.qs[6] & 15) == 10 && (b.qs[0] & 15) == 8, "values");
	float z[32] = {0};
	fvl_quantize_row_q4_0(z, &b, 32);
	/* 0 / -8 is -0: ggml stores d = 0x8000 for an all-zero block, so must we. */
	T_ASSERT(b.d == 0x8000 && b.qs[0] == 0x88 && b.qs[15] == 0x88, "zero block: d %04x q %02x",
	         b.d, b.qs[0]);
}

/* ---- conversion and read-back ---------------------------------------------------------------- */

static struct convert_opts opts_for(const char *dir, const char *out, enum fvl_type t)
{
	struct convert_opts o = {.ckpt_dir = dir,
	                         .out = out,
	                         .wtype = t,
	                         .vision_wtype = t,
	                         .embed_wtype = t,
	                         .quiet = true};
	return o;
}

/* Largest |x - stored| allowed for one element, given its block's magnitude. */
static double bound(enum fvl_type t, double x, double block_amax, double block_max_signed)
{
	switch (t) {
	case FVL_TYPE_F32: return 0.0;
	case FVL_TYPE_F16: return fabs(x) * 0x1p-11 + 0x1p-25;
	case FVL_TYPE_BF16: return fabs(x) * 0x1p-8;
	case FVL_TYPE_Q8_0: return block_amax / 127.0 * 0.51 + block_amax * 0x1p-11;
	case FVL_TYPE_Q4_0: return fabs(block_max_signed) / 8.0 * 1.01 + block_amax * 0x1p-10;
	}
	return 0.0;
}

static void dequantize_row(const struct fvl_gguf_tensor *t, uint64_t r, float *out)
{
	const uint64_t ne0 = t->ne[0];
	const uint8_t *p = t->data;
	switch (t->type) {
	case FVL_TYPE_F32: memcpy(out, p + r * ne0 * 4, ne0 * 4); break;
	case FVL_TYPE_F16:
	case FVL_TYPE_BF16:
		for (uint64_t j = 0; j < ne0; j++) {
			uint16_t h;
			memcpy(&h, p + (r * ne0 + j) * 2, 2);
			out[j] =
			        t->type == FVL_TYPE_F16 ? fvl_fp16_to_fp32(h) : fvl_bf16_to_fp32(h);
		}
		break;
	case FVL_TYPE_Q8_0:
		fvl_dequantize_row_q8_0((const void *)(p + r * (ne0 / 32) * 34), out, ne0);
		break;
	case FVL_TYPE_Q4_0:
		fvl_dequantize_row_q4_0((const void *)(p + r * (ne0 / 32) * 18), out, ne0);
		break;
	}
}

/* Every tensor of the file against the checkpoint tensor the plan names for it. Returns the
 * number of tensors checked, or -1 (with a failure recorded). */
static int check_against_source(const char *dir, const char *path, enum fvl_type t, double *worst)
{
	struct convert_opts o = opts_for(dir, path, t);
	struct ckpt ck;
	struct plan p = {.opts = &o};
	struct fvl_gguf_writer *w;
	struct fvl_gguf *g;
	int n = -1;
	float *src = NULL, *got = NULL;

	ckpt_init(&ck);
	p.ck = &ck;
	if (fvl_gguf_writer_init(&w) != FVL_STATUS_OK ||
	    arch_plan(&o, &ck, &p, w) != FVL_STATUS_OK ||
	    fvl_gguf_open(path, &g) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "plan/open: %s", fvl_last_error());
		goto out_plan;
	}
	if (g->n_tensors != p.n) {
		t_failf(__FILE__, __LINE__, "%llu tensors in the file, %u planned",
		        (unsigned long long)g->n_tensors, p.n);
		goto out;
	}
	*worst = 0;
	for (uint32_t i = 0; i < p.n; i++) {
		const struct plan_tensor *pt = &p.t[i];
		const struct fvl_gguf_tensor *ft = fvl_gguf_find_tensor(g, pt->name);
		if (!ft || ft->ne[0] != pt->ne[0] || ft->ne[1] != pt->ne[1] ||
		    ft->ne[2] != pt->ne[2] || ft->ne[3] != pt->ne[3]) {
			t_failf(__FILE__, __LINE__, "tensor %s missing or of another shape",
			        pt->name);
			goto out;
		}
		uint64_t ne0 = ft->ne[0], rows = ft->ne[1] * ft->ne[2] * ft->ne[3];
		free(src);
		free(got);
		src = malloc(ne0 * rows * sizeof(float));
		got = malloc(ne0 * sizeof(float));
		if (!src || !got || ckpt_read_rows(&pt->src, 0, rows, src) != FVL_STATUS_OK) {
			t_failf(__FILE__, __LINE__, "read %s: %s", pt->src_name, fvl_last_error());
			goto out;
		}
		for (uint64_t r = 0; r < rows; r++) {
			dequantize_row(ft, r, got);
			const float *x = src + r * ne0;
			uint64_t blk = fvl_type_info(ft->type)->blck;
			for (uint64_t b0 = 0; b0 < ne0; b0 += blk) {
				double amax = 0, maxs = 0;
				for (uint64_t j = b0; j < b0 + blk; j++)
					if (fabs(x[j]) > amax)
						amax = fabs(x[j]), maxs = x[j];
				for (uint64_t j = b0; j < b0 + blk; j++) {
					double e = fabs((double)got[j] - x[j]);
					double lim = bound(ft->type, x[j], amax, maxs);
					if (e > lim) {
						t_failf(__FILE__, __LINE__,
						        "%s (%s) row %llu col %llu: stored %.9g, "
						        "source %.9g, error %.3g > bound %.3g",
						        pt->name, fvl_type_info(ft->type)->name,
						        (unsigned long long)r,
						        (unsigned long long)j, got[j], x[j], e,
						        lim);
						goto out;
					}
					if (amax > 0 && e / amax > *worst)
						*worst = e / amax;
				}
			}
		}
	}
	n = (int)p.n;
out:
	fvl_gguf_free(g);
out_plan:
	free(src);
	free(got);
	free(p.t);
	fvl_gguf_writer_free(w);
	ckpt_free(&ck);
	return n;
}

static void convert_and_check(const char *fixture, const char *tag)
{
	static const enum fvl_type types[] = {FVL_TYPE_F32, FVL_TYPE_F16, FVL_TYPE_Q8_0,
	                                      FVL_TYPE_Q4_0};
	const char *dir = t_datapath(fixture);
	for (size_t i = 0; i < 4; i++) {
		if (quick() && types[i] != FVL_TYPE_F32 && types[i] != FVL_TYPE_Q4_0)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "%s-%s.gguf", tag, fvl_type_info(types[i])->name);
		const char *out = t_tmppath(name);
		struct convert_opts o = opts_for(dir, out, types[i]);
		T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "convert %s: %s", name,
		         fvl_last_error());
		double worst;
		int n = check_against_source(dir, out, types[i], &worst);
		if (n < 0)
			return;
		struct stat sb;
		stat(out, &sb);
		t_note("%s: %d tensors equal to the source within the %s bound (worst error %.3g "
		       "of "
		       "the block's max |x|), %lld bytes",
		       name, n, fvl_type_info(types[i])->name, worst, (long long)sb.st_size);
		unlink(out);
	}
	if (quick())
		t_note("FVL_TEST_QUICK: f32 and q4_0 only");
}

static void test_convert_florence_vl_sharded_safetensors_every_type(void)
{
	convert_and_check(PHI3, "phi3");
}

static void test_convert_florence2_pytorch_bin_every_type(void)
{
	convert_and_check(F2, "f2");
}

/* Every tensor of b is in a with the same bytes (and, if all, a has no others). Returns the
 * number compared, or -1 after recording a failure. */
static int64_t same_tensors(const char *a, const char *b, bool all)
{
	struct fvl_gguf *ga, *gb;
	int64_t n = -1;
	if (fvl_gguf_open(a, &ga) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "%s", fvl_last_error());
		return -1;
	}
	if (fvl_gguf_open(b, &gb) != FVL_STATUS_OK) {
		t_failf(__FILE__, __LINE__, "%s", fvl_last_error());
		fvl_gguf_free(ga);
		return -1;
	}
	if (all && ga->n_tensors != gb->n_tensors) {
		t_failf(__FILE__, __LINE__, "%llu vs %llu tensors",
		        (unsigned long long)ga->n_tensors, (unsigned long long)gb->n_tensors);
		goto out;
	}
	for (uint64_t i = 0; i < gb->n_tensors; i++) {
		const struct fvl_gguf_tensor *tb = &gb->tensors[i];
		char name[80];
		snprintf(name, sizeof(name), "%.*s", (int)tb->name.n, tb->name.p);
		const struct fvl_gguf_tensor *ta = fvl_gguf_find_tensor(ga, name);
		if (!ta || ta->type != tb->type || ta->n_bytes != tb->n_bytes ||
		    memcmp(ta->data, tb->data, ta->n_bytes) != 0) {
			t_failf(__FILE__, __LINE__, "tensor %s differs between %s and %s", name, a,
			        b);
			goto out;
		}
	}
	n = (int64_t)gb->n_tensors;
out:
	fvl_gguf_free(ga);
	fvl_gguf_free(gb);
	return n;
}

/* The .bin (pickle) and the safetensors hold the same Florence-2 weights (bf16-exact f32 vs
 * bf16): the two readers must agree bit for bit. */
static void test_bin_and_safetensors_readers_agree(void)
{
	const char *a = t_tmppath("agree-phi3.gguf"), *b = t_tmppath("agree-f2.gguf");
	struct convert_opts oa = opts_for(t_datapath(PHI3), a, FVL_TYPE_F32);
	struct convert_opts ob = opts_for(t_datapath(F2), b, FVL_TYPE_F32);
	T_ASSERT(convert_run(&oa) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(convert_run(&ob) == FVL_STATUS_OK, "%s", fvl_last_error());
	int64_t same = same_tensors(a, b, false);
	if (same < 0)
		return;
	T_ASSERT(same > 200, "only %lld tensors compared", (long long)same);
	t_note("%lld Florence-2 tensors identical from the pickle and the safetensors readers",
	       (long long)same);
	unlink(a);
	unlink(b);
}

/* Writes the tensors of ck whose names do not start with skip into one safetensors file (BF16
 * and F32 sources copied byte for byte). */
static bool write_safetensors_without(const struct ckpt *ck, const char *path, const char *skip)
{
	size_t cap = 1 << 20, n = 0;
	char *hdr = malloc(cap);
	uint64_t off = 0;
	if (!hdr)
		return false;
	n += (size_t)snprintf(hdr + n, cap - n, "{");
	for (uint64_t i = 0; i < ck->n_tensors; i++) {
		const struct ckpt_tensor *t = &ck->tensors[i];
		if (strncmp(t->name, skip, strlen(skip)) == 0)
			continue;
		uint64_t bytes = ckpt_numel(t) * (t->dtype == CKPT_DTYPE_F32 ? 4 : 2);
		n += (size_t)snprintf(hdr + n, cap - n, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
		                      off ? "," : "", t->name, t->dtype_name);
		for (uint32_t d = 0; d < t->n_dims; d++)
			n += (size_t)snprintf(hdr + n, cap - n, "%s%llu", d ? "," : "",
			                      (unsigned long long)t->shape[d]);
		n += (size_t)snprintf(hdr + n, cap - n, "],\"data_offsets\":[%llu,%llu]}",
		                      (unsigned long long)off, (unsigned long long)(off + bytes));
		off += bytes;
	}
	n += (size_t)snprintf(hdr + n, cap - n, "}");
	FILE *f = fopen(path, "wb");
	uint64_t hl = n;
	bool ok = f && fwrite(&hl, 8, 1, f) == 1 && fwrite(hdr, 1, n, f) == n;
	for (uint64_t i = 0; ok && i < ck->n_tensors; i++) {
		const struct ckpt_tensor *t = &ck->tensors[i];
		if (strncmp(t->name, skip, strlen(skip)) == 0)
			continue;
		uint64_t bytes = ckpt_numel(t) * (t->dtype == CKPT_DTYPE_F32 ? 4 : 2);
		ok = fwrite(t->storage, 1, bytes, f) == bytes;
	}
	free(hdr);
	return f ? fclose(f) == 0 && ok : false;
}

/* Florence-VL with its Florence-2 weights in vision_tower/pytorch_model.bin (no prefix) instead
 * of inside the main files: the same model file must come out. */
static void test_florence_vl_with_vision_tower_bin(void)
{
	char dir[512], path[700], cmd[1600];
	struct ckpt ck;
	snprintf(dir, sizeof(dir), "%s/vtbin", t_tmpdir());
	snprintf(cmd, sizeof(cmd),
	         "rm -rf '%s' && mkdir -p '%s/vision_tower' && cd '%s' && "
	         "for f in config.json generation_config.json tokenizer.json "
	         "tokenizer_config.json; do "
	         "ln -s '%s'/$f .; done && cd vision_tower && for f in '%s'/vision_tower/*; do "
	         "ln -s \"$f\" .; done && ln -s '%s' pytorch_model.bin",
	         dir, dir, dir, t_datapath(PHI3), t_datapath(PHI3),
	         t_datapath(F2 "/pytorch_model.bin"));
	T_ASSERT(system(cmd) == 0, "prepare %s", dir);
	ckpt_init(&ck);
	T_ASSERT(ckpt_add_safetensors(&ck, t_datapath(PHI3 "/model-00001-of-00002.safetensors")) ==
	                         0 &&
	                 ckpt_add_safetensors(
	                         &ck, t_datapath(PHI3 "/model-00002-of-00002.safetensors")) == 0,
	         "%s", fvl_last_error());
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	bool ok = write_safetensors_without(&ck, path, "model.vision_tower.");
	ckpt_free(&ck);
	T_ASSERT(ok, "write %s", path);
	const char *a = t_tmppath("vt-a.gguf"), *b = t_tmppath("vt-b.gguf");
	struct convert_opts oa = opts_for(t_datapath(PHI3), a, FVL_TYPE_F32);
	struct convert_opts ob = opts_for(dir, b, FVL_TYPE_F32);
	T_ASSERT(convert_run(&oa) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(convert_run(&ob) == FVL_STATUS_OK, "vision_tower/pytorch_model.bin: %s",
	         fvl_last_error());
	int64_t n = same_tensors(a, b, true);
	if (n < 0)
		return;
	t_note("%lld tensors identical with Florence-2 inside the shards or in vision_tower/*.bin",
	       (long long)n);
	unlink(a);
	unlink(b);
}

static void test_names_layout_and_fallback(void)
{
	const char *out = t_tmppath("layout.gguf");
	struct convert_opts o = opts_for(t_datapath(PHI3), out, FVL_TYPE_Q8_0);
	struct fvl_gguf *g;
	struct ckpt ck;
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(out, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	/* image_projection is (in 128, out 64), used as x @ W: stored transposed, rows of 128. */
	const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(g, "v.img_proj.weight");
	T_ASSERT(t && t->ne[0] == 128 && t->ne[1] == 64 && t->type == FVL_TYPE_Q8_0, "img_proj");
	ckpt_init(&ck);
	T_ASSERT(ckpt_add_safetensors(&ck, t_datapath(PHI3 "/model-00001-of-00002.safetensors")) ==
	                         0 &&
	                 ckpt_index(&ck) == 0,
	         "%s", fvl_last_error());
	const struct ckpt_tensor *src =
	        ckpt_find(&ck, "model.vision_tower.vision_tower.image_projection");
	T_ASSERT(src && src->shape[0] == 128 && src->shape[1] == 64, "source image_projection");
	float col[128], row[128];
	struct ckpt_tensor tr = ckpt_transpose(src);
	T_ASSERT(ckpt_read_rows(&tr, 5, 1, col) == FVL_STATUS_OK, "read");
	fvl_dequantize_row_q8_0((const struct fvl_block_q8_0 *)t->data + 5 * 4, row, 128);
	for (int k = 0; k < 128; k++) {
		float x;
		T_ASSERT(ckpt_read_rows(src, (uint64_t)k, 1, row + 0) == FVL_STATUS_OK, "read");
		x = row[5]; /* source element [k][5] */
		T_ASSERT(col[k] == x, "transposed view: [%d][5]", k);
	}
	/* Names: DaViT channel block, BART decoder cross-attention, projector, LLM. */
	static const char *const names[] = {
	        "v.blk.2.1.ch.attn_qkv.weight",
	        "v.blk.0.0.sp.dw1.weight",
	        "v.conv.3.norm.bias",
	        "fe.blk.1.attn_k.bias",
	        "fd.blk.1.cross_out.weight",
	        "fd.logits_bias",
	        "mm.2.weight",
	        "blk.1.attn_qkv.weight",
	        "blk.0.ffn_up.weight",
	        "output.weight",
	        "token_embd.weight",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		T_ASSERT(fvl_gguf_find_tensor(g, names[i]), "no tensor %s", names[i]);
	T_ASSERT(!fvl_gguf_find_tensor(g, "fd.output.weight"), "tied lm_head stored twice");
	/* Row lengths that are not a multiple of 32 fall back to f16; norms stay f32. */
	t = fvl_gguf_find_tensor(g, "v.conv.0.weight"); /* [32, 3, 7, 7]: rows of 7 */
	T_ASSERT(t && t->type == FVL_TYPE_F16 && t->ne[0] == 7 && t->ne[3] == 32, "conv fallback");
	/* ... unless a convolution's rows of cin kh kw fit the blocks: [64, 32, 3, 3] is stored as
	 * the linear [288, 64], each row the source's 32 x 3 x 3 values in order. */
	t = fvl_gguf_find_tensor(g, "v.conv.1.weight");
	T_ASSERT(t && t->type == FVL_TYPE_Q8_0 && t->n_dims == 2 && t->ne[0] == 288 &&
	                 t->ne[1] == 64,
	         "conv 1 as a 2-D q8_0 linear");
	src = ckpt_find(&ck, "model.vision_tower.vision_tower.vision_tower.convs.1.proj.weight");
	T_ASSERT(src && src->n_dims == 4 && src->shape[3] == 3, "source conv 1");
	for (int r = 0; r < 64; r += 21) { /* row r: the source's rows r 96 .. + 96 of 3 */
		float want[288], got[288];
		T_ASSERT(ckpt_read_rows(src, (uint64_t)r * 96, 96, want) == FVL_STATUS_OK, "read");
		fvl_dequantize_row_q8_0((const struct fvl_block_q8_0 *)t->data + r * 9, got, 288);
		for (int b = 0; b < 9; b++) {
			float amax =
			        0; /* q8_0: within half a step (amax / 127) and the scale's f16 */
			for (int k = 32 * b; k < 32 * b + 32; k++)
				amax = fabsf(want[k]) > amax ? fabsf(want[k]) : amax;
			for (int k = 32 * b; k < 32 * b + 32; k++)
				T_ASSERT(fabsf(got[k] - want[k]) <=
				                 0.51f * amax / 127.0f + 1e-3f * amax,
				         "conv 1 [%d][%d]: %g, want %g", r, k, got[k], want[k]);
		}
	}
	ckpt_free(&ck);
	t = fvl_gguf_find_tensor(g, "blk.0.attn_norm.weight");
	T_ASSERT(t && t->type == FVL_TYPE_F32, "norm type");
	t = fvl_gguf_find_tensor(g, "blk.0.ffn_up.weight"); /* fused gate_up [384, 96] */
	T_ASSERT(t && t->type == FVL_TYPE_Q8_0 && t->ne[0] == 96 && t->ne[1] == 384, "gate_up");
	fvl_gguf_free(g);
	unlink(out);
}

static void test_type_policy_and_overrides(void)
{
	const char *out = t_tmppath("policy.gguf");
	struct type_override ov[2] = {{"blk.*.ffn_down.weight", FVL_TYPE_Q8_0},
	                              {"mm.0.weight", FVL_TYPE_F32}};
	struct convert_opts o = {.ckpt_dir = t_datapath(PHI3),
	                         .out = out,
	                         .wtype = FVL_TYPE_Q4_0,
	                         .vision_wtype = FVL_TYPE_F16,
	                         .embed_wtype = FVL_TYPE_Q8_0,
	                         .overrides = ov,
	                         .n_overrides = 2,
	                         .quiet = true,
	                         .no_florence_decoder = true};
	struct fvl_gguf *g;
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(out, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	static const struct {
		const char *name;
		enum fvl_type t;
	} want[] = {
	        {"blk.0.attn_qkv.weight", FVL_TYPE_Q4_0},
	        {"blk.1.ffn_down.weight", FVL_TYPE_Q8_0},
	        {"token_embd.weight", FVL_TYPE_Q8_0},
	        {"output.weight", FVL_TYPE_Q8_0},
	        {"v.blk.0.0.sp.attn_qkv.weight", FVL_TYPE_F16},
	        {"fe.blk.0.ffn_up.weight", FVL_TYPE_F16},
	        {"mm.0.weight", FVL_TYPE_F32},
	        {"mm.1.weight", FVL_TYPE_F16},
	        {"mm.1.bias", FVL_TYPE_F32},
	        {"fe.pos_embd.weight", FVL_TYPE_F32},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(g, want[i].name);
		T_ASSERT(t && t->type == want[i].t, "%s: type %s, expected %s", want[i].name,
		         t ? fvl_type_info(t->type)->name : "missing",
		         fvl_type_info(want[i].t)->name);
	}
	bool has_dec;
	T_ASSERT(!fvl_gguf_find_tensor(g, "fd.blk.0.attn_q.weight") &&
	                 fvl_gguf_get_bool(g, "f2.has_decoder", &has_dec) == 0 && !has_dec,
	         "--no-florence-decoder kept the decoder");
	fvl_gguf_free(g);
	unlink(out);
}

static void test_metadata_matches_the_configs(void)
{
	const char *out = t_tmppath("meta.gguf");
	struct convert_opts o = opts_for(t_datapath(PHI3), out, FVL_TYPE_F16);
	struct fvl_gguf *g;
	const struct fvl_gguf_kv *kv;
	struct fvl_str s;
	uint32_t u;
	float f;
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(out, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
#define U32(key, v)                                                                                \
	T_ASSERT(fvl_gguf_get_u32(g, key, &u) == 0 && u == (v), "%s = %u, expected %u", key, u,    \
	         (uint32_t)(v))
#define STR(key, v) T_ASSERT(fvl_gguf_get_str(g, key, &s) == 0 && fvl_str_eq(s, v), "%s", key)
	STR("general.architecture", "florence-vl");
	STR("llm.arch", "phi3");
	U32("llm.embedding_length", 96);
	U32("llm.block_count", 2);
	U32("llm.attention.head_count", 4);
	U32("llm.attention.head_count_kv", 4);
	U32("llm.feed_forward_length", 192);
	U32("llm.vocab_size", 32064);
	U32("llm.context_length", 2048);
	U32("llm.rope.original_context_length", 4096);
	T_ASSERT(fvl_gguf_get_f32(g, "llm.rope.scaling.attn_factor", &f) == 0 &&
	                 fabsf(f - 1.1902380714f) < 1e-6f,
	         "attn factor %.9g (golden 1.1902380714)", f);
	T_ASSERT(fvl_gguf_get_arr(g, "llm.rope.scaling.short_factor", FVL_GGUF_TYPE_FLOAT32, &kv) ==
	                         0 &&
	                 kv->n == 12 && (float)fvl_gguf_arr_float(kv, 8) == 1.6400000000000001f,
	         "short factor");
	T_ASSERT(fvl_gguf_get_arr(g, "llm.rope.scaling.long_factor", FVL_GGUF_TYPE_FLOAT32, &kv) ==
	                         0 &&
	                 kv->n == 12 && (float)fvl_gguf_arr_float(kv, 11) == 28.5f,
	         "long factor");
	T_ASSERT(fvl_gguf_get_arr(g, "llm.eos_token_ids", FVL_GGUF_TYPE_INT32, &kv) == 0 &&
	                 kv->n == 3 && fvl_gguf_arr_int(kv, 0) == 32007 &&
	                 fvl_gguf_arr_int(kv, 2) == 32000,
	         "eos ids");
	U32("preprocess.height", 128);
	T_ASSERT(fvl_gguf_get_arr(g, "preprocess.fill", FVL_GGUF_TYPE_UINT8, &kv) == 0 &&
	                 fvl_gguf_arr_int(kv, 0) == 123 && fvl_gguf_arr_int(kv, 1) == 116 &&
	                 fvl_gguf_arr_int(kv, 2) == 103,
	         "pad colour (123, 116, 103)");
	T_ASSERT(fvl_gguf_get_arr(g, "preprocess.std", FVL_GGUF_TYPE_FLOAT32, &kv) == 0 &&
	                 (float)fvl_gguf_arr_float(kv, 1) == 0.224f,
	         "std");
	STR("preprocess.aspect", "pad");
	T_ASSERT(fvl_gguf_get_arr(g, "f2.vision.dim_embed", FVL_GGUF_TYPE_UINT32, &kv) == 0 &&
	                 kv->n == 4 && fvl_gguf_arr_int(kv, 3) == 128,
	         "dim_embed");
	T_ASSERT(fvl_gguf_get_arr(g, "f2.vision.image_feature_source", FVL_GGUF_TYPE_STRING, &kv) ==
	                         0 &&
	                 kv->n == 2 && fvl_str_eq(fvl_gguf_arr_str(kv, 0), "spatial_avg_pool"),
	         "pools");
	U32("f2.vision.window_size", 4);
	U32("f2.text.d_model", 64);
	U32("f2.text.encoder_layers", 2);
	U32("f2.generation.num_beams", 3);
	U32("fvl.mm.depth", 3);
	U32("fvl.mm.hidden_size", 64);
	/* The prompt table equals golden.json's task_ids. */
	T_ASSERT(fvl_gguf_get_arr(g, "fvl.prompts.ids", FVL_GGUF_TYPE_INT32, &kv) == 0 &&
	                 kv->n == 42 && fvl_gguf_arr_int(kv, 1) == 47066 &&
	                 fvl_gguf_arr_int(kv, 13) == 1 && fvl_gguf_arr_int(kv, 14 + 8) == 116 &&
	                 fvl_gguf_arr_int(kv, 28 + 11) == 24173,
	         "prompt ids");
	STR("fvl.chat.template", "<|system|>\nYou are a helpful AI assistant.<|end|>\n<|user|>\n"
	                         "{query}<|end|>\n<|assistant|>\n");
	fvl_gguf_free(g);
	unlink(out);
#undef U32
#undef STR
}

static void test_tokenizers_round_trip(void)
{
	const char *out = t_tmppath("tok.gguf");
	struct convert_opts o = opts_for(t_datapath(F2), out, FVL_TYPE_F16);
	struct fvl_gguf *g;
	const struct fvl_gguf_kv *tok, *type, *merges, *ids, *flags;
	struct fvl_str s;
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(out, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.florence.tokens", FVL_GGUF_TYPE_STRING, &tok) ==
	                         0 &&
	                 tok->n == 51289,
	         "florence tokens");
	T_ASSERT(fvl_str_eq(fvl_gguf_arr_str(tok, 0), "<s>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 2), "</s>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 5), "\xc4\xa0the") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 50264), "<mask>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 50265), "<od>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 50269), "<loc_0>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 51268), "<loc_999>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 51282), "<region_to_desciption>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 51288), "<and>"),
	         "florence token strings");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.florence.merges", FVL_GGUF_TYPE_STRING, &merges) ==
	                         0 &&
	                 merges->n == 50000 &&
	                 fvl_str_eq(fvl_gguf_arr_str(merges, 0), "\xc4\xa0 t"),
	         "merges");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.florence.token_type", FVL_GGUF_TYPE_INT32, &type) ==
	                         0 &&
	                 fvl_gguf_arr_int(type, 0) == 3 && fvl_gguf_arr_int(type, 5) == 1 &&
	                 fvl_gguf_arr_int(type, 50300) == 3,
	         "token types");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.florence.added.ids", FVL_GGUF_TYPE_INT32, &ids) ==
	                         0 &&
	                 fvl_gguf_get_arr(g, "tokenizer.florence.added.flags", FVL_GGUF_TYPE_UINT8,
	                                  &flags) == 0 &&
	                 ids->n == 5 + 1024 && fvl_gguf_arr_int(ids, 4) == 50264 &&
	                 fvl_gguf_arr_int(flags, 4) == 1 + 2 + 8,
	         "<mask>: special, lstrip, normalized");
	T_ASSERT(fvl_gguf_get_str(g, "tokenizer.florence.post.type", &s) == 0 &&
	                 fvl_str_eq(s, "roberta"),
	         "post-processor");
	fvl_gguf_free(g);
	unlink(out);

	/* The LLM tokenizer of the Florence-VL fixture. */
	out = t_tmppath("tok2.gguf");
	o = opts_for(t_datapath(PHI3), out, FVL_TYPE_F16);
	T_ASSERT(convert_run(&o) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_open(out, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.llm.tokens", FVL_GGUF_TYPE_STRING, &tok) == 0 &&
	                 tok->n == 32011 && fvl_str_eq(fvl_gguf_arr_str(tok, 32007), "<|end|>") &&
	                 fvl_str_eq(fvl_gguf_arr_str(tok, 3), "<0x00>"),
	         "llm tokens");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.llm.token_type", FVL_GGUF_TYPE_INT32, &type) == 0 &&
	                 fvl_gguf_arr_int(type, 3) == 6 && fvl_gguf_arr_int(type, 32007) == 3,
	         "byte/control");
	T_ASSERT(fvl_gguf_get_arr(g, "tokenizer.llm.added.ids", FVL_GGUF_TYPE_INT32, &ids) == 0 &&
	                 fvl_gguf_get_arr(g, "tokenizer.llm.added.flags", FVL_GGUF_TYPE_UINT8,
	                                  &flags) == 0 &&
	                 fvl_gguf_arr_int(ids, ids->n - 1) == 32010 &&
	                 fvl_gguf_arr_int(flags, flags->n - 1) == 1 + 4,
	         "<|user|>: special, rstrip");
	T_ASSERT(fvl_gguf_get_str(g, "tokenizer.llm.normalizer", &s) == 0 &&
	                 fvl_str_eq(s, "prepend_replace"),
	         "normalizer");
	T_ASSERT(fvl_gguf_get_str(g, "tokenizer.llm.decoder", &s) == 0 &&
	                 fvl_str_eq(s, "sentencepiece"),
	         "decoder");
	bool bf;
	T_ASSERT(fvl_gguf_get_bool(g, "tokenizer.llm.byte_fallback", &bf) == 0 && bf,
	         "byte fallback");
	fvl_gguf_free(g);
	unlink(out);
}

/* ---- bad input -------------------------------------------------------------------------------- */

static bool exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* A copy of the fixture checkpoint in the temp dir: symlinks to every file but config.json,
 * which gets from -> to replaced (from NULL: unchanged). */
static const char *
variant(const char *tag, const char *fixture, const char *file, const char *from, const char *to)
{
	static char dir[512];
	char cmd[2048];
	snprintf(dir, sizeof(dir), "%s/%s", t_tmpdir(), tag);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s' && cp -rs '%s'/. '%s'/", dir, dir,
	         t_datapath(fixture), dir);
	if (system(cmd) != 0)
		return NULL;
	if (!from)
		return dir;
	char path[1024], *text;
	size_t n;
	snprintf(path, sizeof(path), "%s/%s", t_datapath(fixture), file);
	if (cfg_read_file(path, &text, &n) != FVL_STATUS_OK)
		return NULL;
	char *at = strstr(text, from);
	if (!at) {
		free(text);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	unlink(path);
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(text, 1, (size_t)(at - text), f) == (size_t)(at - text) &&
	          fputs(to, f) >= 0 && fputs(at + strlen(from), f) >= 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	free(text);
	return ok ? dir : NULL;
}

static bool write_file(const char *path, const void *data, size_t n)
{
	unlink(path);
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(data, 1, n, f) == n;
	return f ? fclose(f) == 0 && ok : false;
}

/* Converts dir and expects status st with a message containing want, and no output file. */
static bool fails(const char *dir, enum fvl_status st, const char *want, char *why, size_t n)
{
	const char *out = t_tmppath("bad.gguf");
	struct convert_opts o = opts_for(dir, out, FVL_TYPE_Q8_0);
	if (!dir) {
		snprintf(why, n, "could not prepare the checkpoint");
		return false;
	}
	enum fvl_status got = convert_run(&o);
	if (got != st || !strstr(fvl_last_error(), want)) {
		snprintf(why, n, "status %s '%s', expected %s with '%s'", fvl_status_str(got),
		         fvl_last_error(), fvl_status_str(st), want);
		return false;
	}
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (exists(out) || exists(tmp)) {
		snprintf(why, n, "an output file was left behind");
		return false;
	}
	t_note("%s", fvl_last_error());
	return true;
}

#define T_FAILS(dir, st, want)                                                                     \
	do {                                                                                       \
		char why_[800];                                                                    \
		T_ASSERT(fails(dir, st, want, why_, sizeof(why_)), "%s", why_);                    \
	} while (0)

static void test_unknown_model_type(void)
{
	T_FAILS(variant("mt", F2, "config.json", "\"model_type\": \"florence2\"",
	                "\"model_type\": \"gpt2\""),
	        FVL_STATUS_UNSUPPORTED, "unknown model_type 'gpt2'");
}

static void test_missing_tensor_is_named(void)
{
	T_FAILS(variant("mt2", PHI3, "config.json", "\"num_hidden_layers\": 2",
	                "\"num_hidden_layers\": 3"),
	        FVL_STATUS_NOT_FOUND, "no tensor 'model.layers.2.");
}

static void test_shape_mismatch_names_both_shapes(void)
{
	T_FAILS(variant("sm", PHI3, "config.json", "\"intermediate_size\": 192",
	                "\"intermediate_size\": 200"),
	        FVL_STATUS_BAD_FILE, "has shape [96, 192], the config says [96, 200]");
}

static void test_index_naming_a_missing_shard(void)
{
	T_FAILS(variant("shard", PHI3, "model.safetensors.index.json",
	                "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"",
	                "\"model.norm.weight\": \"model-00003-of-00002.safetensors\""),
	        FVL_STATUS_NOT_FOUND,
	        "names shard 'model-00003-of-00002.safetensors', which is missing");
}

/* Resident memory of this process in KB (/proc/self/statm), mapped file pages included. */
static long rss_kb(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A read chunk's pages leave memory once converted: a 32 MB tensor read in 4 MB chunks grows the
 * resident set by the whole tensor when nothing is released, by about one chunk when each chunk is
 * released after reading (so converting a 157 MB embedding does not hold it all). */
static void test_converted_rows_leave_memory(void)
{
	const char *path = t_tmppath("big.safetensors");
	const size_t rows = 4096, cols = 2048;
	char hdr[256];
	int hn =
	        snprintf(hdr, sizeof(hdr),
	                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[0,%zu]}}",
	                 rows, cols, rows * cols * 4);
	while (hn % 8)
		hdr[hn++] = ' ';
	FILE *f = fopen(path, "wb");
	T_ASSERT(f, "create");
	const uint64_t n = (uint64_t)hn;
	fwrite(&n, 8, 1, f);
	fwrite(hdr, 1, (size_t)hn, f);
	float *row = calloc(cols, sizeof(float)), *buf = malloc(512 * cols * sizeof(float));
	T_ASSERT(row && buf, "oom");
	for (size_t r = 0; r < rows; r++) {
		row[0] = (float)r;
		fwrite(row, sizeof(float), cols, f);
	}
	T_ASSERT(fclose(f) == 0, "write");
	memset(buf, 0,
	       512 * cols * sizeof(float)); /* the buffer's pages resident before measuring */
	long growth[2] = {0, 0};
	bool values_ok = true;
	for (int release = 0; release < 2; release++) {
		struct ckpt ck;
		ckpt_init(&ck);
		T_ASSERT(ckpt_add_safetensors(&ck, path) == FVL_STATUS_OK &&
		                 ckpt_index(&ck) == FVL_STATUS_OK,
		         "%s", fvl_last_error());
		const struct ckpt_tensor *t = ckpt_find(&ck, "w");
		T_ASSERT(t, "tensor");
		const long before = rss_kb();
		long peak = before;
		for (size_t r = 0; r < rows; r += 512) {
			T_ASSERT(ckpt_read_rows(t, r, 512, buf) == FVL_STATUS_OK, "%s",
			         fvl_last_error());
			values_ok = values_ok && buf[0] == (float)r &&
			            buf[511 * cols] == (float)(r + 511);
			const long now = rss_kb();
			peak = now > peak ? now : peak;
			if (release)
				ckpt_release_rows(t, r, 512);
		}
		growth[release] = peak - before;
		ckpt_free(&ck);
	}
	t_note("reading a 32 MB tensor in 4 MB chunks: resident set +%ld KB keeping the pages, "
	       "+%ld "
	       "KB releasing each chunk",
	       growth[0], growth[1]);
	T_CHECK(values_ok, "rows read wrong");
	T_CHECK(growth[0] > 24 * 1024, "reading did not map the pages in (+%ld KB)", growth[0]);
	T_CHECK(growth[1] < 8 * 1024, "released chunks still resident (+%ld KB)", growth[1]);
	free(buf), free(row);
}

static void test_truncated_and_malformed_safetensors(void)
{
	const char *dir = variant("trunc", PHI3, NULL, NULL, NULL);
	char shard[600], *text;
	size_t n;
	T_ASSERT(dir, "prepare");
	snprintf(shard, sizeof(shard), "%s/model-00002-of-00002.safetensors", dir);
	T_ASSERT(cfg_read_file(t_datapath(PHI3 "/model-00002-of-00002.safetensors"), &text, &n) ==
	                 0,
	         "read shard");
	bool ok = write_file(shard, text, n / 2);
	T_ASSERT(ok, "write");
	T_FAILS(dir, FVL_STATUS_BAD_FILE, "outside the");
	ok = write_file(shard, text, 100);
	T_FAILS(dir, FVL_STATUS_BAD_FILE, "does not fit the 100-byte file");
	/* A header that is not JSON. */
	uint64_t hl = 12;
	memcpy(text, &hl, 8);
	memcpy(text + 8, "{not json!!}", 12);
	ok = write_file(shard, text, 64);
	free(text);
	T_ASSERT(ok, "write");
	T_FAILS(dir, FVL_STATUS_BAD_FILE, "malformed safetensors header");
}

static void test_unsupported_dtype(void)
{
	/* A safetensors file whose needed tensor is I64. */
	const char *dir = variant("dtype", PHI3, NULL, NULL, NULL);
	char shard[600], *text;
	size_t n;
	T_ASSERT(dir, "prepare");
	snprintf(shard, sizeof(shard), "%s/model-00001-of-00002.safetensors", dir);
	T_ASSERT(cfg_read_file(t_datapath(PHI3 "/model-00001-of-00002.safetensors"), &text, &n) ==
	                 0,
	         "read");
	/* model.norm.weight is BF16 [96]: make it I16 [96] (same 192 bytes, same header length). */
	const char *from = "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\"";
	char *at = memmem(text, n, from, strlen(from));
	T_ASSERT(at, "fixture header layout changed");
	memcpy(at, "\"model.norm.weight\":{\"dtype\":\"I16\", \"shape\"", strlen(from));
	bool ok = write_file(shard, text, n);
	free(text);
	T_ASSERT(ok, "write");
	T_FAILS(dir, FVL_STATUS_UNSUPPORTED, "tensor 'model.norm.weight' has dtype I16");
}

/* A stored zip of n entries, as torch.save lays them out. */
static bool write_zip(const char *path, const char *const *names, const uint8_t *const *data,
                      const uint32_t *sizes, int n)
{
	uint8_t z[4096];
	size_t at = 0, offs[8];
#define W16(v)                                                                                     \
	do {                                                                                       \
		uint16_t v_ = (uint16_t)(v);                                                       \
		memcpy(z + at, &v_, 2);                                                            \
		at += 2;                                                                           \
	} while (0)
#define W32(v)                                                                                     \
	do {                                                                                       \
		uint32_t v_ = (uint32_t)(v);                                                       \
		memcpy(z + at, &v_, 4);                                                            \
		at += 4;                                                                           \
	} while (0)
	for (int i = 0; i < n; i++) {
		uint16_t nl = (uint16_t)strlen(names[i]);
		if (at + 30 + nl + sizes[i] > sizeof(z) - 512)
			return false;
		offs[i] = at;
		W32(0x04034b50);
		W16(20);
		W16(0);
		W16(0);
		W16(0);
		W16(0);
		W32(0);
		W32(sizes[i]);
		W32(sizes[i]);
		W16(nl);
		W16(0);
		memcpy(z + at, names[i], nl);
		at += nl;
		memcpy(z + at, data[i], sizes[i]);
		at += sizes[i];
	}
	size_t cd = at;
	for (int i = 0; i < n; i++) {
		uint16_t nl = (uint16_t)strlen(names[i]);
		W32(0x02014b50);
		W16(20);
		W16(20);
		W16(0);
		W16(0);
		W16(0);
		W16(0);
		W32(0);
		W32(sizes[i]);
		W32(sizes[i]);
		W16(nl);
		W16(0);
		W16(0);
		W16(0);
		W16(0);
		W32(0);
		W32(offs[i]);
		memcpy(z + at, names[i], nl);
		at += nl;
	}
	size_t cd_n = at - cd;
	W32(0x06054b50);
	W16(0);
	W16(0);
	W16(n);
	W16(n);
	W32(cd_n);
	W32(cd);
	W16(0);
#undef W16
#undef W32
	return write_file(path, z, at);
}

static bool write_zip_pickle(const char *path, const uint8_t *pkl, uint32_t n)
{
	const char *name = "archive/data.pkl";
	return write_zip(path, &name, &pkl, &n, 1);
}

/* A minimal torch.save state dict: {"w": FloatStorage '0' of 4 floats viewed as [2, 2]}. */
static const uint8_t tiny_pkl[] = "\x80\x02"
                                  "ccollections\nOrderedDict\n"
                                  "q\x00)Rq\x01("
                                  "X\x01\x00\x00\x00"
                                  "w"
                                  "ctorch._utils\n_rebuild_tensor_v2\n"
                                  "q\x02(("
                                  "X\x07\x00\x00\x00"
                                  "storage"
                                  "ctorch\nFloatStorage\n"
                                  "X\x01\x00\x00\x00"
                                  "0"
                                  "X\x03\x00\x00\x00"
                                  "cpu"
                                  "K\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89h\x00)Rtq\x03Ru.";
static const float tiny_data[4] = {1.0f, -2.0f, 0.5f, 4.0f};

static bool write_tiny_torch(const char *path)
{
	const char *names[2] = {"archive/data.pkl", "archive/data/0"};
	const uint8_t *data[2] = {tiny_pkl, (const uint8_t *)tiny_data};
	uint32_t sizes[2] = {sizeof(tiny_pkl) - 1, sizeof(tiny_data)};
	return write_zip(path, names, data, sizes, 2);
}

static void test_minimal_torch_state_dict_reads(void)
{
	const char *path = t_tmppath("tiny.bin");
	struct ckpt ck;
	float v[4];
	T_ASSERT(write_tiny_torch(path), "write");
	ckpt_init(&ck);
	T_ASSERT(ckpt_add_torch(&ck, path) == FVL_STATUS_OK && ckpt_index(&ck) == 0, "%s",
	         fvl_last_error());
	const struct ckpt_tensor *t = ckpt_find(&ck, "w");
	T_ASSERT(t && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 2 &&
	                 t->dtype == CKPT_DTYPE_F32,
	         "tensor w");
	T_ASSERT(ckpt_read_rows(t, 0, 2, v) == FVL_STATUS_OK && v[0] == 1.0f && v[1] == -2.0f &&
	                 v[2] == 0.5f && v[3] == 4.0f,
	         "values");
	ckpt_free(&ck);
}

int t_write_ckpt_seeds(const char *dir)
{
	char p[512];
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/tiny.bin", dir);
	if (!write_tiny_torch(p))
		return 1;
	/* A safetensors file of two tensors. */
	static const char hdr[] =
	        "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"BF16\","
	        "\"shape\":[2,2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\","
	        "\"shape\":[3],\"data_offsets\":[8,20]}}";
	uint8_t st[256];
	uint64_t hl = sizeof(hdr) - 1;
	memcpy(st, &hl, 8);
	memcpy(st + 8, hdr, hl);
	memset(st + 8 + hl, 0x3f, 20);
	snprintf(p, sizeof(p), "%s/tiny.safetensors", dir);
	return write_file(p, st, 8 + hl + 20) ? 0 : 1;
}

static void test_bin_with_unexpected_pickle_content(void)
{
	const char *dir = variant("pkl", F2, NULL, NULL, NULL);
	char bin[600];
	T_ASSERT(dir, "prepare");
	snprintf(bin, sizeof(bin), "%s/pytorch_model.bin", dir);
	/* PROTO 2, GLOBAL os.system, string, TUPLE1, REDUCE, STOP: must never run. */
	static const uint8_t evil[] = "\x80\x02"
	                              "cos\nsystem\n"
	                              "X\x05\x00\x00\x00"
	                              "touch"
	                              "\x85R.";
	T_ASSERT(write_zip_pickle(bin, evil, sizeof(evil) - 1), "write");
	T_FAILS(dir, FVL_STATUS_UNSUPPORTED, "refers to 'os.system', which fvl does not allow");
	static const uint8_t odd[] = "\x80\x02}q\x00(X\x01\x00\x00\x00"
	                             "a\x94u.";
	T_ASSERT(write_zip_pickle(bin, odd, sizeof(odd) - 1), "write");
	T_FAILS(dir, FVL_STATUS_UNSUPPORTED, "opcode 0x94 is not allowed");
	static const uint8_t list[] = "\x80\x02]q\x00.";
	T_ASSERT(write_zip_pickle(bin, list, sizeof(list) - 1), "write");
	T_FAILS(dir, FVL_STATUS_UNSUPPORTED, "not a dict");
	static const uint8_t cut[] = "\x80\x02}q\x00(X\x40\x00\x00\x00"
	                             "ab";
	T_ASSERT(write_zip_pickle(bin, cut, sizeof(cut) - 1), "write");
	T_FAILS(dir, FVL_STATUS_UNSUPPORTED, "truncated pickle");
	static const char junk[] = "PK\x03\x04 garbage";
	T_ASSERT(write_file(bin, junk, sizeof(junk) - 1), "write");
	T_FAILS(dir, FVL_STATUS_BAD_FILE, "not a readable PyTorch zip checkpoint");
	/* found by fuzz-ckpt: 50 bytes whose end record asks for zip64 and whose locator points
	 * past the end (the bound was computed as size - 56, which wrapped below 56 bytes) */
	static const uint8_t zip64[50] = {
	        0x06, 0x07, 0x50, 0x4b, 0x06, 0x07, 0x00, 0x00, 0x61, 0x72, 0x63, 0x68, 0x61,
	        0x2f, 0x69, 0x74, 0x65, 0x64, 0x76, 0x61, 0x2f, 0x30, 0x50, 0x4b, 0x05, 0x06,
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	T_ASSERT(write_file(bin, (const char *)zip64, sizeof(zip64)), "write");
	T_FAILS(dir, FVL_STATUS_BAD_FILE, "zip64 end record missing");
}

static void test_output_path_not_writable(void)
{
	struct convert_opts o =
	        opts_for(t_datapath(F2), "/nonexistent-fvl-dir/out.gguf", FVL_TYPE_F16);
	enum fvl_status st = convert_run(&o);
	T_ASSERT(st == FVL_STATUS_IO &&
	                 strstr(fvl_last_error(), "cannot create "
	                                          "/nonexistent-fvl-dir/out.gguf.tmp"),
	         "%s: %s", fvl_status_str(st), fvl_last_error());
	t_note("%s", fvl_last_error());
}

static void test_missing_weights_and_configs(void)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/empty", t_tmpdir());
	mkdir(dir, 0755);
	T_FAILS(dir, FVL_STATUS_NOT_FOUND, "config.json: cannot open");
	T_FAILS(variant("nocfg", F2, "config.json", "\"text_config\"", "\"text_config_gone\""),
	        FVL_STATUS_BAD_FILE, "text_config is missing");
	const char *d = variant("noweights", F2, NULL, NULL, NULL);
	char p[600];
	snprintf(p, sizeof(p), "%s/pytorch_model.bin", d);
	unlink(p);
	T_FAILS(d, FVL_STATUS_NOT_FOUND, "no weights");
}

/* Parameter counts from the published shapes (docs/florence-vl-inference.md section 10):
 * Florence-2-large = DaViT 360,632,320 + projection/pos 2,201,600 + encoder 207,873,024 +
 * decoder 205,758,464 (+ final_logits_bias 51,289, which fvl keeps); Florence-VL adds the
 * projector (31,466,496 / 50,343,936) and the LLM (Phi-3.5-mini 3,821,079,552; Llama-3.1-8B
 * 8,030,261,248 + one <pad> row of 4,096 in embed_tokens and lm_head). */
static void test_synth_shapes_match_published_parameter_counts(void)
{
	static const struct {
		const char *arch;
		uint64_t params;
	} want[] = {
	        {"florence2-large", 360632320ull + 2201600 + 207873024 + 205758464 + 51289},
	        {"florence-vl-3b",
	         360632320ull + 2201600 + 207873024 + 205758464 + 51289 + 31466496 + 3821079552ull},
	        {"florence-vl-8b", 360632320ull + 2201600 + 207873024 + 205758464 + 51289 +
	                                   50343936 + 8030261248ull + 2 * 4096},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct convert_opts o = {.wtype = FVL_TYPE_Q4_0,
		                         .vision_wtype = FVL_TYPE_F16,
		                         .embed_wtype = FVL_TYPE_Q8_0,
		                         .quiet = true,
		                         .dry_run = true};
		uint64_t params = 0, bytes = 0;
		T_ASSERT(synth_run_ex(want[i].arch, 1, &o, &params, &bytes) == FVL_STATUS_OK,
		         "%s: %s", want[i].arch, fvl_last_error());
		T_ASSERT(params == want[i].params,
		         "%s: %llu parameters, published shapes give %llu", want[i].arch,
		         (unsigned long long)params, (unsigned long long)want[i].params);
		t_note("%s: %llu parameters, q4_0 LLM / f16 vision / q8_0 embeddings: %.3f GB",
		       want[i].arch, (unsigned long long)params, (double)bytes / 1e9);
	}
}

static void test_synth_writes_a_deterministic_readable_file(void)
{
	if (quick())
		T_SKIP("FVL_TEST_QUICK: writes a 0.5 GB file");
	const char *a = t_tmppath("synth-a.gguf");
	struct convert_opts o = {.out = a,
	                         .wtype = FVL_TYPE_Q4_0,
	                         .vision_wtype = FVL_TYPE_Q4_0,
	                         .embed_wtype = FVL_TYPE_Q8_0,
	                         .quiet = true};
	uint64_t params, bytes;
	struct fvl_gguf *g;
	struct stat sb;
	T_ASSERT(synth_run_ex("florence2-base", 7, &o, &params, &bytes) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	T_ASSERT(stat(a, &sb) == 0 && (uint64_t)sb.st_size == bytes, "size %lld, predicted %llu",
	         (long long)sb.st_size, (unsigned long long)bytes);
	T_ASSERT(fvl_gguf_open(a, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	const struct fvl_gguf_tensor *t = fvl_gguf_find_tensor(g, "fe.blk.3.ffn_up.weight");
	T_ASSERT(t && t->type == FVL_TYPE_Q4_0 && t->ne[0] == 768 && t->ne[1] == 3072, "tensor");
	float row[768];
	fvl_dequantize_row_q4_0(t->data, row, 768);
	double sum = 0;
	for (int j = 0; j < 768; j++)
		sum += fabs(row[j]);
	T_ASSERT(sum > 768 * 0.01 && sum < 768 * 0.05,
	         "random values of the wrong scale (mean |x| "
	         "%.4f)",
	         sum / 768);
	uint8_t first[64];
	memcpy(first, t->data, 64);
	fvl_gguf_free(g);
	/* Same seed, same bytes. */
	const char *b = t_tmppath("synth-b.gguf");
	o.out = b;
	T_ASSERT(synth_run_ex("florence2-base", 7, &o, NULL, NULL) == FVL_STATUS_OK, "%s",
	         fvl_last_error());
	T_ASSERT(fvl_gguf_open(b, &g) == FVL_STATUS_OK, "%s", fvl_last_error());
	t = fvl_gguf_find_tensor(g, "fe.blk.3.ffn_up.weight");
	T_ASSERT(t && memcmp(t->data, first, 64) == 0, "not deterministic");
	fvl_gguf_free(g);
	t_note("florence2-base q4_0: %llu parameters, %llu bytes, identical for the same seed",
	       (unsigned long long)params, (unsigned long long)bytes);
	unlink(a);
	unlink(b);
	T_ASSERT(synth_run_ex("florence9", 7, &o, NULL, NULL) == FVL_STATUS_INVALID_ARGUMENT &&
	                 strstr(fvl_last_error(), "unknown --arch 'florence9'"),
	         "%s", fvl_last_error());
}

void suite_convert(void)
{
	T_RUN(test_q8_0_quantizer_matches_hand_computed_block);
	T_RUN(test_q4_0_quantizer_matches_hand_computed_block);
	T_RUN(test_convert_florence_vl_sharded_safetensors_every_type);
	T_RUN(test_convert_florence2_pytorch_bin_every_type);
	T_RUN(test_bin_and_safetensors_readers_agree);
	T_RUN(test_florence_vl_with_vision_tower_bin);
	T_RUN(test_names_layout_and_fallback);
	T_RUN(test_type_policy_and_overrides);
	T_RUN(test_metadata_matches_the_configs);
	T_RUN(test_tokenizers_round_trip);
	T_RUN(test_unknown_model_type);
	T_RUN(test_missing_tensor_is_named);
	T_RUN(test_shape_mismatch_names_both_shapes);
	T_RUN(test_index_naming_a_missing_shard);
	T_RUN(test_truncated_and_malformed_safetensors);
	T_RUN(test_unsupported_dtype);
	T_RUN(test_minimal_torch_state_dict_reads);
	T_RUN(test_bin_with_unexpected_pickle_content);
	T_RUN(test_output_path_not_writable);
	T_RUN(test_missing_weights_and_configs);
	T_RUN(test_converted_rows_leave_memory);
	T_RUN(test_synth_shapes_match_published_parameter_counts);
	T_RUN(test_synth_writes_a_deterministic_readable_file);
}
