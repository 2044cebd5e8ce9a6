/* names.h — the model file's vocabulary: every metadata key and tensor name fvl-quant writes and
 * libfvl reads, in one table both compile against (docs/model-file.md explains each).
 *
 * Keys are FVL_KEY_*. Tensor names are FVL_TN_*: a name with a block index is a printf format
 * taking size_t arguments, and most are a prefix followed by a part and FVL_W or FVL_B, joined by
 * string-literal concatenation: snprintf(buf, n, FVL_TN_DEC_BLK FVL_TN_CROSS_Q FVL_W, layer). */
#ifndef FVL_NAMES_H
#define FVL_NAMES_H

/* The model file layout this runtime reads; the converter writes it. */
#define FVL_FORMAT_VERSION 1

/* ---- general --------------------------------------------------------------------------------- */
#define FVL_KEY_ARCH              "general.architecture" /* "florence-vl" | "florence2" */
#define FVL_KEY_ALIGNMENT         "general.alignment"
#define FVL_KEY_SOURCE_MODEL_TYPE "general.source.model_type"
#define FVL_KEY_FORMAT_VERSION    "fvl.format_version"

#define FVL_ARCH_FLORENCE_VL "florence-vl"
#define FVL_ARCH_FLORENCE2   "florence2"

/* ---- Florence-VL: image placeholder, chat template, fusion prompts, projector ----------------- */
#define FVL_KEY_IMAGE_TOKEN       "fvl.image.token"    /* "<image>" */
#define FVL_KEY_IMAGE_TOKEN_ID    "fvl.image.token_id" /* -200 */
#define FVL_KEY_IMAGE_SPLICE      "fvl.image.splice"
#define FVL_KEY_CHAT_TEMPLATE     "fvl.chat.template"
#define FVL_KEY_CHAT_QUERY        "fvl.chat.query"
#define FVL_KEY_CHAT_STOP         "fvl.chat.stop"
#define FVL_KEY_PROMPTS_COUNT     "fvl.prompts.count"
#define FVL_KEY_PROMPTS_LENGTH    "fvl.prompts.length"
#define FVL_KEY_PROMPTS_IDS       "fvl.prompts.ids"
#define FVL_KEY_MM_PROJECTOR_TYPE "fvl.mm.projector_type"
#define FVL_KEY_MM_DEPTH          "fvl.mm.depth"
#define FVL_KEY_MM_HIDDEN_SIZE    "fvl.mm.hidden_size"
#define FVL_KEY_MM_FUSION         "fvl.mm.fusion"
#define FVL_KEY_MM_DROP_POOLED    "fvl.mm.drop_pooled_token"

/* ---- image preprocessing --------------------------------------------------------------------- */
#define FVL_KEY_PRE_WIDTH    "preprocess.width"
#define FVL_KEY_PRE_HEIGHT   "preprocess.height"
#define FVL_KEY_PRE_ASPECT   "preprocess.aspect" /* "pad" | "resize" */
#define FVL_KEY_PRE_FILL     "preprocess.fill"
#define FVL_KEY_PRE_MEAN     "preprocess.mean"
#define FVL_KEY_PRE_STD      "preprocess.std"
#define FVL_KEY_PRE_RESCALE  "preprocess.rescale_factor"
#define FVL_KEY_PRE_RESAMPLE "preprocess.resample"

/* ---- Florence-2: DaViT and _encode_image ----------------------------------------------------- */
#define FVL_KEY_F2_LAYOUT        "f2.layout"
#define FVL_KEY_V_DIM_EMBED      "f2.vision.dim_embed"
#define FVL_KEY_V_DEPTHS         "f2.vision.depths"
#define FVL_KEY_V_NUM_HEADS      "f2.vision.num_heads"
#define FVL_KEY_V_NUM_GROUPS     "f2.vision.num_groups"
#define FVL_KEY_V_PATCH_SIZE     "f2.vision.patch_size"
#define FVL_KEY_V_PATCH_STRIDE   "f2.vision.patch_stride"
#define FVL_KEY_V_PATCH_PADDING  "f2.vision.patch_padding"
#define FVL_KEY_V_PATCH_PRENORM  "f2.vision.patch_prenorm"
#define FVL_KEY_V_WINDOW_SIZE    "f2.vision.window_size"
#define FVL_KEY_V_MLP_RATIO      "f2.vision.mlp_ratio"
#define FVL_KEY_V_PROJECTION_DIM "f2.vision.projection_dim"
#define FVL_KEY_V_POS_EMBED_MAX  "f2.vision.pos_embed_max"
#define FVL_KEY_V_TEMPORAL_MAX   "f2.vision.temporal_embed_max"
#define FVL_KEY_V_FEATURE_SOURCE "f2.vision.image_feature_source"
#define FVL_KEY_V_LAYER_NORM_EPS "f2.vision.layer_norm_eps"

