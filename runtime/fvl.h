/* fvl.h — the public API of libfvl: Florence-VL and Florence-2 inference on ARM boards.
 * This is the only public header. Every fallible call returns enum fvl_status; objects come back
 * through out-parameters; every *_free(NULL) is a no-op. */
#ifndef FVL_H
#define FVL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FVL_VERSION_MAJOR  0
#define FVL_VERSION_MINOR  1
#define FVL_VERSION_PATCH  0
#define FVL_VERSION_STRING "0.1.0"

/* What libfvl.so exports: the functions declared here, nothing else (the library is built with
 * -fvisibility=hidden and FVL_BUILD). */
#if defined(FVL_BUILD) && defined(__GNUC__)
#define FVL_API __attribute__((visibility("default")))
#else
#define FVL_API
#endif

/* Every params struct starts with its size: the *_default functions set it, and each call taking
 * one refuses a size other than its own (a program built against another fvl.h, or a struct that
 * did not start from its _default), with FVL_STATUS_INVALID_ARGUMENT and the two sizes. */

enum fvl_status {
	FVL_STATUS_OK = 0,
	FVL_STATUS_INVALID_ARGUMENT, /* a caller passed something unusable (flag, NULL, range) */
	FVL_STATUS_IO,               /* open/read/write/mmap failed; errno text is in the message */
	FVL_STATUS_OUT_OF_MEMORY,
	FVL_STATUS_BAD_FILE,    /* a file is truncated, corrupt or inconsistent */
	FVL_STATUS_UNSUPPORTED, /* valid input that fvl does not handle (type, version, CPU) */
	FVL_STATUS_NOT_FOUND,   /* a named key, tensor or file is missing */
	FVL_STATUS_NO_SPACE,    /* the output device is full */
	FVL_STATUS_CANCELLED,
};

/* Words for a status ("bad file"), never NULL. */
FVL_API const char *fvl_status_str(enum fvl_status status);

/* The message of the last failed call on this thread ("" if none). Valid until the next fvl call
 * on the same thread. It names what was wrong: "model.gguf: tensor 'blk.0.attn_q.weight': data
 * [4096, 8192) past the end of the file (6000 bytes)". */
FVL_API const char *fvl_last_error(void);

FVL_API const char *fvl_version(void);

enum fvl_log_level {
	FVL_LOG_ERROR = 0,
	FVL_LOG_WARN,
	FVL_LOG_INFO,
	FVL_LOG_DEBUG,
};

/* Receives every log line (no trailing newline). user is passed through. */
typedef void (*fvl_log_fn)(enum fvl_log_level level, const char *msg, void *user);

/* Process-wide: where log lines go and the most verbose level delivered. fn == NULL restores the
 * default (stderr, FVL_LOG_WARN). Set it once at start-up, before other threads call fvl. */
FVL_API void fvl_log_set(fvl_log_fn fn, void *user, enum fvl_log_level max_level);

/* An immutable model: the read-only mapping of one GGUF model file. Safe to share between
 * threads and sessions once loaded. */
struct fvl_model;

FVL_API enum fvl_status fvl_model_load(const char *path, struct fvl_model **out);
FVL_API void fvl_model_free(struct fvl_model *model);

/* general.architecture of the file, e.g. "florence-vl" or "florence2" ("" if absent). */
FVL_API const char *fvl_model_arch(const struct fvl_model *model);
/* Number of tensors and bytes of tensor data in the file. */
FVL_API uint64_t fvl_model_n_tensors(const struct fvl_model *model);
FVL_API uint64_t fvl_model_n_bytes(const struct fvl_model *model);

