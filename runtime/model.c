/* model.c — the immutable model object: owns the read-only mapping of one GGUF model file. */
#include <string.h>
#include <time.h>

#include "common.h"
#include "names.h"
#include "gguf.h"
#include "model.h"

static char *dup_str(struct fvl_str s)
{
	char *p = malloc(s.n + 1);
	if (p) {
		memcpy(p, s.p, s.n);
		p[s.n] = 0;
	}
	return p;
}

/* Florence-VL: vision side, LLM, tokenizer, chat template and stop tokens. */
static enum fvl_status load_vl(struct fvl_model *m)
{
	const struct fvl_gguf *g = m->gguf;
	struct fvl_str tmpl, query, stop;
	const struct fvl_gguf_kv *eos;
	enum fvl_status st;
	if ((st = fvl_vision_load(&m->vision, g)) || (st = fvl_llm_load(&m->llm, g)) ||
	    (st = fvl_tok_load(g, FVL_TOK_LLM, &m->tok)) ||
	    (st = fvl_gguf_get_str(g, FVL_KEY_CHAT_TEMPLATE, &tmpl)) ||
	    (st = fvl_gguf_get_str(g, FVL_KEY_CHAT_QUERY, &query)) ||
	    (st = fvl_gguf_get_str(g, FVL_KEY_CHAT_STOP, &stop)))
		return st;
	m->is_vl = true;
	if (m->vision.projector.out_dim != m->llm.n_embd)
		return fvl_fail(FVL_STATUS_BAD_FILE, "projector output %zu != LLM hidden size %zu",
		                m->vision.projector.out_dim, m->llm.n_embd);
	m->template_text = dup_str(tmpl);
	m->query_text = dup_str(query);
	struct fvl_str img = {"<image>", 7};
	int64_t img_id = FVL_IMAGE_TOKEN_ID;
	fvl_gguf_get_str(g, FVL_KEY_IMAGE_TOKEN, &img);
	fvl_gguf_get_i64(g, FVL_KEY_IMAGE_TOKEN_ID, &img_id);
	m->image_text = dup_str(img);
	m->image_id = (int32_t)img_id;
	if (!m->template_text || !m->query_text || !m->image_text)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if (img.n == 0 || img_id >= 0 || img_id < INT32_MIN)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "fvl.image.token '%.*s' / token_id %lld: the "
		                "placeholder must be a text with a negative id",
		                (int)img.n, img.p, (long long)img_id);
	if (fvl_gguf_get_arr(g, FVL_KEY_LLM_EOS_IDS, FVL_GGUF_TYPE_INT32, &eos) == FVL_STATUS_OK)
		for (uint64_t i = 0; i < eos->n && m->n_stop < 15; i++)
			m->stop_ids[m->n_stop++] = (int32_t)fvl_gguf_arr_int(eos, i);
	int32_t sid = fvl_tok_find(m->tok, stop.p, stop.n);
	if (sid >= 0)
		m->stop_ids[m->n_stop++] = sid;
	fvl_error_clear();
	return FVL_STATUS_OK;
}

/* The Florence-2 task layer: required for florence2 files, optional in florence-vl ones. */
static enum fvl_status load_tasks(struct fvl_model *m)
{
	const struct fvl_gguf *g = m->gguf;
	enum fvl_status st;
	if (!m->is_vl && (st = fvl_f2_load(&m->f2, g)) != FVL_STATUS_OK)
		return st;
	if ((st = fvl_f2_decoder_load(&m->dec, g)) ||
	    (st = fvl_tok_load(g, FVL_TOK_FLORENCE, &m->ftok)) ||
	    (st = fvl_preprocess_load(g, &m->task_preprocess)))
		return st;
	m->has_tasks = true;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_model_tasks(struct fvl_model *m)
{
	pthread_mutex_lock(&m->task_mu);
	if (!m->tasks_tried) {
		m->tasks_tried = true;
		if (m->is_vl)
			FVL_LOG_I("loading Florence-2's task layer (decoder, tokenizer) on first "
			          "use");
		if (load_tasks(m) != FVL_STATUS_OK) {
			snprintf(m->no_tasks_why, sizeof(m->no_tasks_why), "%s", fvl_last_error());
			FVL_LOG_I("no Florence-2 tasks in this model: %s", m->no_tasks_why);
			fvl_f2_decoder_free(&m->dec);
			fvl_tok_free(m->ftok);
			m->ftok = NULL;
		}
	}
	const bool ok = m->has_tasks;
	pthread_mutex_unlock(&m->task_mu);
	if (!ok)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "this model cannot run Florence-2 tasks: %s", m->no_tasks_why);
	return FVL_STATUS_OK;
}

