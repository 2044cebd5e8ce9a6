#!/usr/bin/env bash
# bench-vision.sh — `make bench-vision`: the vision side of a synthetic Florence-2-base (random
# weights, real shapes) on this machine at 768x768, f32 / f16 / q8_0 vision weights, each part at 1
# and at all threads (fvl bench --vision); PyTorch's DaViT + _encode_image on the very same f32
# weights and pixels, alternating with fvl (tests/bench/torch-vision.py, when Debian's
# python3-torch is installed; it first checks it computes what fvl computes); then instructions
# per image under qemu-aarch64 cortex-a76 at 192x192 (difference of a 2-image and a 1-image run,
# so loading cancels). Prints markdown; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
HOST=build/$(uname -m)
ARM=build/aarch64
D=build/bench
PLUGIN=build/icount/libicount.so
LIBS=$(pwd)/build/sysroot-arm64/usr/lib/aarch64-linux-gnu
ROUNDS=${ROUNDS:-2}
mkdir -p "$D"
for t in f32 f16 q8_0; do
  [ -f "$D/f2b-$t.gguf" ] || "$HOST/fvl-quant" synth --arch florence2-base --wtype "$t" \
    --vision-wtype "$t" -o "$D/f2b-$t.gguf" 2>/dev/null
done

whole() { # the "whole vision side" row's ms at 1 and N threads, and the DaViT + _encode_image part
  "$HOST/fvl" bench -m "$1" --vision | awk -F'|' '
    /DaViT stage|_encode_image/ {d1 += $4; dn += $5}
    /whole vision side/ {w1 = $4; wn = $5}
    END {printf "%.0f %.0f %.0f %.0f\n", d1, dn, w1 + 0, wn + 0}'
}

echo "## Vision side on this host (Florence-2-base, 768x768, $(nproc) CPUs)"
echo
for t in f32 f16 q8_0; do
  echo "### $t vision weights"
  "$HOST/fvl" bench -m "$D/f2b-$t.gguf" --vision | grep '^|' | head -9
  echo
done

echo "### fvl and PyTorch alternating ($ROUNDS rounds; DaViT + _encode_image, f32 weights)"
echo
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
  echo "(PyTorch peer skipped: apt-get install python3-torch libopenblas0-pthread)"
else
  mkdir -p "$D/dump"
  "$HOST/fvl" task -m "$D/f2b-f32.gguf" -i tests/data/images/coffee.jpg --task ocr -n 1 \
    --dump "$D/dump" >/dev/null
  echo "| round | fvl 1 thread ms | fvl $(nproc) threads ms | PyTorch 1 thread ms | PyTorch $(nproc) threads ms |"
  echo "|---|---|---|---|---|"
  for r in $(seq "$ROUNDS"); do
    read -r f1 fn _ _ <<<"$(whole "$D/f2b-f32.gguf")"
    out=$($PY tests/bench/torch-vision.py "$D/f2b-f32.gguf" "$D/dump" --threads "1,$(nproc)" --runs 1)
    p1=$(echo "$out" | sed -n 's/.*threads 1, DaViT + _encode_image \([0-9.]*\) ms.*/\1/p')
    pn=$(echo "$out" | sed -n "s/.*threads $(nproc), DaViT + _encode_image \([0-9.]*\) ms.*/\1/p")
    echo "| $r | $f1 | $fn | $p1 | $pn |"
  done
  echo
  echo "$out" | grep cosine
fi

echo
echo "## Instructions per image under qemu-aarch64 cortex-a76 (one thread, 192x192)"
echo
count() { # MODEL IMAGES: the plugin's line for fvl bench --vision with IMAGES images
  qemu-aarch64 -cpu cortex-a76 -E LD_LIBRARY_PATH="$LIBS" -plugin "$PLUGIN" -d plugin \
    "$ARM/fvl" bench -m "$1" --vision -t 1 -r "$2" 2>&1 >/dev/null | grep 'icount: total='
}
total() { sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$1"; }
echo "| vision weights | instructions per image | GFLOP per image |"
echo "|---|---|---|"
declare -A line
for t in f16 q8_0; do
  m="$D/f2b192-$t.gguf"
  [ -f "$m" ] || "$HOST/fvl-quant" synth --arch florence2-base --wtype "$t" --vision-wtype "$t" \
    --image-size 192 -o "$m" 2>/dev/null
  a=$(count "$m" 1) b=$(count "$m" 2)
  line[$t]=$b
  gf=$("$HOST/fvl" bench -m "$m" --vision -t 1 | awk -F'|' '/whole vision side/ {print $3 + 0}')
  echo "| $t | $(($(total "$b") - $(total "$a"))) | $gf |"
done

# By part: fvl bench marks each part's end (fvl_stage_mark, runtime/common.h) and the plugin sums
# the instructions between marks (mark 100 + 1 + part; / hits = per image).
echo
echo "### By part (multiply-accumulates from the shapes, per image)"
echo
echo "| part | f16: M instructions | f16: MAC / instruction | q8_0: M instructions | q8_0: MAC / instruction |"
echo "|---|---|---|---|---|"
parts=$("$HOST/fvl" bench -m "$D/f2b192-f16.gguf" --vision -t 1 |
  awk -F'|' '/^\| (DaViT|_encode|BART|fusion)/ {gsub(/^ +| +$/, "", $2); print $2 "|" $3 + 0}')
i=0
while IFS='|' read -r label gflop; do
  row="| $label"
  for t in f16 q8_0; do
    n=$(grep -o "mark$((101 + i))=[0-9]*/[0-9]*" <<<"${line[$t]}" | cut -d= -f2)
    if [ -n "$n" ]; then
      row+=$(awk -v s="${n%/*}" -v k="${n#*/}" -v g="$gflop" \
        'BEGIN { printf " | %.1f | %.2f", s / k / 1e6, g * 1e9 / 2 / (s / k) }')
    else
      row+=" | - | -"
    fi
  done
  echo "$row |"
  i=$((i + 1))
done <<<"$parts"