/* What a model file holds, from its header: the weights are not loaded (cheap on any size). */
struct fvl_model_info {
	char arch[64];           /* general.architecture */
	uint32_t format_version; /* fvl.format_version (0: none, not a file fvl-quant wrote) */
	uint64_t file_bytes, n_tensors, tensor_bytes;
	uint32_t n_layer, n_head_kv, n_embd_head, n_ctx; /* the LLM's; 0 in Florence-2 files */
};
FVL_API enum fvl_status fvl_model_info(const char *path, struct fvl_model_info *out);
/* Prints any GGUF file's metadata and tensors to out (full: arrays and long strings whole), as
 * `fvl info` shows them. */
FVL_API enum fvl_status fvl_model_print(const char *path, bool full, FILE *out);

/* ---- images ------------------------------------------------------------------------------------ */

struct fvl_image {
	uint32_t w, h;
	uint8_t *rgb; /* (h, w, 3), malloc'd */
};

/* A JPEG, PNG or binary PNM (P5, P6) file as RGB8: regular files only, up to 256 MB and 64 Mpixel.
 * Decoded as the reference's PIL open + convert("RGB") does: EXIF orientation is not applied (the
 * reference does not apply it either), PNG alpha is dropped, not composited. */
FVL_API enum fvl_status fvl_image_load(const char *path, struct fvl_image *out);
/* The same from n bytes in memory; max_pixels caps w x h (0: 64 Mpixel). out is zeroed first and
 * stays empty on failure. */
FVL_API enum fvl_status
fvl_image_decode(const uint8_t *data, size_t n, uint64_t max_pixels, struct fvl_image *out);
/* Flags of the _ex loaders. */
enum {
	/* Turn the image upright by its EXIF orientation (JPEG APP1, PNG eXIf) as PIL's
	 * ImageOps.exif_transpose does. Off by default: the reference does not, and answers about a
	 * photo are then about the pixels as stored. */
	FVL_IMAGE_EXIF_TRANSPOSE = 1u << 0,
};
FVL_API enum fvl_status fvl_image_load_ex(const char *path, uint32_t flags, struct fvl_image *out);
FVL_API enum fvl_status fvl_image_decode_ex(const uint8_t *data, size_t n, uint64_t max_pixels,
                                            uint32_t flags, struct fvl_image *out);
/* The EXIF orientation (1..8) in a JPEG's or PNG's metadata; 1 when there is none or it cannot be
 * read. */
FVL_API uint32_t fvl_image_exif_orientation(const uint8_t *data, size_t n);
/* Applies orientation 1..8 to img in place, as exif_transpose does (5..8 swap width and height). */
FVL_API enum fvl_status fvl_image_orient(struct fvl_image *img, uint32_t orientation);
FVL_API void fvl_image_free(struct fvl_image *img);
/* Mean absolute difference (0..255) of two images on a 32 x 32 grey thumbnail, 255 if either is
 * empty: for skipping camera frames that barely changed. */
FVL_API double fvl_image_change(const struct fvl_image *a, const struct fvl_image *b);

/* A frame in the caller's memory, as V4L2, GStreamer or a ROS image message hold it: converted to
 * RGB8 by fvl_image_from_view (the same converters fvl's camera capture uses). */
enum fvl_pixel_format {
	FVL_PIXEL_RGB8,  /* R G B per pixel */
	FVL_PIXEL_BGR8,  /* B G R (OpenCV, ROS "bgr8") */
	FVL_PIXEL_RGBA8, /* R G B A; alpha ignored */
	FVL_PIXEL_GRAY8, /* one luma byte, taken as R = G = B */
	FVL_PIXEL_YUYV,  /* 4:2:2 Y0 U Y1 V, BT.601 limited range; even width */
	FVL_PIXEL_NV12, /* 4:2:0: the Y plane, then interleaved U V rows (same stride); even w, h */
};
struct fvl_image_view {
	const uint8_t *data;
	uint32_t w, h;
	size_t stride; /* bytes per row (of the Y plane for NV12); 0: packed rows */
	enum fvl_pixel_format format;
	size_t size; /* bytes readable at data; 0: the caller vouches for w, h and stride */
};
/* The view as RGB8 into out: out zeroed, or an image from an earlier call (its buffer is reused
 * when the size matches). INVALID_ARGUMENT, saying why, for a view whose sizes, stride or format
 * do not hold together (odd YUYV width, a stride shorter than a row, fewer bytes than it needs,
 * more than 64 Mpixel); out is then left as it was. */
