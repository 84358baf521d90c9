#!/usr/bin/env bash
# Each integration as a reader would use it: the README's example block is
# integrations/<name>/example.c (checked), built against an installed prefix
# with `pkg-config framealloc-<name>` only, run, and linked with its own
# library and no other integration's. Same for the C++ example.
set -u
prefix=${1:?usage: integrations.sh PREFIX}
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "[PASS] integrations::$1"; else fail=$((fail+1)); echo "[FAIL] integrations::$1 ${3:-}"; fi; }
block_of() { # the README's ```c block that starts with the file's first include
    python3 - "$1" <<'PY'
import re, sys
body = open(sys.argv[1]).read().split("\n", 1)[1]
print("yes" if ("```c\n" + body + "```") in open("README.md").read() or ("```cpp\n" + body + "```") in open("README.md").read() else "no", end="")
PY
}
tmp=$(mktemp -d)
all="lua sdl2 uv cjson sqlite zlib freetype chipmunk ode"
libs_of() { case $1 in lua) echo liblua;; sdl2) echo libSDL2;; uv) echo libuv;; cjson) echo libcjson;;
    sqlite) echo libsqlite3;; zlib) echo libz;; freetype) echo libfreetype;; chipmunk) echo libchipmunk;; ode) echo libode;; esac; }
for n in $all; do
    check "${n}_readme_block_is_its_example_c" '[ "$(block_of integrations/$n/example.c)" = yes ]'
    check "${n}_has_a_pc_file" 'pkg-config --exists framealloc-$n'
    cc -Wall -Wextra -Werror integrations/$n/example.c -o "$tmp/$n" $(pkg-config --cflags --libs framealloc-$n) \
        2> "$tmp/$n.log"
    check "${n}_example_builds_with_pkg_config" '[ -x "$tmp/$n" ]' "$(cat "$tmp/$n.log")"
    SDL_VIDEODRIVER=dummy "$tmp/$n" /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf > "$tmp/$n.out" 2>&1
    check "${n}_example_runs" '[ $? = 0 ] && [ -s "$tmp/$n.out" ]' "$(cat "$tmp/$n.out")"
    needed=$(readelf -d "$tmp/$n" 2>/dev/null | grep NEEDED)
    others=""
    for m in $all; do [ $m = $n ] || { lib=$(libs_of $m); echo "$needed" | grep -q "\[$lib" && others="$others $lib"; }; done
    check "${n}_links_no_other_integrations_library" '[ -z "$others" ]' "$others"
done
check "cpp_readme_block_is_examples_frame_pmr_cpp" '[ "$(block_of examples/frame_pmr.cpp)" = yes ]'
${CXX:-g++} -std=c++17 -Wall -Wextra -Werror examples/frame_pmr.cpp -o "$tmp/cpp" $(pkg-config --cflags --libs framealloc) \
    2> "$tmp/cpp.log"
check "cpp_example_builds_with_pkg_config_framealloc" '[ -x "$tmp/cpp" ]' "$(cat "$tmp/cpp.log")"
"$tmp/cpp" > "$tmp/cpp.out" 2>&1
check "cpp_example_runs" '[ $? = 0 ] && grep -q "frame 2: 1000 nodes, hit 7" "$tmp/cpp.out"' "$(cat "$tmp/cpp.out")"
rm -rf "$tmp"
echo "install integrations: $pass passed, $fail failed"
[ $fail = 0 ]
