#!/usr/bin/env bash
# cli.sh — end-to-end tests of the command-line programs: exit codes, messages, no partial output.
# Usage: tests/cli.sh BUILD_DIR     Ends with "N passed, N failed".
set -u
B=${1:?usage: tests/cli.sh BUILD_DIR}
FVL="$B/fvl"
QUANT="$B/fvl-quant"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

# expect NAME WANT_STATUS WANT_TEXT CMD...: runs CMD, checks the exit status and that stdout+stderr
# contain WANT_TEXT.
expect() {
  local name=$1 want=$2 text=$3; shift 3
  local out st
  out=$("$@" 2>&1); st=$?
  if [ "$st" -ne "$want" ]; then
    echo "FAIL $name: exit $st, expected $want"; echo "$out" | head -5 | sed 's/^/     | /'
    fail=$((fail + 1)); return
  fi
  if ! grep -aqF -- "$text" <<<"$out"; then
    echo "FAIL $name: output lacks '$text'"; echo "$out" | head -5 | sed 's/^/     | /'
    fail=$((fail + 1)); return
  fi
  echo "ok   $name"; pass=$((pass + 1))
}

"$B/tests/run" --write-gguf-seeds "$T/g" >/dev/null || { echo "FAIL cannot write sample files"; exit 1; }
good="$T/g/writer-0.gguf"

expect cli_help_exits_0 0 "usage: fvl" "$FVL" --help
expect cli_no_args_is_usage_error 2 "usage: fvl" "$FVL"
expect cli_unknown_command 2 "unknown command 'frobnicate'" "$FVL" frobnicate
expect cli_version 0 "fvl 0." "$FVL" version
expect cli_info_prints_metadata 0 "general.architecture: str = \"florence-vl\"" "$FVL" info "$good"
expect cli_info_prints_tensor_table 0 "blk.0.attn_q.weight" "$FVL" info "$good"
expect cli_info_prints_types_and_shapes 0 "q8_0  [64, 3]" "$FVL" info "$good"
expect cli_info_without_file 2 "which model file" "$FVL" info
expect cli_info_unknown_option 2 "unknown option '--bogus'" "$FVL" info "$good" --bogus
expect cli_info_missing_file 1 "cannot open" "$FVL" info "$T/missing.gguf"
cp "$good" "$T/badmagic.gguf"; printf 'GGML' | dd of="$T/badmagic.gguf" bs=1 conv=notrunc 2>/dev/null
expect cli_info_bad_magic 1 "not a GGUF file" "$FVL" info "$T/badmagic.gguf"
head -c 100 "$good" >"$T/trunc.gguf"
expect cli_info_truncated 1 "truncated" "$FVL" info "$T/trunc.gguf"
head -c $(( $(stat -c %s "$good") - 60 )) "$good" >"$T/short.gguf"   # into the last tensor
expect cli_info_data_cut_short 1 "past the end of the data section" "$FVL" info "$T/short.gguf"
expect cli_info_directory 1 "not a regular file" "$FVL" info "$T"
expect cli_cpu_names_a_variant 0 "kernel variant:" "$FVL" cpu
expect cli_cpu_prints_features 0 "dotprod: " "$FVL" cpu
expect cli_cpu_bad_isa 1 "not one of scalar" env FVL_ISA=avx9000 "$FVL" cpu
expect cli_cpu_scalar_override 0 "kernel variant: scalar (FVL_ISA)" env FVL_ISA=scalar "$FVL" cpu
expect quant_help 0 "usage: fvl-quant" "$QUANT" --help
expect quant_info 0 "blk.0.attn_q.weight" "$QUANT" info "$good"
expect quant_info_bad_file 1 "not a GGUF file" "$QUANT" info "$T/badmagic.gguf"
expect quant_unknown_command 2 "unknown command" "$QUANT" nope