/* Everything after the container is parsed: the architecture, then its parts. name is what
 * messages call the file. */
static enum fvl_status model_init(struct fvl_model *m, const char *name)
{
	struct fvl_str arch;
	enum fvl_status st;
	if (fvl_gguf_get_str(m->gguf, FVL_KEY_ARCH, &arch) == FVL_STATUS_OK) {
		size_t n = arch.n < sizeof(m->arch) - 1 ? (size_t)arch.n : sizeof(m->arch) - 1;
		memcpy(m->arch, arch.p, n);
		m->arch[n] = '\0';
	}
	/* Weights are used in place: every tensor must start on a 32-byte boundary. */
	if (m->gguf->alignment < 32 || ((uintptr_t)m->gguf->map + m->gguf->data_offset) % 32)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: general.alignment %u: fvl model files align "
		                "their tensors to at least 32 bytes",
		                name, m->gguf->alignment);
	const bool vl = strcmp(m->arch, FVL_ARCH_FLORENCE_VL) == 0;
	if (!vl && strcmp(m->arch, FVL_ARCH_FLORENCE2) != 0)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: general.architecture '%s' is not a model fvl "
		                "runs (florence-vl, florence2)",
		                name, m->arch);
	/* The layout the converter wrote: required, so a file from elsewhere is named as such. */
	uint32_t version = 0;
	st = fvl_gguf_get_u32(m->gguf, FVL_KEY_FORMAT_VERSION, &version);
	if (st == FVL_STATUS_NOT_FOUND)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: no %s: not a file fvl-quant wrote (convert the "
		                "checkpoint with fvl-quant convert)",
		                name, FVL_KEY_FORMAT_VERSION);
	if (st != FVL_STATUS_OK) {
		fvl_error_prefix(name);
		return st;
	}
	if (version > FVL_FORMAT_VERSION)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: %s %u is newer than this fvl reads (%d): "
		                "update fvl",
		                name, FVL_KEY_FORMAT_VERSION, version, FVL_FORMAT_VERSION);
	if (version == 0)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: %s 0 is not a version fvl-quant writes",
		                name, FVL_KEY_FORMAT_VERSION);
	if (vl && (st = load_vl(m)) != FVL_STATUS_OK) {
		fvl_error_prefix(name);
		return st;
	}
	pthread_mutex_init(&m->task_mu, NULL);
	m->task_mu_init = true;
	/* A Florence-2 file is its tasks; a Florence-VL file loads them on first use (their packed
	 * decoder weights would cost memory and start-up time for every question otherwise). */
	if (!m->is_vl && (st = fvl_model_tasks(m)) != FVL_STATUS_OK) {
		fvl_error_prefix(name);
		return st;
	}
	fvl_error_clear();
	return FVL_STATUS_OK;
}

