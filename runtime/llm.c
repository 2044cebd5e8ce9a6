/* llm.c — Phi-3 / Llama-3 decoder: RMSNorm, attention with rotate-half RoPE and a KV cache,
 * SwiGLU MLP; prefill in batches through the GEMM kernels, decode (one row) through the GEMV path. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "names.h"
#include "fp16.h"
#include "llm.h"
#include "pool.h"

#define NAME(buf, fmt, ...) (snprintf(buf, sizeof(buf), fmt, __VA_ARGS__), buf)

/* inv_freq_i = 1 / (ext_i * base^(2i / rot)), ext from a factor list or 1; llama3 scaling. */
static enum fvl_status rope_freqs(struct fvl_llm *m, const struct fvl_gguf *g)
{
	float base = 10000.0f;
	struct fvl_str type = {"none", 4};
	const size_t half = m->n_rot / 2;
	fvl_gguf_get_f32(g, FVL_KEY_ROPE_FREQ_BASE, &base);
	fvl_gguf_get_str(g, FVL_KEY_ROPE_SCALING_TYPE, &type);
	m->inv_freq_short = malloc(half * sizeof(float));
	m->inv_freq_long = malloc(half * sizeof(float));
	if (!m->inv_freq_short || !m->inv_freq_long)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	m->attn_factor = 1.0f;
	for (size_t i = 0; i < half; i++)
		m->inv_freq_short[i] = m->inv_freq_long[i] =
		        (float)(1.0 / pow((double)base, (double)(2 * i) / (double)m->n_rot));
	if (fvl_str_eq(type, "longrope")) {
		const struct fvl_gguf_kv *sf, *lf;
		enum fvl_status st;
		if ((st = fvl_gguf_get_arr(g, FVL_KEY_ROPE_SHORT_FACTOR, FVL_GGUF_TYPE_FLOAT32,
		                           &sf)) ||
		    (st = fvl_gguf_get_arr(g, FVL_KEY_ROPE_LONG_FACTOR, FVL_GGUF_TYPE_FLOAT32,
		                           &lf)) ||
		    (st = fvl_gguf_get_f32(g, FVL_KEY_ROPE_ATTN_FACTOR, &m->attn_factor)))
			return st;
		if (sf->n != half || lf->n != half)
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "longrope factor lists have %llu and %llu "
			                "entries, head_dim / 2 is %zu",
			                (unsigned long long)sf->n, (unsigned long long)lf->n, half);
		for (size_t i = 0; i < half; i++) {
			double b = pow((double)base, (double)(2 * i) / (double)m->n_rot);
			m->inv_freq_short[i] =
			        (float)(1.0 / ((float)fvl_gguf_arr_float(sf, i) * b));
			m->inv_freq_long[i] = (float)(1.0 / ((float)fvl_gguf_arr_float(lf, i) * b));
		}
	} else if (fvl_str_eq(type, "llama3")) {
		float factor, lo, hi;
		uint32_t orig;
		enum fvl_status st;
		if ((st = fvl_gguf_get_f32(g, FVL_KEY_ROPE_FACTOR, &factor)) ||
		    (st = fvl_gguf_get_f32(g, FVL_KEY_ROPE_LOW_FREQ, &lo)) ||
		    (st = fvl_gguf_get_f32(g, FVL_KEY_ROPE_HIGH_FREQ, &hi)) ||
		    (st = fvl_gguf_get_u32(g, FVL_KEY_ROPE_SCALING_N_CTX, &orig)))
			return st;
		const double lo_wl = orig / lo, hi_wl = orig / hi;
		for (size_t i = 0; i < half; i++) {
			const double f = m->inv_freq_short[i], wl = 2 * M_PI / f;
			double r = f;
			if (wl > lo_wl)
				r = f / factor;
			else if (wl >= hi_wl) {
				const double s = ((double)orig / wl - lo) / (hi - lo);
				r = (1 - s) * f / factor + s * f;
			}
			m->inv_freq_short[i] = m->inv_freq_long[i] = (float)r;
		}
	} else if (!fvl_str_eq(type, "none")) {
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "rope scaling '%.*s'", (int)type.n, type.p);
	}
	return FVL_STATUS_OK;
}

