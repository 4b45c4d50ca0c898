#!/bin/sh
# Builds the runtime from runtime/*.c with AddressSanitizer and UBSan into
# OUTDIR/libdlcrt.a, so that tests linking it see out-of-bounds accesses made
# inside the runtime's kernels too (build/libdlcrt.a is not instrumented).
#   tests/build_asan_runtime.sh OUTDIR     (env: CC, SAN_CFLAGS)
# On failure prints the first compiler error on stdout and exits 1.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1
SAN=${SAN_CFLAGS:--fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1}
if [ -z "$OUT" ]; then
    echo "usage: tests/build_asan_runtime.sh OUTDIR" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 1
rm -f "$OUT/libdlcrt.a" "$OUT"/*.o
for f in "$ROOT"/runtime/*.c; do
    # shellcheck disable=SC2086  # SAN is a list of flags
    if ! ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L $SAN -I"$ROOT/runtime" -c "$f" \
            -o "$OUT/$(basename "$f" .c).o" 2>"$OUT/cc.err"; then
        echo "$(basename "$f") does not compile with the sanitizers: $(grep -m 1 error "$OUT/cc.err")"
        exit 1
    fi
done
ar rcs "$OUT/libdlcrt.a" "$OUT"/*.o