/* ---- Florence-2: BART ------------------------------------------------------------------------ */
#define FVL_KEY_T_D_MODEL         "f2.text.d_model"
#define FVL_KEY_T_ENC_LAYERS      "f2.text.encoder_layers"
#define FVL_KEY_T_ENC_HEADS       "f2.text.encoder_heads"
#define FVL_KEY_T_ENC_FFN         "f2.text.encoder_ffn_dim"
#define FVL_KEY_T_DEC_LAYERS      "f2.text.decoder_layers"
#define FVL_KEY_T_DEC_HEADS       "f2.text.decoder_heads"
#define FVL_KEY_T_DEC_FFN         "f2.text.decoder_ffn_dim"
#define FVL_KEY_T_VOCAB_SIZE      "f2.text.vocab_size"
#define FVL_KEY_T_MAX_POS         "f2.text.max_position_embeddings"
#define FVL_KEY_T_POSITION_OFFSET "f2.text.position_offset"
#define FVL_KEY_T_SCALE_EMBEDDING "f2.text.scale_embedding"
#define FVL_KEY_T_LAYER_NORM_EPS  "f2.text.layer_norm_eps"
#define FVL_KEY_T_BOS_ID          "f2.text.bos_token_id"
#define FVL_KEY_T_EOS_ID          "f2.text.eos_token_id"
#define FVL_KEY_T_PAD_ID          "f2.text.pad_token_id"
#define FVL_KEY_T_DEC_START_ID    "f2.text.decoder_start_token_id"
#define FVL_KEY_T_FORCED_BOS_ID   "f2.text.forced_bos_token_id"
#define FVL_KEY_T_FORCED_EOS_ID   "f2.text.forced_eos_token_id"
#define FVL_KEY_T_NO_REPEAT_NGRAM "f2.text.no_repeat_ngram_size"
#define FVL_KEY_F2_HAS_DECODER    "f2.has_decoder"
#define FVL_KEY_F2_GEN_NUM_BEAMS  "f2.generation.num_beams"
#define FVL_KEY_F2_GEN_EARLY_STOP "f2.generation.early_stopping"
#define FVL_KEY_F2_GEN_SOURCE     "f2.generation.source"
#define FVL_KEY_F2_TASK_NAMES     "f2.tasks.names"
#define FVL_KEY_F2_TASK_PROMPTS   "f2.tasks.prompts"

/* ---- the LLM (llama.cpp's key names under llm.) ---------------------------------------------- */
#define FVL_KEY_LLM_ARCH           "llm.arch" /* "phi3" | "llama" */
#define FVL_KEY_LLM_N_EMBD         "llm.embedding_length"
#define FVL_KEY_LLM_N_LAYER        "llm.block_count"
#define FVL_KEY_LLM_N_HEAD         "llm.attention.head_count"
#define FVL_KEY_LLM_N_HEAD_KV      "llm.attention.head_count_kv"
#define FVL_KEY_LLM_N_EMBD_HEAD    "llm.attention.key_length"
#define FVL_KEY_LLM_N_FF           "llm.feed_forward_length"
#define FVL_KEY_LLM_N_VOCAB        "llm.vocab_size"
#define FVL_KEY_LLM_N_CTX          "llm.context_length"
#define FVL_KEY_LLM_MAX_POS        "llm.max_position_embeddings"
#define FVL_KEY_LLM_RMS_EPS        "llm.attention.layer_norm_rms_epsilon"
#define FVL_KEY_LLM_BOS_ID         "llm.bos_token_id"
#define FVL_KEY_LLM_EOS_IDS        "llm.eos_token_ids"
#define FVL_KEY_ROPE_N_ROT         "llm.rope.dimension_count"
#define FVL_KEY_ROPE_FREQ_BASE     "llm.rope.freq_base"
#define FVL_KEY_ROPE_N_CTX_ORIG    "llm.rope.original_context_length"
#define FVL_KEY_ROPE_SCALING_TYPE  "llm.rope.scaling.type" /* "none" | "longrope" | "llama3" */
#define FVL_KEY_ROPE_SHORT_FACTOR  "llm.rope.scaling.short_factor"
#define FVL_KEY_ROPE_LONG_FACTOR   "llm.rope.scaling.long_factor"
#define FVL_KEY_ROPE_ATTN_FACTOR   "llm.rope.scaling.attn_factor"
#define FVL_KEY_ROPE_FACTOR        "llm.rope.scaling.factor"
#define FVL_KEY_ROPE_LOW_FREQ      "llm.rope.scaling.low_freq_factor"
#define FVL_KEY_ROPE_HIGH_FREQ     "llm.rope.scaling.high_freq_factor"
#define FVL_KEY_ROPE_SCALING_N_CTX "llm.rope.scaling.original_context_length"

