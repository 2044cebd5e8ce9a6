#!/usr/bin/env bash
# lib.sh — libfvl as others use it: `make install` into a fresh prefix; libfvl.so's SONAME and its
# exports (exactly the functions fvl.h declares); a C program built with `pkg-config --cflags
# --libs fvl` (no --static) and one built with --static, each answering like `fvl run`; the
# installed Python module found without any environment.
# Usage: tests/lib.sh BUILD_DIR      Ends with "N passed, N failed".
set -u
B=${1:?usage: tests/lib.sh BUILD_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
P="$T/prefix"
arch=$(basename "$B")
if ! make -s install ARCH="${arch%%-*}" B="$B" PREFIX="$P" >"$T/install.log" 2>&1; then
  bad make_install "$(tail -5 "$T/install.log")"; echo "$pass passed, $fail failed"; exit 1
fi
ver=$(sed -n 's/^#define FVL_VERSION_STRING "\(.*\)"/\1/p' runtime/fvl.h)
so=$(readelf -d "$P/lib/libfvl.so.$ver" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$so" = "libfvl.so.${ver%.*}" ] && [ -L "$P/lib/libfvl.so.${ver%.*}" ] && [ -L "$P/lib/libfvl.so" ] &&
  ok so_has_its_soname || bad so_has_its_soname "SONAME '$so'"
nm -D --defined-only "$P/lib/libfvl.so" | awk '{print $3}' | sort >"$T/exported"
grep -o 'fvl_[a-z0-9_]*(' "$P/include/fvl.h" | tr -d '(' | sort -u >"$T/declared"
if cmp -s "$T/exported" "$T/declared"; then ok so_exports_exactly_fvl_h
else bad so_exports_exactly_fvl_h "$(diff "$T/declared" "$T/exported" | head -8 | tr '\n' ' ')"; fi

"$B/fvl-quant" convert tests/data/fvl-tiny-phi3/checkpoint -o "$T/m.gguf" --quiet
want=$("$B/fvl" run -m "$T/m.gguf" -i tests/data/images/coffee.jpg -p "What is in the image?" -n 8 2>/dev/null)
cat >"$T/ask.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <fvl.h>
static bool put(void *user, int32_t id, const char *text, size_t len)
{
	(void)user, (void)id;
	fwrite(text, 1, len, stdout);
	return true;
}
int main(int argc, char **argv)
{
	struct fvl_model *m;
	struct fvl_session *s;
	struct fvl_gen_params g;
	if (argc != 3 || fvl_model_load(argv[1], &m) || fvl_session_init(m, NULL, &s) ||
	    fvl_session_set_image_file(s, argv[2]))
		return fprintf(stderr, "%s\n", fvl_last_error()), 1;
	fvl_gen_params_default(&g);
	g.n_predict = 8;
	if (fvl_session_ask(s, "What is in the image?", &g, put, NULL))
		return fprintf(stderr, "%s\n", fvl_last_error()), 1;
	fvl_session_free(s);
	fvl_model_free(m);
	return 0;
}
C
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
if cc -std=c11 -Wall -Werror "$T/ask.c" $(pkg-config --cflags --libs fvl) -o "$T/ask-shared" 2>"$T/cc.log"; then
  got=$(LD_LIBRARY_PATH="$P/lib" "$T/ask-shared" "$T/m.gguf" tests/data/images/coffee.jpg)
  [ "$got" = "$want" ] && ok pkg_config_shared_program_answers || bad pkg_config_shared_program_answers "'$got' vs '$want'"
  readelf -d "$T/ask-shared" | grep -q "NEEDED.*libfvl.so.${ver%.*}" && ok program_needs_the_soname ||
    bad program_needs_the_soname
else
  bad pkg_config_shared_program_builds "$(head -5 "$T/cc.log")"
fi
if cc -std=c11 "$T/ask.c" $(pkg-config --cflags fvl) "$P/lib/libfvl.a" $(pkg-config --static --libs-only-l fvl | sed 's/-lfvl//') \
    -o "$T/ask-static" 2>"$T/cc2.log"; then
  got=$("$T/ask-static" "$T/m.gguf" tests/data/images/coffee.jpg)
  [ "$got" = "$want" ] && ok pkg_config_static_program_answers || bad pkg_config_static_program_answers
else
  bad pkg_config_static_program_builds "$(head -5 "$T/cc2.log")"
fi
py=$(find "$P" -name fvl.py | head -1)
got=$(env -u FVL_LIBRARY PYTHONPATH="$(dirname "$py")" /usr/bin/python3 -c '
import fvl, sys
s = fvl.Model(sys.argv[1]).session()
s.set_image(sys.argv[2])
print(s.ask("What is in the image?", max_tokens=8))' "$T/m.gguf" tests/data/images/coffee.jpg 2>&1)
[ "$got" = "$want" ] && ok installed_python_module_answers || bad installed_python_module_answers "$got"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