enum fvl_status fvl_llm_load(struct fvl_llm *m, const struct fvl_gguf *g)
{
	struct fvl_str arch;
	enum fvl_status st;
	char n1[64], n2[64];
	memset(m, 0, sizeof(*m));
	if ((st = fvl_gguf_get_str(g, FVL_KEY_LLM_ARCH, &arch)) != FVL_STATUS_OK)
		return st;
	if (!fvl_str_eq(arch, "phi3") && !fvl_str_eq(arch, "llama"))
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "llm.arch '%.*s' (fvl runs phi3 and llama)",
		                (int)arch.n, arch.p);
	m->phi3 = fvl_str_eq(arch, "phi3");
	size_t ctx = 0;
	if ((st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_EMBD, 1, 65536, &m->n_embd)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_LAYER, 1, 1024, &m->n_layer)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_HEAD, 1, 1024, &m->n_head)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_HEAD_KV, 1, 1024, &m->n_head_kv)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_EMBD_HEAD, 2, 256, &m->n_embd_head)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_FF, 1, 1 << 20, &m->n_ff)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_VOCAB, 1, 1 << 24, &m->n_vocab)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_LLM_N_CTX, 1, 1 << 24, &ctx)) ||
	    (st = fvl_gguf_get_dim(g, FVL_KEY_ROPE_N_ROT, 2, 256, &m->n_rot)))
		return st;
	m->n_ctx_train = ctx;
	m->n_ctx_orig = ctx;
	uint32_t orig;
	if (fvl_gguf_get_u32(g, FVL_KEY_ROPE_N_CTX_ORIG, &orig) == FVL_STATUS_OK)
		m->n_ctx_orig = orig;
	if ((st = fvl_gguf_get_f32(g, FVL_KEY_LLM_RMS_EPS, &m->eps)))
		return st;
	if (m->n_head % m->n_head_kv || m->n_rot > m->n_embd_head || m->n_rot % 2 ||
	    m->n_embd_head % 4)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "attention shape: %zu heads, %zu kv heads, "
		                "head_dim %zu, rope dims %zu",
		                m->n_head, m->n_head_kv, m->n_embd_head, m->n_rot);
	if ((st = rope_freqs(m, g)) != FVL_STATUS_OK)
		goto error;
	m->tok_embd = fvl_gguf_find_tensor(g, FVL_TN_TOKEN_EMBD);
	if (!m->tok_embd || m->tok_embd->ne[0] != m->n_embd || m->tok_embd->ne[1] != m->n_vocab) {
		st = fvl_fail(FVL_STATUS_BAD_FILE,
		              FVL_TN_TOKEN_EMBD " is missing or not [%zu, %zu]", m->n_embd,
		              m->n_vocab);
		goto error;
	}
	if ((st = fvl_tensor_f32(g, FVL_TN_OUTPUT_NORM, m->n_embd, &m->out_norm)) ||
	    (st = fvl_linear_init(&m->output, g, FVL_TN_OUTPUT, NULL, m->n_embd, m->n_vocab)))
		goto error;
	m->layers = calloc(m->n_layer, sizeof(*m->layers));
	if (!m->layers) {
		st = fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
		goto error;
	}
	const size_t q = m->n_head * m->n_embd_head,
	             kv = m->n_head_kv * m->n_embd_head; /* widths */
	for (size_t l = 0; l < m->n_layer; l++) {
		struct fvl_llm_layer *y = &m->layers[l];
		if ((st = fvl_tensor_f32(g, NAME(n1, FVL_TN_BLK FVL_TN_ATTN_NORM FVL_W, l),
		                         m->n_embd, &y->attn_norm)) ||
		    (st = fvl_tensor_f32(g, NAME(n1, FVL_TN_BLK FVL_TN_FFN_NORM FVL_W, l),
		                         m->n_embd, &y->ffn_norm)) ||
		    (st = fvl_linear_init(&y->o, g,
		                          NAME(n1, FVL_TN_BLK FVL_TN_ATTN_OUTPUT FVL_W, l), NULL, q,
		                          m->n_embd)) ||
		    (st = fvl_linear_init(&y->down, g,
		                          NAME(n1, FVL_TN_BLK FVL_TN_FFN_DOWN FVL_W, l), NULL,
		                          m->n_ff, m->n_embd)))
			goto error;
		if (m->phi3) {
			if ((st = fvl_linear_init(&y->qkv, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_ATTN_QKV FVL_W, l),
			                          NULL, m->n_embd, q + 2 * kv)) ||
			    (st = fvl_linear_init(&y->gate_up, g,
			                          NAME(n2, FVL_TN_BLK FVL_TN_FFN_UP FVL_W, l), NULL,
			                          m->n_embd, 2 * m->n_ff)))
				goto error;
		} else {
			if ((st = fvl_linear_init(&y->q, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_ATTN_Q FVL_W, l), NULL,
			                          m->n_embd, q)) ||
			    (st = fvl_linear_init(&y->k, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_ATTN_K FVL_W, l), NULL,
			                          m->n_embd, kv)) ||
			    (st = fvl_linear_init(&y->v, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_ATTN_V FVL_W, l), NULL,
			                          m->n_embd, kv)) ||
			    (st = fvl_linear_init(&y->gate, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_FFN_GATE FVL_W, l),
			                          NULL, m->n_embd, m->n_ff)) ||
			    (st = fvl_linear_init(&y->up, g,
			                          NAME(n1, FVL_TN_BLK FVL_TN_FFN_UP FVL_W, l), NULL,
			                          m->n_embd, m->n_ff)))
				goto error;
		}
	}
	return FVL_STATUS_OK;