FVL_API enum fvl_status fvl_image_from_view(const struct fvl_image_view *v, struct fvl_image *out);

/* ---- sessions --------------------------------------------------------------------------------
 * A session owns what one conversation needs: the KV cache, buffers, the thread pool and the
 * current image's embeddings (on a Florence-2 file: its tasks' image features, for
 * fvl_session_run_task). It uses a loaded model without changing it; several sessions may
 * share one model. A session is not thread-safe: call it from one thread at a time. Everything a
 * session returns (text in callbacks, fvl_last_error) is valid until the next call on it. */
struct fvl_session;

struct fvl_session_params {
	uint32_t size; /* sizeof(struct fvl_session_params): fvl_session_params_default sets it */
	uint32_t n_threads; /* 0: all CPUs. The most the session's pool uses: fewer while other
	                       programs' load leaves threads waiting (FVL_ADAPT_THREADS=0: all) */
	uint32_t n_ctx;     /* 0: the model's context length (2048 for Florence-VL) */
	bool kv_f32;        /* KV cache in f32 instead of f16 */
	const char *isa; /* NULL: best kernel variant; or "scalar", "baseline", "dotprod", "i8mm",
	                        "avx2", "avxvnni", "avx512vnni" (x86-64 hosts) */
	/* Asked between the vision pass's stages and layers and before every prefill batch and
	 * decoded token: returning true stops the call with FVL_STATUS_CANCELLED (an image being set
	 * is dropped; the KV cache keeps what was evaluated). NULL: never. */
	bool (*abort_cb)(void *user);
	/* The vision pass's progress after each of its steps (DaViT blocks, _encode_image, encoder
	 * layers, fusion; for fvl_session_run_task its vision side's steps when they run, then its
	 * encoder layers): done of total, stage naming the part just finished. NULL: none. */
	void (*progress_cb)(void *user, const char *stage, uint32_t done, uint32_t total);
	void *cb_user; /* passed to both */
};

FVL_API void fvl_session_params_default(struct fvl_session_params *p);
FVL_API enum fvl_status fvl_session_init(const struct fvl_model *model,
                                         const struct fvl_session_params *p,
                                         struct fvl_session **out);
FVL_API void fvl_session_free(struct fvl_session *s);

/* Runs the vision side once and keeps the visual embeddings for the following questions.
 * An RGB8 image (w x h x 3), or a JPEG / PNG / PNM file. On failure the session holds no image at all
 * (the previous one is dropped too), so a following question is never about a stale frame. */
FVL_API enum fvl_status
fvl_session_set_image_rgb(struct fvl_session *s, const uint8_t *rgb, uint32_t w, uint32_t h);
FVL_API enum fvl_status fvl_session_set_image_file(struct fvl_session *s, const char *path);
/* The same from a view in any fvl_pixel_format (packed RGB8 is used in place, without a copy). */
FVL_API enum fvl_status
fvl_session_set_image_view(struct fvl_session *s, const struct fvl_image_view *v);
/* The id the prompt ids (fvl_session_prompt_ids) carry at the image's place: Florence-VL's
 * IMAGE_TOKEN_INDEX, what a model file's fvl.image.token_id says unless it says otherwise. */
#define FVL_IMAGE_TOKEN_ID (-200)

