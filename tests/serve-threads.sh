#!/usr/bin/env bash
# serve-threads.sh — fvl serve's threads under ThreadSanitizer (make test-tsan): 8 concurrent
# clients on 3 sessions (half streaming) get the answers they get one at a time, a client that
# leaves mid-stream is cancelled, and SIGTERM with requests in flight stops cleanly; the server's
# log must hold no ThreadSanitizer report. Text-only questions (the vision side under TSan takes
# minutes; its threads are tested in the runner's thread tests).
# Usage: tests/serve-threads.sh BUILD_DIR (a SAN=tsan build)   Ends with "N passed, N failed".
set -u
B=${1:?usage: tests/serve-threads.sh BUILD_DIR}
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
"$B/fvl-quant" convert "${FVL_TEST_DATA:-tests/data}/fvl-tiny-phi3/checkpoint" -o "$T/m.gguf" --quiet ||
  { bad convert; echo "$pass passed, $fail failed"; exit 1; }
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$B/fvl" serve -m "$T/m.gguf" --port 0 \
  --parallel 3 --max-tokens 400 >"$T/log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/log")
  [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { bad server_starts "$(cat "$T/log")"; echo "$pass passed, $fail failed"; exit 1; }
url="http://127.0.0.1:$port/v1/chat/completions"
body() { printf '{"messages": [{"role": "user", "content": "Question number %s?"}], "max_tokens": 16, "stream": %s}' "$1" "$2"; }
text() { /usr/bin/python3 -c '
import json, sys
raw = open(sys.argv[1]).read()
if raw.startswith("data: "):
    ev = [json.loads(l[6:]) for l in raw.split("\n") if l.startswith("data: {")]
    print("".join(c["choices"][0]["delta"].get("content", "") for c in ev if c["choices"]))
else:
    print(json.loads(raw)["choices"][0]["message"]["content"])' "$1"; }
for i in 1 2 3 4 5 6 7 8; do curl -s "$url" -d "$(body "$i" false)" >"$T/serial$i"; done
for i in 1 2 3 4 5 6 7 8; do
  curl -sN "$url" -d "$(body "$i" "$([ $((i % 2)) = 0 ] && echo true || echo false)")" >"$T/par$i" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
same=0
for i in 1 2 3 4 5 6 7 8; do [ "$(text "$T/par$i")" = "$(text "$T/serial$i")" ] && same=$((same + 1)); done
[ $same = 8 ] && ok tsan_8_concurrent_equal_serial || bad tsan_8_concurrent_equal_serial "$same of 8"
curl -sN "$url" -d '{"messages": [{"role": "user", "content": "A long one."}], "max_tokens": 400, "stream": true}' >/dev/null &
c=$!; sleep 0.5; kill $c 2>/dev/null; wait $c 2>/dev/null
for _ in $(seq 100); do
  n=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^fvl_cancelled_total //p'); [ "$n" = 1 ] && break; sleep 0.1
done
[ "$n" = 1 ] && ok tsan_client_leaving_is_cancelled || bad tsan_client_leaving_is_cancelled "cancelled=$n"
for i in 1 2 3 4 5 6; do curl -s "$url" -d "$(body "$i" true)" >/dev/null & done
sleep 0.3
kill -TERM "$pid"; st=0; wait "$pid" || st=$?; pid=
[ "$st" = 0 ] && ok tsan_sigterm_under_load_exits_0 || bad tsan_sigterm_under_load_exits_0 "exit $st"
if grep -q "ThreadSanitizer" "$T/log"; then bad tsan_no_reports "$(grep -A12 ThreadSanitizer "$T/log" | head -30)"
else ok tsan_no_reports; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
