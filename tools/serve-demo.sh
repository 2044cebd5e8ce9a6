#!/usr/bin/env bash
# serve-demo.sh — `make serve-demo`: converts the bundled tiny Florence-VL checkpoint (if not done
# yet) and runs fvl serve on it in the foreground, on 127.0.0.1:${PORT:-8080}. Ctrl-C stops it.
# Usage: tools/serve-demo.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: tools/serve-demo.sh BUILD_DIR}
port=${PORT:-8080}
model=build/demo/fvl-tiny-phi3-q8_0.gguf
mkdir -p build/demo
[ -f "$model" ] || "$B/fvl-quant" convert tests/data/fvl-tiny-phi3/checkpoint -o "$model" \
  --wtype q8_0 --vision-wtype q8_0 --quiet
cat <<MSG
== fvl serve on the bundled tiny model (RANDOM weights: the answers are gibberish). Ask it, from
   another terminal in this folder:

curl -s localhost:$port/v1/chat/completions -H 'Content-Type: application/json' -d '{"max_tokens": 24,
  "messages": [{"role": "user", "content": [{"type": "text", "text": "What is on the table?"},
  {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,'"\$(base64 -w0 tests/data/images/coffee.jpg)"'"}}]}]}'

MSG
exec "$B/fvl" serve -m "$model" --port "$port" --alias fvl-tiny-phi3
