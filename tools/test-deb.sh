#!/usr/bin/env bash
# test-deb.sh — `make test-deb`: the arm64 package installs into a fresh folder root (dpkg -x), and
# fvl --help / fvl doctor run from it under qemu-aarch64 on the three CPU models; the systemd unit
# passes systemd-analyze verify where that exists. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
deb=$(ls -t build/fvl_*_arm64.deb 2>/dev/null | head -1)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pass=0 fail=0 skip=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
if [ -z "$deb" ] || ! dpkg-deb -x "$deb" "$root"; then
  bad deb_extracts_into_a_fresh_root; echo "$pass passed, $fail failed, $skip skipped"; exit 1
fi
ok deb_extracts_into_a_fresh_root
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] && ok deb_is_arm64 || bad deb_is_arm64
file "$root/usr/bin/fvl" | grep -q "ARM aarch64" && ok deb_binary_is_aarch64 || bad deb_binary_is_aarch64
LIBS=$(pwd)/build/sysroot-arm64/usr/lib/aarch64-linux-gnu
for cpu in cortex-a72 cortex-a76 max; do
  out=$(qemu-aarch64 -cpu "$cpu" -E LD_LIBRARY_PATH="$LIBS" "$root/usr/bin/fvl" --help 2>&1)
  grep -q "usage: fvl" <<<"$out" && ok "installed_fvl_help_runs_on_$cpu" || bad "installed_fvl_help_runs_on_$cpu"
  out=$(qemu-aarch64 -cpu "$cpu" -E LD_LIBRARY_PATH="$LIBS" "$root/usr/bin/fvl" doctor 2>&1)
  case $cpu in
    cortex-a72) want="dotprod: no" variant="kernel variant: baseline" ;;
    cortex-a76) want="dotprod: yes" variant="kernel variant: dotprod" ;;
    max) want="i8mm: yes" variant="kernel variant: i8mm" ;;
  esac
  if grep -q "$want" <<<"$out" && grep -q "$variant" <<<"$out" && grep -q "^memory: " <<<"$out"; then
    ok "installed_fvl_doctor_on_$cpu"
  else
    bad "installed_fvl_doctor_on_$cpu"; echo "$out" | sed 's/^/     | /'
  fi
  echo "     | $cpu: $(grep -E '^(asimd|fp16|dotprod|i8mm):' <<<"$out" | tr '\n' ' ')-> $(grep '^kernel variant' <<<"$out")"
done
qemu-aarch64 -cpu max -E LD_LIBRARY_PATH="$LIBS" "$root/usr/bin/fvl-quant" --help | grep -q "usage: fvl-quant" \
  && ok installed_fvl_quant_runs || bad installed_fvl_quant_runs
grep -q "^Libs: -L\${libdir} -lfvl" "$root/usr/lib/pkgconfig/fvl.pc" && ok pkg_config_file || bad pkg_config_file
for name in fvl-camera fvl-serve; do
  if command -v systemd-analyze >/dev/null 2>&1; then
    unit="$root/lib/systemd/system/$name.service"
    sed "s|/usr/bin/fvl|$root/usr/bin/fvl|" "$unit" >"$root/$name.service"
    out=$(systemd-analyze verify "$root/$name.service" 2>&1); st=$?
    if [ $st = 0 ] && ! grep -qiE "unknown (key|section)|invalid" <<<"$out"; then ok "systemd_unit_verifies_$name"
    else bad "systemd_unit_verifies_$name"; echo "$out" | sed 's/^/     | /'; fi
  else
    echo "skip systemd_unit_verifies_$name: systemd-analyze is not installed"; skip=$((skip + 1))
  fi
done
out=$(qemu-aarch64 -cpu cortex-a72 -E LD_LIBRARY_PATH="$LIBS" "$root/usr/bin/fvl" serve --help 2>&1)
grep -q "usage: fvl serve" <<<"$out" && ok installed_fvl_serve_help || bad installed_fvl_serve_help
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