/* ---- tokenizers: a prefix, then "." and a part ----------------------------------------------- */
#define FVL_TOK_LLM              "tokenizer.llm"
#define FVL_TOK_FLORENCE         "tokenizer.florence"
#define FVL_TOK_MODEL            "model"     /* "bpe" | "spm" */
#define FVL_TOK_SEMANTICS        "semantics" /* "fast" | "slow" */
#define FVL_TOK_SOURCE           "source"
#define FVL_TOK_TOKENS           "tokens"
#define FVL_TOK_TOKEN_TYPE       "token_type"
#define FVL_TOK_MERGES           "merges"
#define FVL_TOK_SCORES           "scores"
#define FVL_TOK_ADDED_IDS        "added.ids"
#define FVL_TOK_ADDED_FLAGS      "added.flags"
#define FVL_TOK_PRE_TYPE         "pre.type"
#define FVL_TOK_PRE_REGEX        "pre.regex"
#define FVL_TOK_PRE_PREFIX_SPACE "pre.add_prefix_space"
#define FVL_TOK_NORMALIZER       "normalizer"
#define FVL_TOK_DECODER          "decoder"
#define FVL_TOK_POST_TYPE        "post.type"
#define FVL_TOK_POST_BOS         "post.bos_id"
#define FVL_TOK_POST_EOS         "post.eos_id"
#define FVL_TOK_UNK_ID           "unk_id"
#define FVL_TOK_BOS_ID           "bos_token_id"
#define FVL_TOK_BYTE_FALLBACK    "byte_fallback"
#define FVL_TOK_FUSE_UNK         "fuse_unk"
#define FVL_TOK_IGNORE_MERGES    "ignore_merges"
#define FVL_TOK_SPM_DUMMY_PREFIX "spm.add_dummy_prefix"
#define FVL_TOK_SPM_ESCAPE_WS    "spm.escape_whitespaces"
#define FVL_TOK_SPM_REMOVE_WS    "spm.remove_extra_whitespaces"
#define FVL_TOK_SPM_WS_SUFFIX    "spm.treat_whitespace_as_suffix"
#define FVL_TOK_HF_LEGACY        "hf.legacy"
#define FVL_TOK_HF_PREFIX_SPACE  "hf.add_prefix_space"
#define FVL_TOK_HF_UNK_TOKEN     "hf.unk_token"

/* <prefix>.added.flags bits */
enum fvl_tok_added_flag {
	FVL_TOK_ADDED_SPECIAL = 1, /* special: skipped when decoding with skip_special */
	FVL_TOK_ADDED_LSTRIP = 2,
	FVL_TOK_ADDED_RSTRIP = 4,
	FVL_TOK_ADDED_NORMALIZED = 8,
	FVL_TOK_ADDED_SINGLE_WORD = 16,
	FVL_TOK_ADDED_ROLE = 32, /* bos/eos/unk/pad/sep/cls/mask or additional_special_tokens
	                                   of the slow tokenizer */
};

