#!/bin/sh
# Runtime unit tests: each tests/unit/NAME.c is compiled against
# build/libdlcrt.a and run, its PASS/FAIL lines relayed; then compiled once
# more with -fsanitize=address,undefined against a runtime built the same way
# (so the sanitizers see inside the runtime too) and run: one
# `PASS unit-asan/NAME` iff it exits 0 with no sanitizer report.
# A unit file that needs a library says so in its first lines: "link with -lz".

cd "$(dirname "$0")/../.." || exit 2
CC=${CC:-cc}
OUT=build/test/unit
export SAN_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
mkdir -p "$OUT" || exit 2

if [ ! -f build/libdlcrt.a ]; then
    echo "FAIL unit: build/libdlcrt.a is missing (run make all)"
    exit 1
fi

first_error() {
    grep -m 1 -E 'error|undefined reference' "$1" || head -n 1 "$1"
}

# The runtime with the sanitizers, from the same sources as build/libdlcrt.a.
asan_lib=$OUT/asan-rt/libdlcrt.a
asan_ok=1
if ! msg=$(sh tests/build_asan_runtime.sh "$OUT/asan-rt"); then
    echo "FAIL unit-asan/runtime: $msg"
    asan_ok=0
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98

found=0
for src in tests/unit/*.c; do
    [ -f "$src" ] || continue
    found=1
    name=$(basename "$src" .c)
    libs=$(sed -n '1,40s/.*link with \(\(-l[A-Za-z0-9_]*[ ,;.]*\)*\).*/\1/p' "$src" | tr ',;.' '   ' | head -n 1)

    # shellcheck disable=SC2086
    if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -g -Iruntime "$src" build/libdlcrt.a $libs -lm \
            -o "$OUT/$name" 2>"$OUT/$name.cc.err"; then
        echo "FAIL unit/$name: does not compile: $(first_error "$OUT/$name.cc.err")"
    else
        "./$OUT/$name" >"$OUT/$name.out" 2>"$OUT/$name.err"
        rc=$?
        grep -E '^(PASS|FAIL) ' "$OUT/$name.out"
        if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$OUT/$name.out"; then
            echo "FAIL unit/$name: exited with status $rc without a FAIL line: $(tail -n 1 "$OUT/$name.err")"
        elif ! grep -q '^PASS ' "$OUT/$name.out" && ! grep -q '^FAIL ' "$OUT/$name.out"; then
            echo "FAIL unit/$name: printed no PASS or FAIL line"
        fi
    fi

    [ $asan_ok = 1 ] || continue
    # shellcheck disable=SC2086
    if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L $SAN_CFLAGS -Iruntime "$src" "$asan_lib" $libs -lm \
            -o "$OUT/$name.asan" 2>"$OUT/$name.asan.cc.err"; then
        echo "FAIL unit-asan/$name: does not compile: $(first_error "$OUT/$name.asan.cc.err")"
        continue
    fi
    "./$OUT/$name.asan" >"$OUT/$name.asan.out" 2>"$OUT/$name.asan.err"
    rc=$?
    report=$(grep -m 1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$OUT/$name.asan.err")
    if [ -n "$report" ]; then
        echo "FAIL unit-asan/$name: $report (see $OUT/$name.asan.err)"
    elif [ $rc -ne 0 ]; then
        echo "FAIL unit-asan/$name: exited with status $rc: $(grep -m 1 '^FAIL ' "$OUT/$name.asan.out")"
    else
        echo "PASS unit-asan/$name"
    fi
done
if [ $found = 0 ]; then
    echo "FAIL unit: no tests/unit/*.c"
fi
exit 0