# ---- fvl-quant convert ------------------------------------------------------------------------
DATA=${FVL_TEST_DATA:-tests/data}
CK="$DATA/fvl-tiny-phi3/checkpoint"
expect quant_help_lists_types 0 "--tensor-type PATTERN=T" "$QUANT" help convert
expect quant_help_documents_exit_codes 0 "3 cannot write the output" "$QUANT" help
expect quant_convert_needs_output 2 "convert needs -o" "$QUANT" convert "$CK"
expect quant_convert_needs_dir 2 "convert needs a checkpoint directory" "$QUANT" convert -o "$T/x.gguf"
expect quant_convert_bad_type 2 "unknown type" "$QUANT" convert "$CK" -o "$T/x.gguf" --wtype q3_k
expect quant_convert_bad_override 2 "--tensor-type needs PATTERN=TYPE" "$QUANT" convert "$CK" -o "$T/x.gguf" --tensor-type foo
expect quant_convert_unknown_option 2 "unknown option --frob" "$QUANT" convert "$CK" -o "$T/x.gguf" --frob
expect quant_convert_missing_dir 1 "cannot open" "$QUANT" convert "$T/nowhere" -o "$T/x.gguf"
expect quant_convert_unwritable 3 "cannot create" "$QUANT" convert "$CK" -o /nonexistent-fvl/x.gguf
expect quant_convert_reports_progress_and_rss 0 "peak RSS" "$QUANT" convert "$CK" -o "$T/ok.gguf"
expect quant_converted_file_reads_back 0 "general.architecture: str = \"florence-vl\"" "$FVL" info "$T/ok.gguf"
expect quant_convert_quiet 0 "" "$QUANT" convert "$CK" -o "$T/q.gguf" --quiet
if [ -s "$T/q.gguf" ] && [ -z "$("$QUANT" convert "$CK" -o "$T/q2.gguf" --quiet 2>&1)" ]; then
  echo "ok   quant_convert_quiet_prints_nothing"; pass=$((pass + 1))
else
  echo "FAIL quant_convert_quiet_prints_nothing"; fail=$((fail + 1))
fi
expect quant_synth_dry_run 0 "4629062745 parameters" "$QUANT" synth --arch florence-vl-3b --dry-run
expect quant_synth_unknown_arch 2 "unknown --arch" "$QUANT" synth --arch gpt5 -o "$T/s.gguf"

# ---- released layouts (issue 13) --------------------------------------------------------------------
SFT="$T/sft"; mkdir -p "$SFT"
for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json \
         tokenizer.json tokenizer_config.json; do ln -s "$(cd "$CK" && pwd)/$f" "$SFT/$f"; done
cp "$DATA/fvl-tiny-phi3-sft/config.json" "$SFT/"
expect quant_sft_without_tower_says_what_to_download 1 "huggingface-cli download jiuhai/florence-phi-vision-tower" \
  env HF_HOME="$T/no-hf" "$QUANT" convert "$SFT" -o "$T/sft.gguf"
expect quant_sft_with_vision_tower 0 "Florence-2 tower: $DATA/fvl-tiny-phi3-sft/florence-phi-vision-tower (from --vision-tower)" \
  "$QUANT" convert "$SFT" -o "$T/sft.gguf" --vision-tower "$DATA/fvl-tiny-phi3-sft/florence-phi-vision-tower"
expect quant_vision_tower_not_a_folder 1 "--vision-tower $T/nowhere: no such folder" \
  "$QUANT" convert "$SFT" -o "$T/sft2.gguf" --vision-tower "$T/nowhere"
expect quant_bad_llm_tokenizer 2 "--llm-tokenizer wants slow, fast or auto" "$QUANT" convert "$CK" -o "$T/x.gguf" --llm-tokenizer medium
expect quant_native_florence2 0 "wrote" "$QUANT" convert "$DATA/florence2-tiny-native" -o "$T/native.gguf"
expect info_shows_the_layout 0 'f2.layout: str = "transformers"' "$FVL" info "$T/native.gguf"
SLOW="$T/slow"; mkdir -p "$SLOW"
for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json \
         config.json vision_tower; do ln -s "$(cd "$CK" && pwd)/$f" "$SLOW/$f"; done