struct fvl_gen_params {
	uint32_t size;        /* sizeof(struct fvl_gen_params): fvl_gen_params_default sets it */
	int32_t n_predict;    /* tokens to generate at most (> 0) */
	float temp;           /* <= 0: greedy */
	int32_t top_k;        /* 0: off */
	float top_p;          /* 1: off */
	float min_p;          /* 0: off */
	float repeat_penalty; /* 1: off; divides the logits of the last 64 generated tokens (each
	                          distinct token once, as Hugging Face's processor does) */
	uint64_t seed;
	bool ignore_eos;    /* do not stop on the model's stop tokens */
	bool parse_special; /* special-token text in the question ("<|end|>") becomes those
	                          tokens, and "<image>" in it splices the image, as Florence-VL's own
	                          code does; false (default): a question is plain text, and only the
	                          chat template's own markup are tokens */
};

FVL_API void fvl_gen_params_default(struct fvl_gen_params *g);

/* Receives each generated token and the text it completes (whole UTF-8 characters; may be
 * empty); a last call with id -1 may carry an incomplete character's replacement. Return false
 * to stop (fvl_session_ask then returns FVL_STATUS_CANCELLED). */
typedef bool (*fvl_token_fn)(void *user, int32_t id, const char *text, size_t len);

/* Asks a question about the current image (or none: then no image is spliced). A second question
 * reuses the visual embeddings and the KV cache of the shared prompt prefix. The answer ends at a
 * stop token, after n_predict tokens, or when the context is full: all three return FVL_STATUS_OK
 * with what was generated (fvl_stats.finish says which). A prompt that cannot fit the context
 * fails before anything is evaluated, with the numbers. */
FVL_API enum fvl_status fvl_session_ask(struct fvl_session *s, const char *question,
                                        const struct fvl_gen_params *g, fvl_token_fn cb,
                                        void *user);
/* The context positions the prompt for question takes (the visual tokens included when there is
 * an image, or with_image for one about to be set) and the context's size, without evaluating
 * anything: a caller can refuse a question that cannot fit before running the vision side. */
FVL_API enum fvl_status fvl_session_measure(struct fvl_session *s, const char *question,
                                            bool with_image, const struct fvl_gen_params *g,
                                            uint32_t *n_prompt, uint32_t *n_ctx);
/* Drops the image and the KV cache. */
FVL_API void fvl_session_reset(struct fvl_session *s);

/* Why an answer ended. */
enum fvl_finish {
	FVL_FINISH_NONE = 0,  /* no answer yet */
	FVL_FINISH_STOP,      /* a stop token of the model */
	FVL_FINISH_LENGTH,    /* n_predict tokens */
	FVL_FINISH_CONTEXT,   /* the context is full */
	FVL_FINISH_CANCELLED, /* the token callback returned false */
};
/* "stop", "length", "context", "cancelled" ("" for none). */
FVL_API const char *fvl_finish_str(enum fvl_finish f);

/* Statistics of the last set_image / ask. */
struct fvl_stats {
	double ms_preprocess, ms_vision, ms_prefill, ms_decode;
	uint32_t n_prompt, n_visual, n_reused, n_generated;
	uint32_t n_ctx; /* the context's size */
	enum fvl_finish finish;
};
FVL_API void fvl_session_stats(const struct fvl_session *s, struct fvl_stats *out);
/* The prompt ids of the last ask, with -200 where the image goes (n receives the count). */
FVL_API const int32_t *fvl_session_prompt_ids(const struct fvl_session *s, size_t *n);
/* The LLM's logits at the last prompt position of the last ask, before any sampling (n receives
 * the vocabulary size); NULL before the first ask. Valid until the next call on s. */
FVL_API const float *fvl_session_prompt_logits(const struct fvl_session *s, size_t *n);

/* The vision side's stage outputs for one image, for comparing with the reference (fvl run
 * --dump): malloc'd by fvl_session_set_image_dump, freed with fvl_image_dump_free. */