/* <prefix>.token_type values (SentencePiece's and llama.cpp's numbering) */
enum fvl_tok_type {
	FVL_TOK_TYPE_NORMAL = 1,
	FVL_TOK_TYPE_UNKNOWN = 2,
	FVL_TOK_TYPE_CONTROL = 3,
	FVL_TOK_TYPE_USER_DEFINED = 4,
	FVL_TOK_TYPE_UNUSED = 5,
	FVL_TOK_TYPE_BYTE = 6,
};

/* ---- tensors ---------------------------------------------------------------------------------- */
#define FVL_W ".weight"
#define FVL_B ".bias"

/* DaViT: stage s's patch convolution, and block j of stage s, "sp" (spatial) or "ch" (channel) */
#define FVL_TN_V_CONV      "v.conv.%zu" /* + FVL_W / FVL_B; .norm + FVL_W/B */
#define FVL_TN_V_CONV_NORM "v.conv.%zu.norm"
#define FVL_TN_V_BLK       "v.blk.%zu.%zu.%s." /* stage, block, "sp" | "ch"; + part */
#define FVL_TN_V_SPATIAL   "sp"
#define FVL_TN_V_CHANNEL   "ch"
#define FVL_TN_DW1         "dw1" /* depthwise 3x3 before the attention */
#define FVL_TN_DW2         "dw2" /* and before the MLP */
/* _encode_image */
#define FVL_TN_V_IMG_PROJ      "v.img_proj" /* (proj_dim, C) + FVL_W */
#define FVL_TN_V_IMG_PROJ_NORM "v.img_proj_norm"
#define FVL_TN_V_POS_ROW       "v.pos_row" /* (pos_max, C / 2) + FVL_W */
#define FVL_TN_V_POS_COL       "v.pos_col"

/* BART: the encoder (fe.) and decoder (fd.) blocks, then a part */
#define FVL_TN_ENC_BLK         "fe.blk.%zu."
#define FVL_TN_DEC_BLK         "fd.blk.%zu."
#define FVL_TN_ENC_TOKEN_EMBD  "fe.token_embd" FVL_W /* shared with the decoder */
#define FVL_TN_ENC_POS_EMBD    "fe.pos_embd" FVL_W
#define FVL_TN_ENC_EMBD_NORM   "fe.embd_norm"
#define FVL_TN_DEC_POS_EMBD    "fd.pos_embd" FVL_W
#define FVL_TN_DEC_EMBD_NORM   "fd.embd_norm"
#define FVL_TN_DEC_OUTPUT      "fd.output" FVL_W /* absent: tied to the token embedding */
#define FVL_TN_DEC_LOGITS_BIAS "fd.logits_bias"  /* absent: none */
#define FVL_TN_ATTN_Q          "attn_q"
#define FVL_TN_ATTN_K          "attn_k"
#define FVL_TN_ATTN_V          "attn_v"
#define FVL_TN_ATTN_OUT        "attn_out"
#define FVL_TN_CROSS_Q         "cross_q"
#define FVL_TN_CROSS_K         "cross_k"
#define FVL_TN_CROSS_V         "cross_v"
#define FVL_TN_CROSS_OUT       "cross_out"
#define FVL_TN_CROSS_NORM      "cross_norm"

/* parts shared by DaViT, BART and the LLM blocks */
#define FVL_TN_ATTN_NORM "attn_norm"
#define FVL_TN_FFN_NORM  "ffn_norm"
#define FVL_TN_FFN_UP    "ffn_up"
#define FVL_TN_FFN_DOWN  "ffn_down"

/* Florence-VL's projector linear k */
#define FVL_TN_MM "mm.%zu"

/* The LLM (llama.cpp's names) */
#define FVL_TN_TOKEN_EMBD  "token_embd" FVL_W
#define FVL_TN_OUTPUT_NORM "output_norm" FVL_W
#define FVL_TN_OUTPUT      "output" FVL_W
#define FVL_TN_BLK         "blk.%zu."
#define FVL_TN_ATTN_QKV    "attn_qkv" /* phi3: q, k, v fused */
#define FVL_TN_ATTN_OUTPUT "attn_output"
#define FVL_TN_FFN_GATE    "ffn_gate" /* llama; phi3's ffn_up holds gate + up */

#endif /* FVL_NAMES_H */
