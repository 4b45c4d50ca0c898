#!/bin/sh
# Token ids out of range: tests/tokens/token_range.c drives the generated
# entry points of tests/tokens/token_range.net (an embedding) with bad ids
# and checks that each returns DLC_ERR_TOKEN before running anything; also
# the padding row's initialisation and training.  In float and, with the
# -DDLC_DOUBLE build, in double.  Prints PASS/FAIL lines for tests/runner.c.
cd "$(dirname "$0")/../.." || exit 1
T=build/test/tokens
mkdir -p "$T" || exit 1
if [ ! -x "${DLC:-build/dlc}" ] || [ ! -f build/libdlcrt.a ] || [ ! -f build/libdlcrt_f64.a ]; then
    echo "FAIL tokens: build/dlc, build/libdlcrt.a or build/libdlcrt_f64.a is missing (run make all)"
    exit 1
fi

for prec in f32 f64; do
    out=$T/$prec
    f64=0
    [ $prec = f64 ] && f64=1
    if ! HARNESS_F64=$f64 HARNESS_SRC=tests/tokens/token_range.c \
            sh tests/build_model.sh tests/tokens/token_range.net "$out" >"$out.build" 2>&1; then
        echo "FAIL tokens-$prec/build: $(tail -n 1 "$out.build")"
        continue
    fi
    "$out/harness" >"$out.log" 2>&1
    rc=$?
    sed -n "s#^\(PASS\|FAIL\) tokens/#\1 tokens-$prec/#p" "$out.log"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out.log"; then
        echo "FAIL tokens-$prec/run: exited with status $rc: $(tail -n 1 "$out.log")"
    fi
done
exit 0
