#!/usr/bin/env bash
# cli.sh — end-to-end tests of the command-line programs: exit codes, messages, no partial output.
# Usage: tests/cli.sh BUILD_DIR     Ends with "N passed, N failed".
set -u
B=${1:?usage: tests/cli.sh BUILD_DIR}
FVL="$B/fvl"
QUANT="$B/fvl-quant"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

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
  if ! grep -qF -- "$text" <<<"$out"; then
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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
