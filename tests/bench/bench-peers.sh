#!/usr/bin/env bash
# bench-peers.sh — `make bench-peers`: fvl next to llama.cpp on the very same LLM weights.
#
# llama.cpp is built from the source the npm package node-llama-cpp@3.21.1 bundles
# (llama/gitRelease.bundle, a git bundle): for this host, and for aarch64 once per qemu CPU model
# with the cross compilers. It is a benchmark peer only: built under $PEERS_DIR (build/peers), never
# linked into or copied into fvl. The models are fvl's synthetic Florence-VL-3B (`fvl-quant synth`,
# random weights, the real shapes) and their LLM written for llama.cpp by `fvl-quant export-llm`
# (the same tensors, byte for byte).
#
#   host: `fvl bench --llm` and `llama-bench`, alternating, ROUNDS rounds, THREADS threads, the
#         full 32 layers: prefill of PROMPT tokens and decode of GEN tokens, tokens/s.
#   qemu: instructions under qemu-aarch64 (tools/qemu-icount), one thread, per layer: the
#         difference of a 4-layer and a 2-layer slice (LAYERS), so loading, the output layer and
#         llama.cpp's skipping of the last layer's unused rows cancel; per prompt token (a
#         PROMPT-token prefill minus a 1-token one) and per decoded token (GEN + 1 tokens minus 1).
#         Prefill is counted on PREFILL_CPUS (the A72 takes ~20 min per run, so not by default).
#
# Prints markdown; asserts nothing. Environment: ROUNDS (3), THREADS (nproc), PROMPT (577), GEN
# (16), WTYPES ("q4_0 q8_0"), CPUS ("cortex-a72 cortex-a76 max"), PREFILL_CPUS ("cortex-a76 max"),
# LAYERS ("2 4"), STAGES ("host qemu"), JOBS (nproc: qemu runs at once), PEERS_DIR (build/peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
HOST=build/$(uname -m)
ARM=build/aarch64
D=build/bench
PLUGIN=build/icount/libicount.so
LIBS=$(pwd)/build/sysroot-arm64/usr/lib/aarch64-linux-gnu
P=${PEERS_DIR:-build/peers}
PACKAGE=node-llama-cpp@3.21.1
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
PROMPT=${PROMPT:-577}
GEN=${GEN:-16}
WTYPES=${WTYPES:-q4_0 q8_0}
CPUS=${CPUS:-cortex-a72 cortex-a76 max}
PREFILL_CPUS=${PREFILL_CPUS:-cortex-a76 max}
LAYERS=${LAYERS:-2 4}
STAGES=${STAGES:-host qemu}
JOBS=${JOBS:-$(nproc)}
read -r L_LO L_HI <<<"$LAYERS"
mkdir -p "$P" "$D"
say() { echo "bench-peers: $*" >&2; }

# ---- llama.cpp from the npm package's bundle ---------------------------------------------------
src=$P/llama.cpp
if [ ! -d "$src/.git" ]; then
  say "fetching $PACKAGE (npm) for its llama.cpp bundle"
  tgz=$(cd "$P" && npm pack --silent "$PACKAGE")
  tar -xzf "$P/$tgz" -C "$P" package/llama/gitRelease.bundle
  git clone -q "$P/package/llama/gitRelease.bundle" "$src.tmp" && mv "$src.tmp" "$src"
fi
LLAMA_COMMIT=$(git -C "$src" rev-parse --short=12 HEAD)

build_llama() { # NAME CMAKE-ARGS...: $src/build-NAME/bin/llama-bench
  local b=$src/build-$1
  shift
  [ -x "$b/bin/llama-bench" ] && return
  say "building llama.cpp $LLAMA_COMMIT in $b (log: $b.log)"
  cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF "$@" >"$b.log" 2>&1
  cmake --build "$b" -j"$(nproc)" --target llama-bench >>"$b.log" 2>&1 ||
    { tail -20 "$b.log" >&2; exit 1; }
}

arm_march() { # the -march llama.cpp is built with for a qemu CPU model
  case $1 in
  cortex-a72) echo armv8-a ;;
  cortex-a76) echo armv8.2-a+dotprod+fp16 ;;
  max) echo armv8.6-a+dotprod+fp16+i8mm ;;
  *) say "no -march known for $1"; exit 2 ;;
  esac
}

# ---- models: fvl's synthetic 3B and its export ------------------------------------------------
model() { # WTYPE LAYERS: prints the fvl file; its llama.cpp export is beside it (.llama.gguf)
  local f=$D/vl3b-$1-L$2.gguf
  if [ ! -f "$f" ]; then
    say "fvl-quant synth florence-vl-3b --wtype $1 --layers $2"
    "$HOST/fvl-quant" synth --arch florence-vl-3b --wtype "$1" --layers "$2" \
      --no-florence-decoder -o "$f" --quiet
  fi
  [ -f "${f%.gguf}.llama.gguf" ] ||
    "$HOST/fvl-quant" export-llm "$f" -o "${f%.gguf}.llama.gguf" --quiet
  echo "$f"
}

