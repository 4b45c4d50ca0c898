#!/bin/sh
# Every op's gradient: for each tests/grad/CASE.net (an op case of
# tests/ops with a train section, loss mse(..., reduction="sum"); written by
# tests/ref/gen_grads.py), compile it with --input-grads for the batch on its
# first line and run tests/grad_harness.c on tests/grad/CASE.safetensors:
#   grad/CASE     float: the loss, every trainable parameter's gradient and
#                 every input's gradient against PyTorch's (autograd, float64),
#                 |g - r| <= 1e-3*|r| + 1e-5*max|r|;
#   grad-fd/CASE  double (-DDLC_DOUBLE): the analytic gradients against central
#                 finite differences of the loss on up to 20 elements of each
#                 tensor, eps 1e-6, |g - fd| <= 1e-5 + 1e-3*|g|; then a second
#                 compute_gradients must reproduce the gradients bit for bit.
# No finite differences for the cases that draw random numbers (dropout,
# dropout_p, sample_normal): every call of compute_gradients draws new masks
# or noise, so the loss is not a function of the parameters alone; their
# float check uses what a fresh model draws (gen_grads.py's dropout_mask and
# rng_normals, which follow the generated code's RNG).
# A case without a trainable parameter has a dense head `grad_head` that the
# loss reads (dlc will not compile a train section with nothing to train).
# Coverage: every layer op `dlc --list-ops` lists appears in some case (the
# losses are covered by tests/train/loss_*).  Cases run GRAD_JOBS (2) at a time.
# Usage: sh tests/suites/grad.sh [CASE...]

cd "$(dirname "$0")/../.." || exit 2

NO_FD="dropout dropout_p sample_normal"

# One build and run: exactly one PASS or FAIL line.
#   check CASE LABEL OUTDIR [harness options]   (HARNESS_F64 in the environment)
check() {
    c=$1 label=$2 out=$3
    shift 3
    net=tests/grad/$c.net
    batch=$(sed -n '1s/^# batch: *\([0-9][0-9]*\).*/\1/p' "$net" 2>/dev/null)
    if [ -z "$batch" ]; then
        echo "FAIL $label: $net has no \"# batch: N\" first line"
        return
    fi
    if ! log=$(HARNESS_SRC=tests/grad_harness.c sh tests/build_model.sh "$net" "$out" --batch "$batch" \
                   --input-grads 2>&1); then
        echo "FAIL $label: build: $(printf '%s\n' "$log" | tail -n 1)"
        return
    fi
    res=$("$out/harness" "tests/grad/$c.safetensors" --label "$label" "$@" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$res" | grep -m 1 -E '^(PASS|FAIL) ')
    if [ $rc -ne 0 ] && [ "${line#FAIL }" = "$line" ]; then
        line="FAIL $label: the harness exited with status $rc: $(printf '%s\n' "$res" | tail -n 1)"
    elif [ $rc -eq 0 ] && [ "$line" != "PASS $label" ]; then
        line="FAIL $label: the harness exited 0 without its PASS line"
    fi
    echo "$line"
}

run_case() {
    lines=$(check "$1" "grad/$1" "build/test/grad/$1"
            case " $NO_FD " in
                *" $1 "*) ;;
                *) HARNESS_F64=1 check "$1" "grad-fd/$1" "build/test/grad-fd/$1" --fd ;;
            esac)
    printf '%s\n' "$lines"
}

if [ "${1:-}" = --case ]; then
    run_case "$2"
    exit 0
fi

if [ ! -x "${DLC:-build/dlc}" ] || [ ! -f build/libdlcrt.a ] || [ ! -f build/libdlcrt_f64.a ]; then
    echo "FAIL grad: build/dlc, build/libdlcrt.a or build/libdlcrt_f64.a is missing (run make all)"
    exit 1
fi

# Every layer op dlc lists has a case: a call `op(...)` or a chain step
# `|> op` outside the train section.  The layer ops are the list before its
# first blank line; the losses that follow are tests/train's.
if [ $# -eq 0 ]; then
    missing=
    for op in $(${DLC:-build/dlc} --list-ops | sed -n '/^$/q; /^loss /q; s/^\([a-z_0-9][a-z_0-9]*\) .*/\1/p'); do
        cat tests/grad/*.net | grep -v '^#' | sed '/^train {/,/^}/d' |
            grep -q -E "(^|[^a-z_0-9])${op}[(]|[|]>[[:space:]]*${op}([^a-z_0-9]|\$)" || missing="$missing $op"
    done
    if [ -n "$missing" ]; then
        echo "FAIL grad-coverage: no case in tests/grad calls$missing (add them to tests/ref/gen_ops.py)"
    else
        echo "PASS grad-coverage"
    fi
fi

# Case names, one a line: the arguments, else every tests/grad/*.net.
if [ $# -gt 0 ]; then
    cases=$(printf '%s\n' "$@")
else
    cases=$(for f in tests/grad/*.net; do [ -f "$f" ] && basename "$f" .net; done)
fi
if [ -z "$cases" ]; then
    echo "FAIL grad: no cases in tests/grad"
    exit 1
fi
printf '%s\n' "$cases" | xargs -P "${GRAD_JOBS:-2}" -n 1 sh tests/suites/grad.sh --case
