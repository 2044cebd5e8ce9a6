#!/usr/bin/env bash
# demo.sh — the README's first command ends here: converts the bundled tiny Florence-VL checkpoint
# and answers a question about a bundled image with it. Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: tools/demo.sh BUILD_DIR}
out=build/demo
mkdir -p "$out"
echo "== fvl $("$B/fvl" version | cut -d' ' -f2) on this CPU"
"$B/fvl" cpu | sed -n '1p;$p'
echo
echo "== fvl-quant convert: the bundled tiny Florence-VL checkpoint (the real release layout,"
echo "   Phi-3 flavour, RANDOM weights) to a q8_0 model file"
"$B/fvl-quant" convert tests/data/fvl-tiny-phi3/checkpoint -o "$out/fvl-tiny-phi3-q8_0.gguf" \
  --wtype q8_0 --vision-wtype q8_0
echo
echo "== fvl run: an image and a question in, a streamed answer out"
echo "   fvl run -m $out/fvl-tiny-phi3-q8_0.gguf -i tests/data/images/coffee.jpg -p \"What is on the table?\" -n 24"
"$B/fvl" run -m "$out/fvl-tiny-phi3-q8_0.gguf" -i tests/data/images/coffee.jpg \
  -p "What is on the table?" -n 24 --seed 1
echo
echo "The weights of the bundled model are random, so the answer is gibberish; the pipeline is real"
echo "(pixels, DaViT, three BART encoder passes, fusion, projector, LLM) and matches the reference"
echo "code on this model. For real answers convert a released checkpoint: see README.md."
