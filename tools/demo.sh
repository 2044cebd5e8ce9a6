#!/usr/bin/env bash
# demo.sh — the README's first command ends here: converts the bundled tiny Florence-VL checkpoint
# and shows the model file. Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: tools/demo.sh BUILD_DIR}
out=build/demo
mkdir -p "$out"
echo "== fvl $("$B/fvl" version | cut -d' ' -f2): the CPU and the kernel variant fvl picks"
"$B/fvl" cpu
echo
echo "== fvl-quant convert: the bundled tiny Florence-VL checkpoint (RANDOM weights, real layout)"
"$B/fvl-quant" convert tests/data/fvl-tiny-phi3/checkpoint -o "$out/fvl-tiny-phi3-q4_0.gguf" \
  --wtype q4_0 --vision-wtype q8_0
echo
echo "== fvl info (first lines and a few tensors)"
"$B/fvl" info "$out/fvl-tiny-phi3-q4_0.gguf" | sed -n '1,12p'
echo "  ..."
"$B/fvl" info "$out/fvl-tiny-phi3-q4_0.gguf" | grep -E '^  [0-9]+ +(v\.conv\.0|fe\.blk\.0\.attn_q|mm\.0|blk\.0\.attn_qkv|output)\.weight'
"$B/fvl" info "$out/fvl-tiny-phi3-q4_0.gguf" | tail -1
echo
echo "The demo weights are random: the file is real, the model is not. Inference (fvl run) is"
echo "not built yet; README.md says how to convert real Florence-VL and Florence-2 checkpoints."
