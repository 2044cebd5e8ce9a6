#!/usr/bin/env bash
# Installs every Debian package fvl needs on a fresh Debian bookworm x86-64 (or arm64) machine,
# plus the private arm64 sysroot for XNNPACK/pthreadpool (they are not multiarch). Idempotent.
# Usage: tools/setup-deps.sh [--no-cross] [--peers]   (run as root, or with sudo available)
#   --peers: also what make bench-peers builds llama.cpp with (cmake, g++, the aarch64 g++, git)
set -euo pipefail

cross=1 peers=0
for a in "$@"; do
  case $a in
  --no-cross) cross=0 ;;
  --peers) peers=1 ;;
  *) echo "setup-deps: unknown option $a (--no-cross, --peers)" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
sysroot="$here/build/sysroot-arm64"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

host_arch=$(dpkg --print-architecture)
host_pkgs=(build-essential pkg-config clang clang-format libclang-rt-14-dev file systemd
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev libturbojpeg0-dev libspng-dev libv4l-dev libsimde-dev
  libcjson-dev libpcre2-dev libmicrohttpd-dev python3-numpy curl)
# Node.js and npm run the server tests' OpenAI client (tests/serve/package.json); a machine that
# has them already (e.g. from NodeSource) keeps its own.
command -v npm >/dev/null 2>&1 || host_pkgs+=(nodejs npm)
[ "$peers" = 1 ] && host_pkgs+=(cmake g++ git)
cross_pkgs=(gcc-aarch64-linux-gnu qemu-user
  libc6:arm64 libturbojpeg0-dev:arm64 libspng-dev:arm64 libv4l-dev:arm64 libcjson-dev:arm64
  libpcre2-dev:arm64 libmicrohttpd-dev:arm64)
[ "$peers" = 1 ] && cross_pkgs+=(g++-aarch64-linux-gnu)

missing() {   # prints the packages of "$@" that are not installed
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

need_update=0
if [ "$cross" = 1 ] && [ "$host_arch" != arm64 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup-deps: adding the arm64 architecture"
    $SUDO dpkg --add-architecture arm64
    need_update=1
  fi
  want=("${host_pkgs[@]}" "${cross_pkgs[@]}")
else
  want=("${host_pkgs[@]}")
fi
todo=$(missing "${want[@]}")
if [ -n "$todo" ]; then
  echo "setup-deps: installing:" $todo
  $SUDO apt-get update -qq
  need_update=0
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $todo
fi

# Private arm64 sysroot: XNNPACK and pthreadpool (and cpuinfo) for the cross build.
if [ "$cross" = 1 ] && [ "$host_arch" != arm64 ]; then
  stamp="$sysroot/.complete"
  if [ ! -f "$stamp" ]; then
    echo "setup-deps: unpacking arm64 XNNPACK/pthreadpool into $sysroot"
    [ "$need_update" = 1 ] && $SUDO apt-get update -qq
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download -qq libxnnpack0:arm64 libxnnpack-dev:arm64 libpthreadpool0:arm64 \
       libpthreadpool-dev:arm64 libcpuinfo0:arm64 2>/dev/null || \
     (cd "$tmp" && $SUDO apt-get update -qq && apt-get download -qq libxnnpack0:arm64 libxnnpack-dev:arm64 \
       libpthreadpool0:arm64 libpthreadpool-dev:arm64 libcpuinfo0:arm64))
    mkdir -p "$sysroot"
    for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
    touch "$stamp"
  fi
fi
# The OpenAI client the server tests use, at the version tests/serve/package-lock.json pins.
lock="$here/tests/serve/package-lock.json"
if command -v npm >/dev/null 2>&1 && [ -f "$lock" ]; then
  want=$(grep -A1 '"node_modules/openai"' "$lock" | sed -n 's/.*"version": "\(.*\)".*/\1/p')
  have=$(sed -n 's/^  "version": "\(.*\)".*/\1/p' \
         "$here/tests/serve/node_modules/openai/package.json" 2>/dev/null | head -1 || true)
  if [ "$have" != "$want" ]; then
    echo "setup-deps: installing the openai npm client $want for the server tests"
    (cd "$here/tests/serve" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
echo "setup-deps: done"