error:
	fvl_llm_free(m);
	return st;
}

void fvl_llm_free(struct fvl_llm *m)
{
	if (m->layers)
		for (size_t l = 0; l < m->n_layer; l++) {
			struct fvl_llm_layer *y = &m->layers[l];
			struct fvl_linear *all[] = {&y->qkv,     &y->q,    &y->k,  &y->v,   &y->o,
			                            &y->gate_up, &y->gate, &y->up, &y->down};
			for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
				fvl_linear_free(all[i]);
		}
	fvl_linear_free(&m->output);
	free(m->layers);
	free(m->inv_freq_short);
	free(m->inv_freq_long);
	memset(m, 0, sizeof(*m));
}

static void fill_tables(struct fvl_llm_state *s, bool use_long)
{
	const struct fvl_llm *m = s->m;
	const size_t half = m->n_rot / 2;
	const float *f = use_long ? m->inv_freq_long : m->inv_freq_short;
	for (size_t p = 0; p < s->n_ctx; p++)
		for (size_t i = 0; i < half; i++) {
			/* position x frequency in f32, as the reference computes it */
			const float a = (float)p * f[i];
			s->cos_t[p * half + i] = cosf(a) * m->attn_factor;
			s->sin_t[p * half + i] = sinf(a) * m->attn_factor;
		}
	s->long_tables = use_long;
}

enum fvl_status fvl_llm_state_init(struct fvl_llm_state *s, const struct fvl_llm *m,
                                   struct fvl_compute *compute, size_t n_ctx, bool kv_f16,
                                   size_t n_ubatch)
{
	memset(s, 0, sizeof(*s));
	if (n_ctx == 0 || n_ctx > m->n_ctx_train)
		n_ctx = m->n_ctx_train;
	if (n_ubatch == 0)
		n_ubatch = 256;
	s->m = m;
	s->n_ctx = n_ctx;
	s->n_ubatch = n_ubatch;
	s->kv_f16 = kv_f16;
	const size_t kvw = m->n_head_kv * m->n_embd_head, q = m->n_head * m->n_embd_head,
	             es = kv_f16 ? 2 : 4;
	const size_t ffw = 2 * m->n_ff; /* gate and up side by side, both architectures */
	s->kc = calloc(m->n_layer * n_ctx * kvw, es);
	s->vc = calloc(m->n_layer * n_ctx * kvw, es);
	s->cos_t = malloc(n_ctx * (m->n_rot / 2) * sizeof(float));
	s->sin_t = malloc(n_ctx * (m->n_rot / 2) * sizeof(float));
	s->x = malloc(n_ubatch * m->n_embd * sizeof(float));
	s->h = malloc(n_ubatch * m->n_embd * sizeof(float));
	s->qkv = malloc(n_ubatch * (q + 2 * kvw) * sizeof(float));
	s->att = malloc(n_ubatch * q * sizeof(float));
	s->ff = malloc(n_ubatch * ffw * sizeof(float));
	s->act = malloc(n_ubatch * m->n_ff * sizeof(float));
	s->pos = malloc(n_ubatch * sizeof(int32_t));
	if (!s->kc || !s->vc || !s->cos_t || !s->sin_t || !s->x || !s->h || !s->qkv || !s->att ||
	    !s->ff || !s->act || !s->pos) {
		fvl_llm_state_free(s);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY,
		                "out of memory for a context of %zu "
		                "(KV cache %.1f MB)",
		                n_ctx, 2.0 * (double)(m->n_layer * n_ctx * kvw * es) / 1e6);
	}
	fill_tables(s, false);
	size_t kmax = m->n_embd > m->n_ff ? m->n_embd : m->n_ff;
	if (q > kmax)
		kmax = q;
	enum fvl_status st = fvl_compute_reserve(compute, n_ubatch, kmax);
	if (st != FVL_STATUS_OK)
		fvl_llm_state_free(s);
	return st;
}

