#!/usr/bin/env bash
# check.sh — the README's test command (`make check`): installs what is needed, builds, and runs
# every test suite: the format check, host unit + CLI tests, ASan/UBSan, ThreadSanitizer on the threading promises,
# the qemu runs for three CPU models, board cross-builds, the arm64 package and the fuzzers. Every step runs even if an earlier one failed; the last line
# sums them up as "check: N passed, N failed, N skipped". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
J=${J:-$(nproc 2>/dev/null || echo 2)}
logs=build/check
mkdir -p "$logs"
passed=0 failed=0 skipped=0 bad_steps=()

# step NAME CMD...: runs CMD with its output shown and logged, then adds the "N passed, N failed[,
# N skipped]" lines it printed; a step that prints none counts as one test, passed if it exited 0.
step() {
  local name=$1; shift
  local log="$logs/$name.log" st counted
  echo "==> $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$log"
  st=${PIPESTATUS[0]}
  counted=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" |
            awk '{p += $1; f += $3; s += ($5 == "" ? 0 : $5); n++} END {if (n) print p, f, s}')
  if [ -n "$counted" ]; then
    read -r p f s <<<"$counted"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  elif [ "$st" -eq 0 ]; then
    passed=$((passed + 1))
  fi
  if [ "$st" -ne 0 ]; then
    bad_steps+=("$name")
    [ -z "$counted" ] && failed=$((failed + 1))
    echo "==> $name FAILED (exit $st, $((SECONDS - t0)) s)"
  else
    echo "==> $name ok ($((SECONDS - t0)) s)"
  fi
}

step deps tools/setup-deps.sh
step format-check $MAKE format-check
step build $MAKE -j"$J" all
step test $MAKE -j"$J" test
step test-asan $MAKE -j"$J" test-asan
step test-tsan $MAKE -j"$J" test-tsan
step test-arm $MAKE -j"$J" test-arm
for b in rpi4 rpi5 orin; do
  step "build-$b" $MAKE -j"$J" BOARD=$b all
done
step test-deb $MAKE test-deb
step fuzz $MAKE fuzz

echo
if [ ${#bad_steps[@]} -gt 0 ]; then
  echo "failed steps: ${bad_steps[*]} (logs in $logs/)"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
[ ${#bad_steps[@]} -eq 0 ]
