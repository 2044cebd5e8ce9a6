#!/usr/bin/env bash
# serve.sh — fvl serve end to end on loopback: curl for the protocol's edges (status codes, error
# bodies, limits, auth, the queue, cancellation, shutdown), the `openai` npm client (tests/serve/)
# for plain, streamed and image requests and 8 concurrent clients, all checked against what
# `fvl run` / `fvl task` answer on the fixture. Servers listen on free ports (--port 0).
# Usage: tests/serve.sh BUILD_DIR     Ends with "N passed, N failed, N skipped".
set -u
B=${1:?usage: tests/serve.sh BUILD_DIR}
FVL="$B/fvl"
QUANT="$B/fvl-quant"
DATA=${FVL_TEST_DATA:-tests/data}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0 skip=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "$(head -c 300 "$T/body" 2>/dev/null)"; fi; }
jq_() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

if ! command -v curl >/dev/null; then
  echo "skip serve: curl is not installed (make deps installs it)"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
"$QUANT" convert "$DATA/fvl-tiny-phi3/checkpoint" -o "$T/phi3.gguf" --quiet || { bad convert_phi3; exit 1; }
"$QUANT" convert "$DATA/florence2-tiny" -o "$T/f2.gguf" --quiet || { bad convert_f2; exit 1; }