void fvl_llm_state_free(struct fvl_llm_state *s)
{
	free(s->kc);
	free(s->vc);
	free(s->cos_t);
	free(s->sin_t);
	free(s->x);
	free(s->h);
	free(s->qkv);
	free(s->att);
	free(s->ff);
	free(s->act);
	free(s->pos);
	memset(s, 0, sizeof(*s));
}

void fvl_llm_state_rewind(struct fvl_llm_state *s, size_t n)
{
	if (n < s->n_past)
		s->n_past = n;
}

/* One batch of m rows (s->x filled) at positions n_past.. */
static void eval_batch(struct fvl_llm_state *s, struct fvl_compute *compute, size_t m)
{
	const struct fvl_llm *md = s->m;
	const size_t n_embd = md->n_embd, n_ff = md->n_ff, n_embd_head = md->n_embd_head;
	const size_t q = md->n_head * n_embd_head,
	             kvw = md->n_head_kv * n_embd_head; /* row widths */
	const size_t qkvw = q + 2 * kvw, es = s->kv_f16 ? 2 : 4;
	const size_t p0 = s->n_past;
	for (size_t i = 0; i < m; i++)
		s->pos[i] = (int32_t)(p0 + i);
	for (size_t l = 0; l < md->n_layer; l++) {
		const struct fvl_llm_layer *y = &md->layers[l];
		fvl_op_rmsnorm(compute, m, n_embd, s->x, y->attn_norm, md->eps, s->h);
		if (md->phi3) {
			fvl_linear_forward(compute, &y->qkv, m, s->h, n_embd, s->qkv, qkvw);
		} else {
			fvl_linear_forward(compute, &y->q, m, s->h, n_embd, s->qkv, qkvw);
			fvl_linear_forward(compute, &y->k, m, s->h, n_embd, s->qkv + q, qkvw);
			fvl_linear_forward(compute, &y->v, m, s->h, n_embd, s->qkv + q + kvw, qkvw);
		}
		compute->kernels.rope(m, md->n_head, n_embd_head, md->n_rot, s->qkv, qkvw, s->pos,
		                      s->cos_t, s->sin_t);
		compute->kernels.rope(m, md->n_head_kv, n_embd_head, md->n_rot, s->qkv + q, qkvw,
		                      s->pos, s->cos_t, s->sin_t);
		uint8_t *kc = (uint8_t *)s->kc + l * s->n_ctx * kvw * es;
		uint8_t *vc = (uint8_t *)s->vc + l * s->n_ctx * kvw * es;
		for (size_t i = 0; i < m; i++) {
			const float *kr = s->qkv + i * qkvw + q, *vr = kr + kvw;
			if (s->kv_f16) {
				uint16_t *kd = (uint16_t *)kc + (p0 + i) * kvw,
				         *vd = (uint16_t *)vc + (p0 + i) * kvw;
				for (size_t j = 0; j < kvw; j++) {
					kd[j] = fvl_fp32_to_fp16(kr[j]);
					vd[j] = fvl_fp32_to_fp16(vr[j]);
				}
			} else {
				memcpy((float *)kc + (p0 + i) * kvw, kr, kvw * 4);
				memcpy((float *)vc + (p0 + i) * kvw, vr, kvw * 4);
			}
		}
		const struct fvl_attn_args a = {
		        .n_q = m,
		        .n_kv = p0 + m,
		        .n_heads = md->n_head,
		        .n_kv_heads = md->n_head_kv,
		        .head_dim = n_embd_head,
		        .q = s->qkv,
		        .ldq = qkvw,
		        .k = kc,
		        .v = vc,
		        .ldk = kvw,
		        .ldv = kvw,
		        .kv_f16 = s->kv_f16,
		        .causal = true,
		        .q_pos0 = p0,
		        .scale = 1.0f / sqrtf((float)n_embd_head),
		        .o = s->att,
		        .ldo = q,
		        .head0 = 0,
		        .head1 = md->n_head,
		};
		fvl_op_attn(compute, &a);
		fvl_linear_forward(compute, &y->o, m, s->att, q, s->h, n_embd);
		fvl_op_add(compute, m * n_embd, s->x, s->h, s->x);
		fvl_op_rmsnorm(compute, m, n_embd, s->x, y->ffn_norm, md->eps, s->h);
		if (md->phi3) {
			fvl_linear_forward(compute, &y->gate_up, m, s->h, n_embd, s->ff, 2 * n_ff);
		} else {
			fvl_linear_forward(compute, &y->gate, m, s->h, n_embd, s->ff, 2 * n_ff);
			fvl_linear_forward(compute, &y->up, m, s->h, n_embd, s->ff + n_ff,
			                   2 * n_ff);
		}
		fvl_op_silu_mul_halves(compute, m, n_ff, s->ff, s->act);
		fvl_linear_forward(compute, &y->down, m, s->act, n_ff, s->h, n_embd);
		fvl_op_add(compute, m * n_embd, s->x, s->h, s->x);
	}
	s->n_past += m;
}