ln -s "$(cd "$DATA/tokenizers/phi3-spm" && pwd)/tokenizer.model" "$SLOW/tokenizer.model"
ln -s "$(cd "$DATA/tokenizers/phi3-spm" && pwd)/tokenizer_config.json" "$SLOW/tokenizer_config.json"
"$QUANT" convert "$SLOW" -o "$T/slow.gguf" --no-florence-decoder --quiet
expect info_shows_the_slow_tokenizer 0 'tokenizer.llm.semantics: str = "slow"' "$FVL" info "$T/slow.gguf"
expect tokenize_slow_like_transformers 0 '"ids": [29871, 32010, 10994, 32007, 32001]' \
  "$FVL" tokenize -m "$T/slow.gguf" --json $'<|user|>\nHello<|end|>\n<|assistant|>\n'
expect run_slow_prompt_ids 0 '"prompt_ids": [29871, 32006, 3492, 526, 263, 8444, 319, 29902, 20255, 29889, 32007, 32010, -200, 29871, 13, 5618, 338, 297, 278, 1967, 29973, 32007, 32001]' \
  "$FVL" run -m "$T/slow.gguf" -i "$DATA/fvl-tiny-phi3/chelsea.jpg" -p "What is in the image?" -n 1 --json
# export-llm: the LLM for llama.cpp (tensor-level checks are in tests/test-export.c)
expect export_help 0 "llama.cpp" "$QUANT" export-llm --help
expect export_needs_output 2 "export-llm needs MODEL.gguf and -o OUT.gguf" "$QUANT" export-llm "$T/slow.gguf"
expect export_two_inputs 2 "unexpected" "$QUANT" export-llm "$T/slow.gguf" "$T/slow.gguf" -o "$T/x.gguf"
expect export_dry_run 0 "would write the export: phi3 LLM" "$QUANT" export-llm "$T/slow.gguf" --dry-run
expect export_slow_spm 0 "wrote $T/slow.llama.gguf" "$QUANT" export-llm "$T/slow.gguf" -o "$T/slow.llama.gguf"
expect export_spm_is_llama_vocab 0 'tokenizer.ggml.model: str = "llama"' "$FVL" info "$T/slow.llama.gguf"
expect export_spm_scores_copied 0 'tokenizer.ggml.scores: arr[f32, 32064] = [0, 0, 0, 0, 0, 0, 0, 0, ...]' "$FVL" info "$T/slow.llama.gguf"
expect export_of_an_export_refused 1 "export-llm takes a Florence-VL model file" "$QUANT" export-llm "$T/slow.llama.gguf" -o "$T/x.gguf"
expect export_device_refused 1 "not a regular file" "$QUANT" export-llm /dev/null -o "$T/x.gguf"
head -c 4096 /dev/urandom >"$T/noise.gguf"
expect export_noise_refused 1 "error" "$QUANT" export-llm "$T/noise.gguf" -o "$T/x.gguf"
[ ! -e "$T/x.gguf" ] && [ ! -e "$T/x.gguf.tmp" ] && { echo "ok   export_refusals_leave_no_file"; pass=$((pass + 1)); } ||
  { echo "FAIL export_refusals_leave_no_file"; fail=$((fail + 1)); }

# ---- bad and hostile input (issue 14) ---------------------------------------------------------------
expect quant_output_device_refused 2 "is not a regular file" "$QUANT" convert "$CK" -o /dev/null --quiet
mkfifo "$T/fifo"
expect quant_output_fifo_refused 2 "is not a regular file" "$QUANT" convert "$CK" -o "$T/fifo" --quiet
expect quant_output_directory_refused 2 "is a directory" "$QUANT" convert "$CK" -o "$T" --quiet
before=$(cksum <"$SFT/model-00001-of-00002.safetensors")
expect quant_output_that_is_an_input_refused 2 "would destroy its own input" \
  "$QUANT" convert "$SFT" --vision-tower "$DATA/fvl-tiny-phi3-sft/florence-phi-vision-tower" \
  -o "$SFT/model-00001-of-00002.safetensors" --quiet