# ---- host: tokens/s, alternating ---------------------------------------------------------------
fvl_tps() { # MODEL: "prefill-tok/s decode-tok/s"
  "$HOST/fvl" bench -m "$1" --llm -t "$THREADS" -p "$PROMPT" -n "$GEN" |
    sed -n 's/.*prefill [0-9]* tok: \([0-9.]*\) tok\/s | decode: \([0-9.]*\) tok\/s.*/\1 \2/p' | head -1
}
llama_tps() { # MODEL: "prefill-tok/s decode-tok/s" (llama-bench's pp and tg tests, one run each)
  "$src/build-host/bin/llama-bench" -m "$1" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r 1 -o csv \
    2>/dev/null | awk -F, '
      NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i } next }
      { gsub(/"/, "") }
      $col["n_prompt"] > 0 && $col["n_gen"] == 0 { pp = $col["avg_ts"] }
      $col["n_gen"] > 0 && $col["n_prompt"] == 0 { tg = $col["avg_ts"] }
      END { printf "%.1f %.2f\n", pp, tg }'
}

host_stage() {
  local host_flags=()
  # AMX tiles need the kernel's permission, which virtual machines may refuse (SIGILL on the
  # first tile instruction); fvl does not use AMX either, so both run AVX-512 at most.
  [ "$(uname -m)" = x86_64 ] &&
    host_flags=(-DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
      -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
  build_llama host -DGGML_NATIVE=ON "${host_flags[@]}"
  echo "## This host: Florence-VL-3B LLM (32 layers), $THREADS threads, prefill $PROMPT, decode $GEN"
  echo
  echo "fvl kernels: $("$HOST/fvl" cpu 2>/dev/null | sed -n "s/^kernel variant: *//p" | head -1)," \
    "llama.cpp $LLAMA_COMMIT (node-llama-cpp 3.21.1), GGML_NATIVE"
  echo
  echo "| weights | round | fvl prefill tok/s | llama.cpp prefill tok/s | fvl decode tok/s | llama.cpp decode tok/s |"
  echo "|---|---|---|---|---|---|"
  for w in $WTYPES; do
    local f x
    f=$(model "$w" 32)
    x=${f%.gguf}.llama.gguf
    for r in $(seq "$ROUNDS"); do
      read -r fp fd <<<"$(fvl_tps "$f")"
      read -r lp ld <<<"$(llama_tps "$x")"
      echo "| $w | $r | $fp | $lp | $fd | $ld |"
    done
  done
  echo
}

# ---- qemu: instructions per layer --------------------------------------------------------------
icount_job() { # OUT CPU PEER MODEL ARGS...: writes the instruction total to OUT
  local out=$1 cpu=$2 peer=$3 m=$4
  shift 4
  [ -s "$out" ] && return
  local cmd
  if [ "$peer" = fvl ]; then
    cmd=(qemu-aarch64 -cpu "$cpu" -E LD_LIBRARY_PATH="$LIBS" -plugin "$PLUGIN" -d plugin
      "$ARM/fvl" bench -m "$m" --llm -t 1 "$@")
  else
    cmd=(qemu-aarch64 -cpu "$cpu" -plugin "$PLUGIN" -d plugin
      "$src/build-$cpu/bin/llama-bench" -m "${m%.gguf}.llama.gguf" -t 1 -r 1 --no-warmup "$@")
  fi
  "${cmd[@]}" 2>&1 >/dev/null | sed -n 's/.*icount: total=\([0-9]*\).*/\1/p' >"$out.tmp"
  [ -s "$out.tmp" ] && mv "$out.tmp" "$out" || { say "no count from: ${cmd[*]}"; rm -f "$out.tmp"; }
}
export -f icount_job say
export LIBS PLUGIN ARM src

qemu_stage() {
  command -v qemu-aarch64 >/dev/null || { say "qemu-aarch64 missing: qemu stage skipped"; return; }
  local C=$D/icount/p$PROMPT-g$GEN jobs=$D/icount/p$PROMPT-g$GEN/jobs
  mkdir -p "$C"
  : >"$jobs"
  for cpu in $CPUS; do
    build_llama "$cpu" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
      -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
      -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH="$(arm_march "$cpu")" -DGGML_OPENMP=OFF \
      -DCMAKE_EXE_LINKER_FLAGS=-static
    for w in $WTYPES; do
      for l in $L_LO $L_HI; do
        local m k=$C/$cpu-$w-L$l
        m=$(model "$w" "$l")
        # decode: GEN + 1 tokens minus 1 (both after a 1-token prompt for fvl)
        echo "icount_job $k-fvl-dec $cpu fvl $m -p 1 -n $((GEN + 1))" >>"$jobs"
        echo "icount_job $k-fvl-base $cpu fvl $m -p 1 -n 1" >>"$jobs"
        echo "icount_job $k-llama-dec $cpu llama $m -p 0 -n $((GEN + 1))" >>"$jobs"
        echo "icount_job $k-llama-dec1 $cpu llama $m -p 0 -n 1" >>"$jobs"
        case " $PREFILL_CPUS " in *" $cpu "*)
          echo "icount_job $k-fvl-pre $cpu fvl $m -p $PROMPT -n 1" >>"$jobs"
          echo "icount_job $k-llama-pre $cpu llama $m -p $PROMPT -n 0" >>"$jobs"
          echo "icount_job $k-llama-pre1 $cpu llama $m -p 1 -n 0" >>"$jobs" ;;
        esac
      done
    done
  done
  # the prefills (the longest) first, so the slots stay busy to the end
  say "$(wc -l <"$jobs") qemu runs, $JOBS at a time (counts kept in $C)"
  { grep -- '-pre ' "$jobs" || true; grep -v -- '-pre ' "$jobs" || true; } >"$jobs.order"
  xargs -P "$JOBS" -I{} bash -c {} <"$jobs.order"

  # per layer: (count at L_HI - count at L_LO) / (L_HI - L_LO)
  per_layer() { # CPU W A B N: ((A - B) at L_HI - (A - B) at L_LO) / layers / N, in M
    local f=$C/$1-$2
    local a_hi b_hi a_lo b_lo
    a_hi=$(cat "$f-L$L_HI-$3" 2>/dev/null) b_hi=$(cat "$f-L$L_HI-$4" 2>/dev/null)
    a_lo=$(cat "$f-L$L_LO-$3" 2>/dev/null) b_lo=$(cat "$f-L$L_LO-$4" 2>/dev/null)
    [ -n "$a_hi" ] && [ -n "$b_hi" ] && [ -n "$a_lo" ] && [ -n "$b_lo" ] || { echo -; return; }
    awk -v a="$a_hi" -v b="$b_hi" -v c="$a_lo" -v d="$b_lo" -v l=$((L_HI - L_LO)) -v n="$5" \
      'BEGIN { printf "%.2f", ((a - b) - (c - d)) / l / n / 1e6 }'
  }
  ratio() { # A B [DIGITS]
    awk -v a="$1" -v b="$2" -v d="${3:-2}" \
      'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.*f", d, a / b }'
  }
  # multiply-accumulates per layer and token of the 3B linears: 3072 x (9216 + 3072 + 16384 + 8192)
  local macs_m=113.246208
  echo "## qemu-aarch64, one thread: instructions per layer of Florence-VL-3B's LLM"
  echo
  echo "Per layer = (a $L_HI-layer slice - a $L_LO-layer slice) / $((L_HI - L_LO)). llama.cpp $LLAMA_COMMIT" \
    "built per CPU model (-march: a72 $(arm_march cortex-a72), a76 $(arm_march cortex-a76)," \
    "max $(arm_march max)); fvl one aarch64 build, kernels chosen at run time."
  echo
  echo "| CPU | weights | decode: fvl M instr/token/layer | llama.cpp | fvl / llama.cpp | prefill $PROMPT: fvl M instr/token/layer | llama.cpp | fvl / llama.cpp | fvl instr/MAC | llama.cpp instr/MAC |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for cpu in $CPUS; do
    for w in $WTYPES; do
      local fd ld fp lp
      fd=$(per_layer "$cpu" "$w" fvl-dec fvl-base "$GEN")
      ld=$(per_layer "$cpu" "$w" llama-dec llama-dec1 "$GEN")
      fp=$(per_layer "$cpu" "$w" fvl-pre fvl-base $((PROMPT - 1)))
      lp=$(per_layer "$cpu" "$w" llama-pre llama-pre1 $((PROMPT - 1)))
      echo "| $cpu | $w | $fd | $ld | $(ratio "$fd" "$ld") | $fp | $lp | $(ratio "$fp" "$lp")" \
        "| $(ratio "$fp" "$macs_m" 3) | $(ratio "$lp" "$macs_m" 3) |"
    done
  done
  echo
}

for s in $STAGES; do
  case $s in
  host) host_stage ;;
  qemu) qemu_stage ;;
  *) say "unknown stage $s (host, qemu)"; exit 2 ;;
  esac
done