#define FVL_MAX_PROMPTS 8
struct fvl_image_dump {
	float *pixel_values;                 /* (3, size, size) */
	float *davit_out;                    /* (grid * grid, c_last) */
	float *image_features;               /* (n_visual, d_model): _encode_image's */
	float *encoder_out[FVL_MAX_PROMPTS]; /* n_prompts of (n_visual + prompt_len, d_model) */
	float *fused;                        /* (n_llm, (1 + n_prompts) d_model) */
	float *projector_out;                /* (n_llm, n_embd): what the LLM gets */
	size_t size, grid, c_last, n_visual, n_llm, d_model, n_prompts, prompt_len, n_embd;
};
/* fvl_session_set_image_rgb that also fills dump. */
FVL_API enum fvl_status fvl_session_set_image_dump(struct fvl_session *s, const uint8_t *rgb,
                                                   uint32_t w, uint32_t h,
                                                   struct fvl_image_dump *dump);
FVL_API void fvl_image_dump_free(struct fvl_image_dump *d);

/* ---- Florence-2 tasks ---------------------------------------------------------------------------
 * Florence-2 on its own (a florence2 model file, or the Florence-2 inside a florence-vl file when it
 * was converted with its decoder): caption, OCR, detection, grounding, region tasks. */

/* What a task's answer is. */
enum fvl_task_kind {
	FVL_TASK_KIND_TEXT,      /* text (captions, OCR, region to text) */
	FVL_TASK_KIND_BOXES,     /* labelled boxes (od, dense_region_caption) */
	FVL_TASK_KIND_PROPOSALS, /* boxes without labels (region_proposal) */
	FVL_TASK_KIND_GROUNDING, /* phrase grounding (boxes; pronouns and the like filtered out) */
	FVL_TASK_KIND_QUADS,     /* OCR with regions: quad boxes */
};

struct fvl_task_info {
	const char *name;  /* "od" */
	const char *token; /* "<OD>" */
	enum fvl_task_kind kind;
	bool takes_text; /* the prompt has {input} (fvl_task_params.text) */
};

/* The task by name ("od") or token ("<OD>"), case-insensitive; NULL if unknown. */
FVL_API const struct fvl_task_info *fvl_task_find(const char *name);
/* All tasks (n receives the count). */
FVL_API const struct fvl_task_info *fvl_task_list(size_t *n);

struct fvl_task_params {
	uint32_t size;    /* sizeof(struct fvl_task_params): fvl_task_params_default sets it */
	const char *task; /* "caption", "ocr", "od", ... or the token ("<OD>") */
	const char *text; /* the {input} of tasks that take one (grounding phrase, region
	                             as "<loc_x1><loc_y1><loc_x2><loc_y2>") */
	int32_t n_beams;  /* 0: the model's generation config (3 for Florence-2) */
	int32_t max_new;  /* tokens to generate at most; 0: 1024 */
	int32_t no_repeat_ngram; /* -1: the model's (3) */
	uint32_t n_threads;      /* 0: all CPUs; the most used, as in fvl_session_params */
	const char *isa;         /* NULL: best kernel variant */
};
FVL_API void fvl_task_params_default(struct fvl_task_params *p);

struct fvl_task_item {
	char *label;       /* UTF-8; "" for region proposals */
	float coords[8];   /* box x1 y1 x2 y2, or quad x1 y1 ... x4 y4, in image pixels */
	uint32_t n_coords; /* 4 or 8 */
};

/* The search a task ran (HF generate's, from the model file unless the params override it). */
struct fvl_task_search {
	uint32_t n_beams; /* 1: greedy */
	uint32_t max_new;
	uint32_t no_repeat_ngram; /* 0: off */
	bool early_stopping;
	int32_t forced_bos_id; /* -1: none */
	bool forced_eos;
	float length_penalty;
};

struct fvl_task_result {
	const char *task; /* the task token, "<OD>" */
	struct fvl_task_search search;
	char *text; /* generated text without <s>, </s>, <pad> (locations kept) */
	struct fvl_task_item *items;
	size_t n_items;
	uint32_t item_coords; /* 0: a text task; 4: items are boxes; 8: quad boxes */
	int32_t *ids;         /* generated ids, the decoder start excluded */
	size_t n_ids;
	double ms_vision, ms_decode;
};

