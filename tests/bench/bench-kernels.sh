#!/usr/bin/env bash
# bench-kernels.sh — `make bench-kernels`: instruction counts of the GEMV/GEMM kernels under
# qemu-aarch64 (deterministic; cortex-a76 for dotprod, cortex-a72 for baseline, max for i8mm),
# then native timings on this machine. Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARM=build/aarch64/bench-kernels
HOST=build/$(uname -m)/bench-kernels
PLUGIN=build/icount/libicount.so
LIBS=$(pwd)/build/sysroot-arm64/usr/lib/aarch64-linux-gnu

# insns CPU ISA OP K N M REPS: instructions of REPS calls (total of a run minus a run with 1 call
# fewer, divided by the difference), i.e. per call.
count() {
  local cpu=$1 isa=$2 op=$3 k=$4 n=$5 m=$6 reps=$7 a b
  a=$(qemu-aarch64 -cpu "$cpu" -E LD_LIBRARY_PATH="$LIBS" -plugin "$PLUGIN" -d plugin \
      "$ARM" run "$op" "$k" "$n" "$m" 1 "$isa" 2>&1 | sed -n 's/.*icount: total=\([0-9]*\).*/\1/p')
  b=$(qemu-aarch64 -cpu "$cpu" -E LD_LIBRARY_PATH="$LIBS" -plugin "$PLUGIN" -d plugin \
      "$ARM" run "$op" "$k" "$n" "$m" "$((1 + reps))" "$isa" 2>&1 | sed -n 's/.*icount: total=\([0-9]*\).*/\1/p')
  echo $(( (b - a) / reps ))
}

echo "## Instructions under qemu-aarch64 (one thread)"
echo
echo "GEMV (M = 1): instructions per 32-weight block per output row."
echo
echo "| op | K x N | cortex-a72 baseline | cortex-a76 dotprod | max i8mm |"
echo "|---|---|---|---|---|"
for shape in "3072 9216" "8192 3072" "4096 14336"; do
  set -- $shape
  for op in q4_0 q8_0; do
    row="| $op | $1 x $2 |"
    for cfg in "cortex-a72 baseline" "cortex-a76 dotprod" "max i8mm"; do
      set -- $shape $cfg
      insn=$(count "$3" "$4" "$op" "$1" "$2" 1 2)
      row="$row $(awk -v i="$insn" -v k="$1" -v n="$2" 'BEGIN { printf "%.2f", i / (n * k / 32) }') |"
    done
    echo "$row"
  done
done
echo
echo "GEMM (M = 577, N = 256 rows of each shape): multiply-accumulates per instruction."
echo
echo "| op | K | cortex-a72 baseline | cortex-a76 dotprod | max i8mm |"
echo "|---|---|---|---|---|"
for k in 3072 8192; do
  for op in q4_0 q8_0; do
    row="| $op | $k |"
    for cfg in "cortex-a72 baseline" "cortex-a76 dotprod" "max i8mm"; do
      set -- $cfg
      insn=$(count "$1" "$2" "$op" "$k" 256 577 1)
      row="$row $(awk -v i="$insn" -v k="$k" 'BEGIN { printf "%.2f", 577 * 256 * k / i }') |"
    done
    echo "$row"
  done
done
echo
echo "f16 weights (M = 577 and M = 1, K = 1024, N = 256): multiply-accumulates per instruction,"
echo "weights in 16-column panels; f32 arithmetic on cortex-a72, fp16 arithmetic on cortex-a76 and max."
echo
echo "| op | M | cortex-a72 baseline | cortex-a76 dotprod (+fp16) | max i8mm (+fp16) |"
echo "|---|---|---|---|---|"
for m in 577 1; do
  row="| f16 | $m |"
  for cfg in "cortex-a72 baseline" "cortex-a76 dotprod" "max i8mm"; do
    set -- $cfg
    insn=$(count "$1" "$2" f16 1024 256 "$m" 1)
    row="$row $(awk -v i="$insn" -v m="$m" 'BEGIN { printf "%.2f", m * 256 * 1024 / i }') |"
  done
  echo "$row"
done
echo
echo "XNNPACK's fully-connected operator on the same shape (M = 577, K = 1024, N = 256): f32 on"
echo "cortex-a72 and cortex-a76, f16 (f16 activations and accumulation) on cortex-a76."
echo
echo "| op | cortex-a72 | cortex-a76 |"
echo "|---|---|---|"
for op in xnn-f32 xnn-f16; do
  row="| $op |"
  for cfg in "cortex-a72 baseline" "cortex-a76 dotprod"; do
    set -- $cfg
    if [ "$op" = xnn-f16 ] && [ "$1" = cortex-a72 ]; then row="$row - |"; continue; fi
    insn=$(count "$1" "$2" "$op" 1024 256 577 1)
    row="$row $(awk -v i="$insn" 'BEGIN { printf "%.2f", 577 * 256 * 1024 / i }') |"
  done
  echo "$row"
done
echo
echo "## Native ($(uname -m); on x86-64 the best native variant (avx2, avxvnni, avx512vnni), SIMDe for the rest)"
echo
"$HOST" native "${THREADS:-2}"