enum fvl_status fvl_llm_eval(struct fvl_llm_state *s, struct fvl_compute *compute, size_t n,
                             const int32_t *ids, const float *embd, size_t n_logits, float *logits)
{
	const struct fvl_llm *m = s->m;
	if (n_logits > n)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "%zu logits asked of %zu tokens",
		                n_logits, n);
	if (s->n_past + n > s->n_ctx)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
		                "%zu tokens after %zu do not fit the context "
		                "of %zu",
		                n, s->n_past, s->n_ctx);
	if (ids)
		for (size_t i = 0; i < n; i++)
			if (ids[i] < 0 || (size_t)ids[i] >= m->n_vocab)
				return fvl_fail(FVL_STATUS_INVALID_ARGUMENT,
				                "token id %d is outside the "
				                "vocabulary of %zu",
				                ids[i], m->n_vocab);
	/* LongRoPE: the long factors once any position passes the original context (as HF does,
	 * for the new tokens only). */
	const bool use_long = s->n_past + n > m->n_ctx_orig;
	if (use_long != s->long_tables) {
		FVL_LOG_D("LongRoPE: %s factors from position %zu", use_long ? "long" : "short",
		          s->n_past);
		fill_tables(s, use_long);
	}
	for (size_t i0 = 0; i0 < n; i0 += s->n_ubatch) {
		const size_t mb = n - i0 < s->n_ubatch ? n - i0 : s->n_ubatch;
		for (size_t i = 0; i < mb; i++) {
			if (ids)
				fvl_tensor_row(m->tok_embd, (size_t)ids[i0 + i],
				               s->x + i * m->n_embd);
			else
				memcpy(s->x + i * m->n_embd, embd + (i0 + i) * m->n_embd,
				       m->n_embd * sizeof(float));
		}
		enum fvl_status st = fvl_compute_check_abort(compute);
		if (st != FVL_STATUS_OK)
			return st; /* the batches before it stay in the KV cache */
		eval_batch(s, compute, mb);
		/* logits for the rows of this batch that are among the last n_logits */
		const size_t first = n - n_logits;
		for (size_t i = 0; i < mb; i++) {
			const size_t gi = i0 + i;
			if (gi < first)
				continue;
			compute->kernels.rmsnorm(1, m->n_embd, s->x + i * m->n_embd, m->out_norm,
			                         m->eps, s->h);
			fvl_linear_forward(compute, &m->output, 1, s->h, m->n_embd,
			                   logits + (gi - first) * m->n_vocab, m->n_vocab);
		}
	}
	return FVL_STATUS_OK;
}