/* Runs task on an RGB image (h rows of w pixels, 3 bytes each). */
FVL_API enum fvl_status fvl_task_run(const struct fvl_model *model, const uint8_t *rgb, uint32_t w,
                                     uint32_t h, const struct fvl_task_params *p,
                                     struct fvl_task_result *out);
FVL_API void fvl_task_result_free(struct fvl_task_result *r);
/* A task about the session's current image, in the session's thread pool and buffers: the task
 * vision side (DaViT, _encode_image) runs once per image, so OCR then OD on one frame pays for
 * it once. Sessions on Florence-2 files (tasks only: fvl_session_ask refuses them) run it when
 * the image is set; Florence-VL sessions on the first task. p's n_threads and isa are the
 * session's. */
FVL_API enum fvl_status fvl_session_run_task(struct fvl_session *s, const struct fvl_task_params *p,
                                             struct fvl_task_result *out);

/* Stage outputs of one task run, for comparing with the reference (fvl task --dump): malloc'd
 * by fvl_task_run_dump, freed with fvl_task_dump_free. */
struct fvl_task_dump {
	float *pixel_values;         /* (3, size, size) */
	float *davit_out;            /* (grid * grid, c_last) */
	float *image_features;       /* (n_visual, d) */
	float *encoder_out;          /* (n_enc, d): the visual tokens, then the prompt's */
	float *decoder_logits_first; /* (vocab): the first step, before any logits processor */
	size_t size, grid, c_last, n_visual, n_enc, d, vocab;
};
/* fvl_task_run that also fills dump. */
FVL_API enum fvl_status fvl_task_run_dump(const struct fvl_model *model, const uint8_t *rgb,
                                          uint32_t w, uint32_t h, const struct fvl_task_params *p,
                                          struct fvl_task_result *out, struct fvl_task_dump *dump);
FVL_API void fvl_task_dump_free(struct fvl_task_dump *d);

/* ---- cameras ------------------------------------------------------------------------------------
 * A capture thread keeps a V4L2 camera's newest frame (MJPEG, YUYV or RGB24, as RGB8): a corrupt
 * frame is skipped and counted, a failing device reopened with back-off. Call a capture from one
 * thread at a time. */
struct fvl_camera_params {
	uint32_t size;          /* sizeof(struct fvl_camera_params): _default sets it */
	const char *device;     /* "/dev/video0" */
	uint32_t width, height; /* requested; the driver may pick another size */
	uint32_t n_buffers;     /* mmap buffers (0: 4) */
	int timeout_ms;         /* per frame (0: 2000) */
};
/* /dev/video0 at 640 x 480, 4 buffers, 2 s per frame. */
FVL_API void fvl_camera_params_default(struct fvl_camera_params *p);
struct fvl_capture;
struct fvl_capture_stats {
	uint64_t frames;  /* frames captured and kept */
	uint64_t corrupt; /* frames skipped: they did not decode */
	uint64_t reopens; /* times the device came back after failing */
};
/* Starts capturing. Without wait_for_device a device that cannot be opened at the start makes
 * the capture give up (fvl_capture_failed); with it, and for a device that fails later, it is
 * retried with back-off. */
FVL_API enum fvl_status fvl_capture_start(const struct fvl_camera_params *p, bool wait_for_device,
                                          struct fvl_capture **out);
/* Copies the newest frame into out (reused) if one newer than *seen exists, and updates *seen. */
FVL_API bool fvl_capture_latest(struct fvl_capture *c, uint64_t *seen, struct fvl_image *out);
/* true once the capture gave up, with the status and message of why. */
FVL_API bool fvl_capture_failed(struct fvl_capture *c, enum fvl_status *st, char *msg, size_t n);
FVL_API void fvl_capture_stats(struct fvl_capture *c, struct fvl_capture_stats *out);
/* Stops the thread (within the back-off or frame timeout) and frees everything. */
FVL_API void fvl_capture_stop(struct fvl_capture *c);

