#!/usr/bin/env bash
# demo.sh — the README's first command ends here: shows what this build of fvl does today.
# Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: tools/demo.sh BUILD_DIR}
out=build/demo
mkdir -p "$out"
echo "== fvl $("$B/fvl" version | cut -d' ' -f2): the CPU and the kernel variant fvl picks"
"$B/fvl" cpu
echo
echo "== a model file written by fvl's GGUF writer, read back by 'fvl info'"
"$B/tests/run" --write-gguf-seeds "$out" >/dev/null
"$B/fvl" info "$out/writer-0.gguf"
echo
echo "The inference pipeline (fvl-quant convert, fvl run) is not built yet; see README.md."