enum fvl_status fvl_model_load(const char *path, struct fvl_model **out)
{
	struct fvl_model *m;
	enum fvl_status st;

	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_model_load: NULL argument");
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((st = fvl_gguf_open(path, &m->gguf)) != FVL_STATUS_OK ||
	    (st = model_init(m, path)) != FVL_STATUS_OK) {
		fvl_model_free(m);
		return st;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	FVL_LOG_I("%s: %s, %llu tensors, %.0f MB mapped, loaded in %.0f ms", path, m->arch,
	          (unsigned long long)m->gguf->n_tensors, (double)m->gguf->size / 1048576.0,
	          1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec));
	*out = m;
	return FVL_STATUS_OK;
}

enum fvl_status fvl_model_load_memory(const void *buf, size_t n, struct fvl_model **out)
{
	enum fvl_status st;
	*out = NULL;
	struct fvl_model *m = calloc(1, sizeof(*m));
	if (!m)
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "out of memory");
	if ((st = fvl_gguf_parse(buf, n, &m->gguf)) != FVL_STATUS_OK ||
	    (st = model_init(m, "(model in memory)")) != FVL_STATUS_OK) {
		fvl_model_free(m);
		return st;
	}
	*out = m;
	return FVL_STATUS_OK;
}

void fvl_model_free(struct fvl_model *m)
{
	if (!m)
		return;
	fvl_vision_free(&m->vision);
	fvl_llm_free(&m->llm);
	fvl_tok_free(m->tok);
	fvl_tok_free(m->ftok);
	fvl_f2_decoder_free(&m->dec);
	if (!m->is_vl)
		fvl_f2_free(&m->f2);
	if (m->task_mu_init)
		pthread_mutex_destroy(&m->task_mu);
	free(m->template_text);
	free(m->query_text);
	free(m->image_text);
	fvl_gguf_free(m->gguf);
	free(m);
}

const char *fvl_model_arch(const struct fvl_model *m)
{
	return m->arch;
}

uint64_t fvl_model_n_tensors(const struct fvl_model *m)
{
	return m->gguf->n_tensors;
}

uint64_t fvl_model_n_bytes(const struct fvl_model *m)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
		n += m->gguf->tensors[i].n_bytes;
	return n;
}

enum fvl_status fvl_model_info(const char *path, struct fvl_model_info *out)
{
	struct fvl_gguf *g;
	struct fvl_str arch = {"", 0};
	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_model_info: NULL argument");
	memset(out, 0, sizeof(*out));
	enum fvl_status st = fvl_gguf_open(path, &g);
	if (st != FVL_STATUS_OK)
		return st;
	fvl_gguf_get_str(g, FVL_KEY_ARCH, &arch);
	const size_t n = arch.n < sizeof(out->arch) - 1 ? (size_t)arch.n : sizeof(out->arch) - 1;
	memcpy(out->arch, arch.p, n);
	fvl_gguf_get_u32(g, FVL_KEY_FORMAT_VERSION, &out->format_version);
	out->file_bytes = g->size;
	out->n_tensors = g->n_tensors;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		out->tensor_bytes += g->tensors[i].n_bytes;
	fvl_gguf_get_u32(g, FVL_KEY_LLM_N_LAYER, &out->n_layer);
	fvl_gguf_get_u32(g, FVL_KEY_LLM_N_HEAD_KV, &out->n_head_kv);
	fvl_gguf_get_u32(g, FVL_KEY_LLM_N_EMBD_HEAD, &out->n_embd_head);
	fvl_gguf_get_u32(g, FVL_KEY_LLM_N_CTX, &out->n_ctx);
	fvl_gguf_free(g);
	fvl_error_clear(); /* the keys a Florence-2 file lacks are not an error */
	return FVL_STATUS_OK;
}

enum fvl_status fvl_model_print(const char *path, bool full, FILE *out)
{
	struct fvl_gguf *g;
	if (!path || !out)
		return fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "fvl_model_print: NULL argument");
	enum fvl_status st = fvl_gguf_open(path, &g);
	if (st != FVL_STATUS_OK)
		return st;
	fvl_gguf_print(g, out, full);
	fvl_gguf_free(g);
	return FVL_STATUS_OK;
}