if [ "$(cksum <"$SFT/model-00001-of-00002.safetensors")" = "$before" ]; then
  echo "ok   quant_input_shard_untouched"; pass=$((pass + 1))
else echo "FAIL quant_input_shard_untouched"; fail=$((fail + 1)); fi
expect quant_output_that_is_a_config_refused 2 "an input of the conversion" \
  "$QUANT" convert "$CK" -o "$CK/vision_tower/config.json" --quiet
expect quant_checkpoint_that_is_a_file 1 "is not a directory" "$QUANT" convert "$CK/config.json" -o "$T/x.gguf"
for c in convert synth info; do
  expect "quant_${c}_help" 0 "usage: fvl-quant $c" "$QUANT" "$c" --help
done
expect quant_help_command 0 "usage: fvl-quant convert" "$QUANT" help convert
expect quant_help_unknown 2 "no command 'frob'" "$QUANT" help frob

# No space left on device: a 256 KB tmpfs in a private mount namespace (needs root and unshare).
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  mkdir -p "$T/full"
  out=$(unshare -m sh -c "mount -t tmpfs -o size=256k tmpfs '$T/full' && \
        '$QUANT' convert '$CK' -o '$T/full/out.gguf' --quiet; echo \"rc=\$?\"; ls '$T/full'" 2>&1)
  if grep -q "rc=3" <<<"$out" && grep -q "no space left\|No space left" <<<"$out" && \
     ! grep -q "out.gguf" <<<"$(tail -n +2 <<<"$out" | grep -v 'error')"; then
    echo "ok   quant_convert_no_space_left_removes_partial_output"; pass=$((pass + 1))
  else
    echo "FAIL quant_convert_no_space_left_removes_partial_output"; echo "$out" | sed 's/^/     | /'
    fail=$((fail + 1))
  fi
else
  echo "skip quant_convert_no_space_left_removes_partial_output: needs root and unshare"
  skip=$((skip + 1))
fi

# Interrupted conversion leaves nothing behind.
"$QUANT" synth --arch florence2-base --wtype f32 --vision-wtype f32 -o "$T/int.gguf" >/dev/null 2>&1 &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e "$T/int.gguf.tmp" ] && break; sleep 0.2; done
started=$([ -e "$T/int.gguf.tmp" ] && echo yes)
kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null
if [ "$started" = yes ] && [ ! -e "$T/int.gguf.tmp" ] && [ ! -e "$T/int.gguf" ]; then
  echo "ok   quant_convert_interrupted_leaves_no_temp_file"; pass=$((pass + 1))
else
  echo "FAIL quant_convert_interrupted_leaves_no_temp_file"; fail=$((fail + 1))
fi

# ---- fvl run / tokenize on the converted fixture ---------------------------------------------------
IMG="$DATA/fvl-tiny-phi3/chelsea.jpg"
M="$T/f32.gguf"
"$QUANT" convert "$CK" -o "$M" --wtype f32 --vision-wtype f32 --embed-wtype f32 --quiet
want=$(sed -n '/"llm_greedy_ids"/,/\]/p' "$DATA/fvl-tiny-phi3/golden.json" | tr -d ' \n' | sed 's/.*\[//; s/\].*//; s/,/, /g')
expect run_json_prints_the_golden_greedy_ids 0 "\"ids\": [$want]" \
  "$FVL" run -m "$M" -i "$IMG" -p "What is in this picture? Answer briefly." --temp 0 --ignore-eos -n 12 --json
expect run_json_prompt_ids_have_the_image 0 "32010, -200, 28705" \
  "$FVL" run -m "$M" -i "$IMG" -p "What is in this picture? Answer briefly." -n 2 --json