/* ---- tokenizers ---------------------------------------------------------------------------------
 * A model file's tokenizer on its own (the weights are not loaded). Immutable once loaded: safe to
 * share between threads. */
enum fvl_tokenizer_kind {
	FVL_TOKENIZER_LLM,      /* the LLM's (Florence-VL files) */
	FVL_TOKENIZER_FLORENCE, /* Florence-2's BART tokenizer */
};
struct fvl_tokenizer;
FVL_API enum fvl_status fvl_tokenizer_load(const char *model_path, enum fvl_tokenizer_kind which,
                                           struct fvl_tokenizer **out);
FVL_API void fvl_tokenizer_free(struct fvl_tokenizer *t);
/* text (n bytes; invalid UTF-8 becomes U+FFFD, as Hugging Face's tokenizers does) -> *ids (n_ids,
 * malloc'd: free() them). special: add the tokenizer's BOS/EOS and read special-token text as
 * those tokens. */
FVL_API enum fvl_status fvl_tokenize(const struct fvl_tokenizer *t, const char *text, size_t n,
                                     bool special, int32_t **ids, size_t *n_ids);
/* The piece of id (len receives its length; not NUL-terminated), "" for ids outside the vocabulary. */
FVL_API const char *fvl_token_piece(const struct fvl_tokenizer *t, int32_t id, size_t *len);

/* ---- the machine --------------------------------------------------------------------------------- */

#define FVL_MAX_KERNELS 24
struct fvl_system_info {
	const char *arch; /* "aarch64", "x86-64" */
	bool simde;       /* the NEON kernels run translated by SIMDe (x86-64 hosts) */
	bool asimd, fp16, dotprod, i8mm, avx2, avxvnni, avx512vnni;
	const char *kernel_level; /* the level the kernels run at: "baseline", "dotprod", ... */
	const char *best_level;   /* this CPU's best */
	struct {
		const char *contract,
		        *function; /* "q4_0x4_q8_gemm", "fvl_q4_0x4_q8_gemm__neondot" */
	} kernels[FVL_MAX_KERNELS];
	size_t n_kernels;
	const char *f16_weights;  /* the GEMM f16 weights run through */
	bool xnnpack;             /* f32 linears through XNNPACK */
	uint32_t n_cpus;          /* CPUs this process may run on */
	uint32_t default_threads; /* what n_threads 0 means (the board profile's, else n_cpus) */
	const char *board;        /* the build's board profile (boards/), "none" without one */
};
/* isa: NULL for the best level, or one to check ("dotprod"): INVALID_ARGUMENT for an unknown
 * name, UNSUPPORTED for one this CPU or build cannot run, as fvl_session_init would say. */
FVL_API enum fvl_status fvl_system_info(const char *isa, struct fvl_system_info *out);

/* ---- benchmarks ----------------------------------------------------------------------------------- */

struct fvl_bench_params {
	uint32_t size;            /* sizeof(struct fvl_bench_params): _default sets it */
	uint32_t n_threads;       /* 0: the CPUs this process may use */
	const char *isa;          /* NULL: the best kernel level */
	bool llm, vision;         /* what to measure (Florence-VL files; neither: both) */
	uint32_t n_prompt, n_gen; /* LLM: prefill tokens (600), generated tokens (16) */
	uint32_t n_images;        /* vision: images, the last one timed (1) */
	const char *task;         /* non-NULL: this Florence-2 task's image-to-text time instead */
};
FVL_API void fvl_bench_params_default(struct fvl_bench_params *p);
/* Measures on random inputs and prints markdown tables to out (fvl bench): prefill and decode
 * tokens/s and the weight bandwidth they reach, the vision stages' ms and GFLOP/s next to
 * XNNPACK's, or a task's time greedy and with 3 beams. name is what the tables call the model. */
FVL_API enum fvl_status fvl_bench(const struct fvl_model *model, const char *name,
                                  const struct fvl_bench_params *p, FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* FVL_H */
