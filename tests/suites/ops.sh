#!/bin/sh
# Every op's forward against PyTorch: for each tests/ops/CASE.net, compile it
# (for the batch on its first line, `# batch: B`) into build/test/ops/CASE/
# and run the harness on tests/ops/CASE.safetensors, whose out.* tensors
# PyTorch computed in float64 (tests/ref/gen_ops.py).  Tolerance, per
# element: |a - r| <= 1e-4*|r| + 1e-5*max|r|.  Each case is also built in
# double precision and checked at 1e-10 (OPS_F64=0 skips that).  Cases run
# OPS_JOBS (2) at a time.
# Usage: sh tests/suites/ops.sh [CASE...]

cd "$(dirname "$0")/../.." || exit 2

# One build and run of a case: exactly one PASS or FAIL line.
#   check CASE LABEL OUTDIR RTOL ATOL   (HARNESS_F64 in the environment)
check() {
    c=$1 label=$2 out=$3
    net=tests/ops/$c.net
    batch=$(sed -n '1s/^# batch: *\([0-9][0-9]*\).*/\1/p' "$net" 2>/dev/null)
    if [ -z "$batch" ]; then
        echo "FAIL $label: $net has no \"# batch: N\" first line"
        return
    fi
    if ! log=$(sh tests/build_model.sh "$net" "$out" --batch "$batch" 2>&1); then
        echo "FAIL $label: build: $(printf '%s\n' "$log" | tail -n 1)"
        return
    fi
    res=$("$out/harness" "tests/ops/$c.safetensors" --label "$label" --rtol "$4" --atol "$5" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$res" | grep -m 1 -E '^(PASS|FAIL) ')
    if [ $rc -ne 0 ] && [ "${line#FAIL }" = "$line" ]; then
        line="FAIL $label: the harness exited with status $rc: $(printf '%s\n' "$res" | tail -n 1)"
    elif [ $rc -eq 0 ] && [ "$line" != "PASS $label" ]; then
        line="FAIL $label: the harness exited 0 without its PASS line"
    fi
    echo "$line"
}

# A case in float (the issue's tolerance) and, unless OPS_F64=0, in double
# (-DDLC_DOUBLE) at 1e-10: the double build computes from the same float32
# values as PyTorch's float64 reference, so only rounding separates them.
run_case() {
    lines=$(check "$1" "ops/$1" "build/test/ops/$1" 1e-4 1e-5
            if [ "${OPS_F64:-1}" != 0 ]; then
                HARNESS_F64=1 check "$1" "ops-f64/$1" "build/test/ops-f64/$1" 1e-10 1e-12
            fi)
    printf '%s\n' "$lines"
}

if [ "${1:-}" = --case ]; then
    run_case "$2"
    exit 0
fi

if [ ! -x "${DLC:-build/dlc}" ] || [ ! -f build/libdlcrt.a ]; then
    echo "FAIL ops: build/dlc or build/libdlcrt.a is missing (run make all)"
    exit 1
fi

# Every op dlc lists has a case: a call `op(...)` or a chain step `|> op`
# (the layers: the losses after the blank line are tests/train's).
if [ $# -eq 0 ]; then
    missing=
    for op in $(${DLC:-build/dlc} --list-ops | sed -n '/^$/q; s/^\([a-z_0-9][a-z_0-9]*\) .*/\1/p'); do
        cat tests/ops/*.net | grep -v '^#' |
            grep -q -E "(^|[^a-z_0-9])${op}[(]|[|]>[[:space:]]*${op}([^a-z_0-9]|\$)" || missing="$missing $op"
    done
    if [ -n "$missing" ]; then
        echo "FAIL ops-coverage: no case in tests/ops calls$missing (add them to tests/ref/gen_ops.py)"
    else
        echo "PASS ops-coverage"
    fi
fi

# Case names, one a line: the arguments, else every tests/ops/*.net.
if [ $# -gt 0 ]; then
    cases=$(printf '%s\n' "$@")
else
    cases=$(for f in tests/ops/*.net; do [ -f "$f" ] && basename "$f" .net; done)
fi
if [ -z "$cases" ]; then
    echo "FAIL ops: no cases in tests/ops"
    exit 1
fi
printf '%s\n' "$cases" | xargs -P "${OPS_JOBS:-2}" -n 1 sh tests/suites/ops.sh --case