expect run_streams_text 0 "psychicon" "$FVL" run -m "$M" -i "$IMG" -p "What is in this picture? Answer briefly." --ignore-eos -n 4
expect run_dump_writes_npy 0 "" "$FVL" run -m "$M" -i "$IMG" -p "Hi" -n 1 --dump "$T/dump"
ok=1
for f in pixel_values:196736 davit_out:8320 image_features:4480 encoder_out_0:8064 encoder_out_1:8064 \
         encoder_out_2:8064 fused:17536 projector_out:6656 llm_logits_last:128384; do
  name=${f%%:*} size=${f##*:}
  [ "$(stat -c %s "$T/dump/$name.npy" 2>/dev/null)" = "$size" ] || { ok=0; echo "     | $name.npy: not $size bytes"; }
done
if [ $ok = 1 ]; then echo "ok   run_dump_files_have_the_stage_shapes"; pass=$((pass + 1)); else echo "FAIL run_dump_files_have_the_stage_shapes"; fail=$((fail + 1)); fi
expect run_image_device_refused 1 "not a regular file" "$FVL" run -m "$M" -i /dev/zero -p hi
expect run_image_directory_refused 1 "a directory, not an image file" "$FVL" run -m "$M" -i "$DATA/images" -p hi
expect run_prompt_that_cannot_fit_before_the_image 1 "the prompt with the image is 41 tokens, the context holds 24" \
  "$FVL" run -m "$M" -i "$IMG" -p "What is in this picture? Answer briefly." -c 24
expect run_text_prompt_that_cannot_fit 1 "the prompt is 22 tokens, the context holds 16" \
  "$FVL" run -m "$M" -p "What is in this picture? Answer briefly." -c 16
expect run_full_context_keeps_the_answer 0 '"finish": "context"' \
  "$FVL" run -m "$M" -i "$IMG" -p "What is in this picture? Answer briefly." -n 100000 -c 48 --ignore-eos --json
expect run_length_finish 0 '"finish": "length"' "$FVL" run -m "$M" -i "$IMG" -p "Hi" -n 2 --ignore-eos --json
printf 'What is in this picture? Answer briefly.' >"$T/q.txt"
expect run_prompt_from_a_file 0 "\"ids\": [$want]" \
  "$FVL" run -m "$M" -i "$IMG" -f "$T/q.txt" --temp 0 --ignore-eos -n 12 --json
out=$(printf 'What is in this picture? Answer briefly.' | "$FVL" run -m "$M" -i "$IMG" -p - --ignore-eos -n 12 --json 2>&1)
if grep -qF "\"ids\": [$want]" <<<"$out"; then echo "ok   run_prompt_from_stdin"; pass=$((pass + 1))
else echo "FAIL run_prompt_from_stdin"; echo "$out" | head -3 | sed 's/^/     | /'; fail=$((fail + 1)); fi
expect run_prompt_file_missing 1 "cannot open" "$FVL" run -m "$M" -f "$T/none.txt"
expect run_prompt_file_is_a_directory 1 "is a directory" "$FVL" run -m "$M" -f "$T"
expect run_prompt_twice 2 "not both" "$FVL" run -m "$M" -p x -f "$T/q.txt"
expect run_ctx_out_of_range 2 "16..1048576 tokens, not '4000000000'" "$FVL" run -m "$M" -p hi -c 4000000000
expect run_parse_special_is_an_option 0 '"prompt_ids": [' "$FVL" run -m "$M" -p "a <|end|> b" -n 1 --parse-special --json
for c in run camera task tokenize bench info doctor cpu version; do
  expect "help_$c" 0 "usage: fvl $c" "$FVL" help "$c"
  expect "${c}_help_flag" 0 "usage: fvl $c" "$FVL" "$c" --help
done
expect help_unknown 2 "no command 'frob'" "$FVL" help frob
expect doctor_bad_model_exits_1 1 "cannot open" "$FVL" doctor -m "$T/none.gguf"
if [ "$("$FVL" doctor -m "$T/none.gguf" 2>/dev/null | grep -o "$T/none.gguf" | wc -l)" = 1 ]; then
  echo "ok   doctor_names_the_path_once"; pass=$((pass + 1))
else echo "FAIL doctor_names_the_path_once"; fail=$((fail + 1)); fi
expect bench_prompt_beyond_the_context 2 "do not fit the model's context of 2048" "$FVL" bench -m "$M" --llm -p 5000
mkdir -p "$T/badframes"; printf 'junk' >"$T/badframes/a.jpg"; printf 'junk' >"$T/badframes/b.jpg"
expect camera_all_frames_corrupt_exits_1 1 "none of its 2 files could be read" "$FVL" camera -m "$M" --frames "$T/badframes" -p x
out=$("$FVL" camera -m "$M" --device /dev/null -p x 2>&1); st=$?
if [ $st = 1 ] && grep -q "not a V4L2 device" <<<"$out" && ! grep -q "wait-for-device" <<<"$out"; then
  echo "ok   camera_format_error_has_no_waiting_hint"; pass=$((pass + 1))
else echo "FAIL camera_format_error_has_no_waiting_hint (exit $st)"; echo "$out" | sed 's/^/     | /'; fail=$((fail + 1)); fi
expect run_needs_a_model 2 "which model" "$FVL" run -p hi
expect run_needs_a_question 2 "what question" "$FVL" run -m "$M"
expect run_rejects_n_0 2 "-n wants" "$FVL" run -m "$M" -p hi -n 0
expect run_rejects_threads_0 2 "-t wants" "$FVL" run -m "$M" -p hi -t 0
expect run_rejects_absurd_threads 2 "-t wants" "$FVL" run -m "$M" -p hi -t 100000
expect run_rejects_unknown_flags 2 "unknown option '--frob'" "$FVL" run -m "$M" -p hi --frob
expect run_rejects_bad_temp 2 "--temp wants" "$FVL" run -m "$M" -p hi --temp abc
expect run_missing_image 1 "cannot open" "$FVL" run -m "$M" -i "$T/none.jpg" -p hi
head -c 3000 "$IMG" >"$T/cut.jpg"
expect run_truncated_image 1 "truncated" "$FVL" run -m "$M" -i "$T/cut.jpg" -p hi
printf 'hello' >"$T/x.txt"
expect run_unsupported_image 1 "unsupported image type" "$FVL" run -m "$M" -i "$T/x.txt" -p hi
"$QUANT" convert "$DATA/florence2-tiny" -o "$T/f2.gguf" --quiet
expect run_wrong_model_kind 1 "has no LLM" "$FVL" run -m "$T/f2.gguf" -p hi
expect run_not_a_model 1 "not a GGUF file" "$FVL" run -m "$IMG" -p hi
expect tokenize_prints_ids 0 "32007 -> '<|end|>'" "$FVL" tokenize -m "$M" "hi<|end|>"
expect tokenize_json 0 "{\"ids\": [1, 22557, 1526], \"pieces\": [\"<s>\", \"▁Hello\", \"▁world\"]}" \
  "$FVL" tokenize -m "$M" --json "Hello world"
expect tokenize_florence 0 "{\"ids\": [0, 31414, 232, 2]" "$FVL" tokenize -m "$M" --tokenizer florence --json "Hello world"
expect tokenize_bad_tokenizer 2 "--tokenizer is llm or florence" "$FVL" tokenize -m "$M" --tokenizer gpt "x"
expect tokenize_florence2_file_says_which 1 "use --tokenizer florence" "$FVL" tokenize -m "$T/f2.gguf" "x"
expect tokenize_invalid_utf8 0 '"ids": [0, ' "$FVL" tokenize -m "$M" --tokenizer florence --json $'\xf8\x88\x80\x80\x80'
expect task_grounding_invalid_utf8 0 '"task": "<CAPTION_TO_PHRASE_GROUNDING>"' \
  "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption_to_phrase_grounding --text $'x\xff' -n 3 --json

# ---- fvl task (Florence-2) ---------------------------------------------------------------------------
want=$(sed -n '/"OCR": {/,/\]/p' "$DATA/fvl-tiny-phi3/golden.json" | sed -n '/"prompt_ids"/,/\]/p' | tr -d ' \n' | sed 's/.*\[//; s/\].*//; s/,/, /g')
expect task_prompt_is_the_processors 0 "{\"ids\": [$want]" "$FVL" tokenize -m "$T/f2.gguf" --tokenizer florence --json "What is the text in the image?"
expect task_caption_json 0 '"task": "<CAPTION>", "text": ' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption -n 8 --json
expect task_forced_bos_and_eos 0 '"ids": [0, ' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption -n 8 --beams 1 --json
expect task_od_has_boxes_and_labels 0 '"bboxes": [' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task '<OD>' -n 8 --json
expect task_ocr_with_region_has_quads 0 '"quad_boxes": [' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task ocr_with_region -n 8 --json
expect task_on_the_florence_vl_file 0 '"task": "<OCR>"' "$FVL" task -m "$M" -i "$IMG" --task ocr -n 6 --json
expect task_grounding_takes_text 0 '"labels": [' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption_to_phrase_grounding --text "a cat" -n 8 --json
expect task_json_reports_the_search 0 '"search": {"beams": 3, "max_new": 8, "no_repeat_ngram": 3, "early_stopping": true, "forced_bos_id": 0, "forced_eos": true' "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption -n 8 --json
expect task_dump_writes_npy 0 "" "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task ocr -n 2 --dump "$T/tdump"
ok=1
for f in pixel_values:196736 davit_out:8320 image_features:4480 encoder_out:7040 decoder_logits_first:205284; do
  name=${f%%:*} size=${f##*:}
  [ "$(stat -c %s "$T/tdump/$name.npy" 2>/dev/null)" = "$size" ] || { ok=0; echo "     | $name.npy: not $size bytes"; }
done
if [ $ok = 1 ]; then echo "ok   task_dump_files_have_the_stage_shapes"; pass=$((pass + 1)); else echo "FAIL task_dump_files_have_the_stage_shapes"; fail=$((fail + 1)); fi
expect task_help_lists_tasks 0 "region_to_description" "$FVL" task --help
expect task_needs_text 2 "needs --text" "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task caption_to_phrase_grounding
expect task_takes_no_text 2 "takes no --text" "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task ocr --text x
expect task_unknown 2 "unknown task 'sing'" "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task sing
expect task_needs_image 2 "which image" "$FVL" task -m "$T/f2.gguf" --task ocr
expect task_bad_beams 2 "--beams wants 1..16" "$FVL" task -m "$T/f2.gguf" -i "$IMG" --task ocr --beams 0
expect task_missing_image 1 "cannot open" "$FVL" task -m "$T/f2.gguf" -i "$T/none.jpg" --task ocr
expect task_truncated_image 1 "truncated" "$FVL" task -m "$T/f2.gguf" -i "$T/cut.jpg" --task ocr
"$QUANT" convert "$CK" -o "$T/nodec.gguf" --no-florence-decoder --quiet
expect task_without_decoder 1 "no Florence-2 decoder" "$FVL" task -m "$T/nodec.gguf" -i "$IMG" --task ocr
expect run_without_decoder_still_answers 0 '"ids": [' "$FVL" run -m "$T/nodec.gguf" -i "$IMG" -p hi -n 2 --json

# ---- fvl camera (no camera here: frame replay, and the missing-device paths) -------------------------
out=$("$FVL" camera -m "$M" --frames "$DATA/images" -p "What is this?" -n 4 --seed 1 2>&1); st=$?
lines=$(grep -ac '^{"ts": [0-9.]*, "frame": [0-9]*, "text": ".*", "finish": "length", "ms": [0-9]*}$' <<<"$out")
if [ $st = 0 ] && [ "$lines" = 3 ]; then echo "ok   camera_frames_replay_prints_json_lines"; pass=$((pass + 1))
else echo "FAIL camera_frames_replay_prints_json_lines (exit $st, $lines lines)"; echo "$out" | sed 's/^/     | /'; fail=$((fail + 1)); fi
expect camera_max_frames 0 '"frame": 0' "$FVL" camera -m "$M" --frames "$DATA/images" -p "x" -n 2 --max-frames 1
expect camera_missing_device 1 "no such camera" "$FVL" camera -m "$M" --device /dev/video-none -p x
expect camera_needs_a_source 2 "which camera" "$FVL" camera -m "$M" -p x
expect camera_task_unknown 2 "unknown task 'ocr2'" "$FVL" camera -m "$M" --device /dev/video0 --task ocr2
expect camera_task_or_question 2 "not both" "$FVL" camera -m "$M" --device /dev/video0 --task ocr -p x
out=$("$FVL" camera -m "$T/f2.gguf" --frames "$DATA/images" --task od -n 6 2>&1); st=$?
lines=$(grep -ac '^{"ts": [0-9.]*, "frame": [0-9]*, "task": "<OD>", "text": ".*", "ids": \[0, .*, 2\], "bboxes": \[.*\], "labels": \[.*\], "ms": [0-9]*}$' <<<"$out")
if [ $st = 0 ] && [ "$lines" = 3 ]; then echo "ok   camera_task_prints_json_lines"; pass=$((pass + 1))
else echo "FAIL camera_task_prints_json_lines (exit $st, $lines lines)"; echo "$out" | sed 's/^/     | /'; fail=$((fail + 1)); fi
expect camera_bad_every 2 "--every wants seconds" "$FVL" camera -m "$M" --device /dev/video0 -p x --every soon
expect camera_bad_size 2 "--size wants WxH" "$FVL" camera -m "$M" --device /dev/video0 -p x --size 640
mkdir -p "$T/empty"
expect camera_empty_frames_dir 1 "holds no JPEG" "$FVL" camera -m "$M" --frames "$T/empty" -p x
"$FVL" camera -m "$M" --device /dev/video-none --wait-for-device -p x >"$T/cam.out" 2>&1 &
pid=$!; sleep 1; kill -INT $pid; t0=$SECONDS; wait $pid; st=$?
if [ $st = 0 ] && [ $((SECONDS - t0)) -le 3 ] && grep -q "retrying" "$T/cam.out"; then
  echo "ok   camera_waits_for_device_and_stops_on_sigint"; pass=$((pass + 1))
else echo "FAIL camera_waits_for_device_and_stops_on_sigint (exit $st)"; sed 's/^/     | /' "$T/cam.out"; fail=$((fail + 1)); fi

# ---- EXIF orientation: off by default (as the reference), --exif-transpose as PIL's exif_transpose
same_out() { # NAME CMD_A -- CMD_B: both exit 0 and print the same
  local name=$1; shift; local a=() b=()
  while [ "$1" != -- ]; do a+=("$1"); shift; done; shift; b=("$@")
  local oa ob; oa=$("${a[@]}" 2>/dev/null) && ob=$("${b[@]}" 2>/dev/null)
  if [ $? = 0 ] && [ -n "$oa" ] && [ "$oa" = "$ob" ]; then echo "ok   $name"; pass=$((pass + 1))
  else echo "FAIL $name"; echo "     | $oa"; echo "     | $ob"; fail=$((fail + 1)); fi
}
EX="$DATA/images/exif"
same_out run_exif_transpose_equals_upright "$FVL" run -m "$M" -i "$EX/o6.jpg" --exif-transpose -p x -n 4 -- \
  "$FVL" run -m "$M" -i "$EX/o6-upright.ppm" -p x -n 4
same_out run_default_ignores_exif "$FVL" run -m "$M" -i "$EX/o6.jpg" -p x -n 4 -- \
  "$FVL" run -m "$M" -i "$EX/o6-stored.ppm" -p x -n 4
same_out task_exif_transpose_equals_upright "$FVL" task -m "$T/f2.gguf" -i "$EX/o8.jpg" --exif-transpose --task ocr --beams 1 -n 8 -- \
  "$FVL" task -m "$T/f2.gguf" -i "$EX/o8-upright.ppm" --task ocr --beams 1 -n 8

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