# start NAME ARGS...: starts fvl serve on a free port; sets PORT (and URL) once it listens.
start() {
  local name=$1; shift
  "$FVL" serve --port 0 "$@" >"$T/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  eval "PID_$name=$pid"
  for _ in $(seq 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name.log")
    [ -n "$PORT" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PORT" ] || { bad "start_$name" "$(cat "$T/$name.log")"; return 1; }
  URL="http://127.0.0.1:$PORT"
}
# req METHOD PATH [curl args...]: the status into $CODE, the body into $T/body.
req() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$URL$p" "$@")
}
# chat_body FILE QUESTION [IMAGE [MIME]] [EXTRA_JSON]: a chat request with the image as a data URL.
chat_body() {
  local f=$1 q=$2 img=${3:-} mime=${4:-image/jpeg} extra=${5:-}
  if [ -n "$img" ]; then
    printf '{"model": "phi3", "max_tokens": 12, "temperature": 0%s, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:%s;base64,%s"}}, {"type": "text", "text": "%s"}]}]}' \
      "$extra" "$mime" "$(base64 -w0 "$img")" "$q" >"$f"
  else
    printf '{"model": "phi3", "max_tokens": 12, "temperature": 0%s, "messages": [{"role": "user", "content": "%s"}]}' "$extra" "$q" >"$f"
  fi
}
err_is() { [ "$CODE" = "$1" ] && [ "$(jq_ "$T/body" "d['error']['code']")" = "$2" ]; }
answer() { jq_ "$T/body" "d['choices'][0]['message']['content']"; }
run_text() { "$FVL" run -m "$T/phi3.gguf" -n 12 --json "$@" 2>/dev/null >"$T/run.json" && jq_ "$T/run.json" "d['text']"; }
MAUTH=()
metric() { curl -s "${MAUTH[@]}" "$URL/metrics" | sed -n "s/^$1 //p"; }

IMG="$DATA/images/coffee.jpg"
PNG="$DATA/images/png/rgb8.png"
start main -m "$T/phi3.gguf" --api-key sekrit --parallel 1 || exit 1
AUTH=(-H "Authorization: Bearer sekrit")
MAUTH=("${AUTH[@]}")

req GET /health
check health_answers_without_the_key test "$CODE" = 200
req GET /v1/models
check models_needs_the_key err_is 401 invalid_api_key
req GET /v1/models -H "Authorization: Bearer sekrit2"
check models_refuses_a_wrong_key err_is 401 invalid_api_key
req GET /v1/models "${AUTH[@]}"
check models_lists_the_file test "$CODE" = 200 -a "$(jq_ "$T/body" "d['data'][0]['id']")" = phi3
req GET /v1/nothing "${AUTH[@]}"
check unknown_route_is_404 err_is 404 not_found
req DELETE /v1/models "${AUTH[@]}"
check wrong_method_is_405 err_is 405 method_not_allowed

# answers equal fvl run's
chat_body "$T/q.json" "What is in the image?" "$IMG"
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/q.json"
want=$(run_text -i "$IMG" -p "What is in the image?")
check chat_with_image_equals_fvl_run test "$CODE" = 200 -a "$(answer)" = "$want" -a -n "$want"
check chat_reports_usage_and_finish test "$(jq_ "$T/body" "d['usage']['completion_tokens']")" = 12 \
  -a "$(jq_ "$T/body" "d['usage']['prompt_tokens']")" = "$(jq_ "$T/run.json" "d['n_prompt_tokens']")" \
  -a "$(jq_ "$T/body" "d['choices'][0]['finish_reason']")" = length
hits=$(metric fvl_image_cache_hits_total)
chat_body "$T/q2.json" "And the colours?" "$IMG"
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/q2.json"
want=$(run_text -i "$IMG" -p "And the colours?")
check follow_up_reuses_the_image test "$(answer)" = "$want" -a "$(metric fvl_image_cache_hits_total)" = $((hits + 1))
chat_body "$T/q3.json" "What is in the image?" "$PNG" image/png
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/q3.json"
want=$(run_text -i "$PNG" -p "What is in the image?")
check chat_with_png_equals_fvl_run test "$CODE" = 200 -a "$(answer)" = "$want"
chat_body "$T/q4.json" "Say hello."
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/q4.json"
want=$(run_text -p "Say hello.")
check chat_without_image_equals_fvl_run test "$CODE" = 200 -a "$(answer)" = "$want"
# a stop string: the answer is fvl run's cut before its first occurrence
/usr/bin/python3 - "$want" "$T/q5.json" <<'EOF'
import json, sys
want = sys.argv[1]
json.dump({"model": "phi3", "max_tokens": 12, "temperature": 0, "stop": ["zzzz", want[3:5]],
           "messages": [{"role": "user", "content": "Say hello."}]}, open(sys.argv[2], "w"))
open(sys.argv[2] + ".want", "w").write(want[:want.index(want[3:5])])
EOF
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/q5.json"
check stop_string_cuts_the_answer test "$(answer)" = "$(cat "$T/q5.json.want")" \
  -a "$(jq_ "$T/body" "d['choices'][0]['finish_reason']")" = stop
chat_body "$T/s.json" "What is in the image?" "$IMG" image/jpeg ', "stream": true, "stream_options": {"include_usage": true}'
curl -sN "${AUTH[@]}" "$URL/v1/chat/completions" -d @"$T/s.json" >"$T/sse"
want=$(run_text -i "$IMG" -p "What is in the image?")
got=$(/usr/bin/python3 - "$T/sse" <<'EOF'
import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert ev[-1] == "[DONE]", ev[-1]
ch = [json.loads(e) for e in ev[:-1]]
assert ch[0]["choices"][0]["delta"]["role"] == "assistant"
assert ch[-2]["choices"][0]["finish_reason"] == "length" and ch[-1]["usage"]["completion_tokens"] == 12
print("".join(c["choices"][0]["delta"].get("content", "") for c in ch if c["choices"]))
EOF
)
check stream_equals_fvl_run test -n "$want" -a "$got" = "$want"

# bad requests: 4xx with OpenAI's error body, and the server stays up
bad_req() {
  local name=$1 code=$2 ecode=$3 body=$4
  req POST /v1/chat/completions "${AUTH[@]}" --data-binary "$body"
  check "$name" err_is "$code" "$ecode"
}
bad_req malformed_json_is_400 400 invalid_json '{"messages": ['
bad_req non_object_is_400 400 invalid_json '[1, 2]'
bad_req binary_garbage_is_400 400 invalid_json "$(head -c 300 "$IMG" | tr -d '\000')"
bad_req messages_of_wrong_type_is_400 400 "None" '{"messages": "hi"}'
bad_req system_message_is_refused 400 unsupported_role '{"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]}'
bad_req two_turns_are_refused 400 multi_turn_unsupported '{"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}'
bad_req unknown_model_is_404 404 model_not_found '{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}'
bad_req temperature_of_wrong_type 400 invalid_value '{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}'
bad_req too_many_tokens_is_400 400 invalid_value '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 100000}'
bad_req n_above_1_is_400 400 invalid_value '{"messages": [{"role": "user", "content": "x"}], "n": 2}'
bad_req bad_base64_is_400 400 invalid_base64 '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!!"}}]}]}'
bad_req undecodable_image_is_400 400 invalid_image '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAAA"}}]}]}'
bad_req remote_url_is_refused 400 remote_url_refused '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]}]}'
bad_req local_path_needs_the_flag 400 local_files_disabled "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"$(pwd)/$IMG\"}}]}]}"
bad_req two_images_are_refused 400 too_many_images "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": \"data:image/png;base64,AAAA\"}, {\"type\": \"image_url\", \"image_url\": \"data:image/png;base64,AAAA\"}]}]}"
bad_req audio_part_is_refused 400 "None" '{"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}'
/usr/bin/python3 -c "print('{\"messages\": [{\"role\": \"user\", \"content\": \"' + 'a' * 60000 + '\"}]}')" >"$T/long.json"
req POST /v1/chat/completions "${AUTH[@]}" -d @"$T/long.json"
check prompt_past_the_context_is_400 err_is 400 context_length_exceeded
head -c $((33 << 20)) /dev/zero >"$T/huge"
req POST /v1/chat/completions "${AUTH[@]}" --data-binary @"$T/huge"
check huge_body_is_413 err_is 413 body_too_large
req POST /v1/chat/completions "${AUTH[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$T/huge"
check huge_chunked_body_is_413 err_is 413 body_too_large
req GET /health
check server_survives_the_bad_requests test "$CODE" = 200
check metrics_count_the_errors test "$(metric 'fvl_requests_total{code="400"}')" -ge 15 \
  -a "$(metric 'fvl_requests_total{code="413"}')" = 2 -a "$(metric fvl_sessions)" = 1

# the OpenAI client: plain, streamed and image requests, error bodies, 8 concurrent clients
if command -v node >/dev/null && [ -d "$HERE/serve/node_modules/openai" ]; then
  run_text -p "Say hello." >"$T/want-plain"
  run_text -i "$IMG" -p "What is in the image?" >"$T/want-image"
  MAUTH=()
  start par -m "$T/phi3.gguf" --parallel 3 --queue 16 --alias phi3 || exit 1
  node "$HERE/serve/client.mjs" "$URL" "$T/want-plain" "$T/want-image" "$IMG" "$PNG" "$DATA/images/chelsea.jpg" \
    | tee "$T/node.log"
  p=$(grep -c '^ok ' "$T/node.log"); f=$(grep -c '^FAIL ' "$T/node.log")
  pass=$((pass + p)); fail=$((fail + f))
  [ "$p" -gt 0 ] || bad openai_client_ran "$(tail -5 "$T/node.log")"
else
  echo "skip openai_client: node or tests/serve/node_modules missing (make deps installs them)"
  skip=$((skip + 1))
fi

# the queue: one session, no waiting room; a second request gets 503 while the first runs, and
# the first's client leaving cancels its work
MAUTH=()
start busy -m "$T/phi3.gguf" --parallel 1 --queue 0 --max-tokens 2000 || exit 1
printf '{"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 2000, "stream": true}' >"$T/long-story.json"
curl -sN "$URL/v1/chat/completions" -d @"$T/long-story.json" >"$T/story" &
cpid=$!
for _ in $(seq 100); do [ "$(metric fvl_sessions_busy)" = 1 ] && break; sleep 0.05; done
req POST /v1/chat/completions -d @"$T/q4.json" -D "$T/headers"
check full_queue_is_503_with_retry_after err_is 503 server_busy
check full_queue_says_retry_after grep -qi '^Retry-After: 1' "$T/headers"
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
for _ in $(seq 100); do [ "$(metric fvl_sessions_busy)" = 0 ] && break; sleep 0.05; done
n=$(metric fvl_completion_tokens_total)
check client_leaving_cancels_its_work test "$(metric fvl_cancelled_total)" = 1 -a "${n:-2000}" -lt 2000
req POST /v1/chat/completions -d @"$T/q4.json"
want=$(run_text -p "Say hello.")
check session_answers_after_a_cancel test "$CODE" = 200 -a "$(answer)" = "$want"

# local files inside --allow-local-files only; Florence-2 tasks as fvl task --json
mkdir -p "$T/pics" && cp "$IMG" "$T/pics/a.jpg" && ln -s "$(pwd)/$PNG" "$T/pics/link.png"
start f2 -m "$T/f2.gguf" --allow-local-files "$T/pics" || exit 1
printf '{"task": "od", "image": "%s/pics/a.jpg"}' "$T" >"$T/t.json"
req POST /v1/florence2/tasks -d @"$T/t.json"
"$FVL" task -m "$T/f2.gguf" -i "$IMG" --task od --json 2>/dev/null >"$T/task.json"
check task_equals_fvl_task test "$CODE" = 200 -a \
  "$(jq_ "$T/body" "(d['task'], d['text'], d['ids'], d.get('bboxes'), d.get('labels'), d['search'])")" = \
  "$(jq_ "$T/task.json" "(d['task'], d['text'], d['ids'], d.get('bboxes'), d.get('labels'), d['search'])")"
printf '{"task": "od", "image": {"url": "file://%s/pics/link.png"}}' "$T" >"$T/t2.json"
req POST /v1/florence2/tasks -d @"$T/t2.json"
check local_file_outside_the_folder_is_403 err_is 403 outside_allowed_dir
printf '{"task": "caption_to_phrase_grounding", "image": "data:image/jpeg;base64,%s"}' "$(base64 -w0 "$IMG")" >"$T/t3.json"
req POST /v1/florence2/tasks -d @"$T/t3.json"
check task_without_its_text_is_400 err_is 400 missing_value
printf '{"task": "frobnicate", "image": "data:image/jpeg;base64,AAAA"}' >"$T/t4.json"
req POST /v1/florence2/tasks -d @"$T/t4.json"
check unknown_task_is_400 err_is 400 invalid_value
req POST /v1/chat/completions -d @"$T/q4.json"
check chat_on_florence2_is_400 err_is 400 no_llm

# SIGTERM: the server stops and exits 0
kill -TERM "$PID_f2"; st=0; wait "$PID_f2" || st=$?
check sigterm_stops_with_status_0 test "$st" = 0 -a -n "$(grep 'SIGTERM: stopping' "$T/f2.log")"
"$FVL" serve --port 0 -m "$T/missing.gguf" >"$T/missing.log" 2>&1; st=$?
check missing_model_exits_1 test "$st" = 1 -a -n "$(grep 'cannot open' "$T/missing.log")"
"$FVL" serve -m "$T/phi3.gguf" --parallel 0 >"$T/par0.log" 2>&1; st=$?
check bad_flag_exits_2 test "$st" = 2 -a -n "$(grep 'parallel must be a whole number' "$T/par0.log")"
"$FVL" serve -m "$T/phi3.gguf" --host localhost >"$T/host.log" 2>&1; st=$?
check host_must_be_numeric test "$st" = 2

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
