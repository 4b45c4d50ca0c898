#!/bin/sh
# Training against PyTorch: for each tests/train/CASE.net (first line
# `# batch: B`, optional second line `# harness: OPTIONS`, optional third
# line `# net: models/X.net`: the network to compile instead; `# data: FILE`:
# another case's data), compile it into
# build/test/train/CASE/ with the training harness (tests/train_harness.c)
# and run the steps recorded in tests/train/CASE.safetensors
# (tests/ref/gen_train.py, gen_losses.py): step 1's loss within 1e-5
# relative, every loss within 1e-3 relative, the final parameters within
# 1e-3 (train/CASE).  A case whose options say `--asan` is also built with
# AddressSanitizer and UBSan, the runtime included, and runs its first 10
# steps (asan-train/CASE): the arena is malloc'ed at exactly its planned
# size, so a step touching memory outside the plan is reported.
# A case whose options say `--f64` is built in double precision
# (-DDLC_DOUBLE): for trajectories that are chaotic in float32, where
# rounding alone moves PyTorch's own float32 run away from its float64 one.
# Cases run TRAIN_JOBS (2) at a time.  Usage: sh tests/suites/train.sh [CASE...]
cd "$(dirname "$0")/../.." || exit 2
OUT=build/test/train
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
export ASAN_OPTIONS=detect_leaks=1:exitcode=99

last_line() { printf '%s\n' "$1" | grep . | tail -n 1; }

# Runs a built harness; prints exactly one PASS or FAIL line for LABEL.
#   verdict LABEL LOG CMD...
verdict() {
    label=$1 log=$2
    shift 2
    "$@" --label "$label" --tmp "$(dirname "$log")" >"$log" 2>&1
    rc=$?
    report=$(grep -m 1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log")
    line=$(grep -m 1 -E "^(PASS|FAIL) $label" "$log")
    if [ -n "$report" ]; then
        echo "FAIL $label: $report (see $log)"
    elif [ $rc -eq 0 ] && [ "$line" = "PASS $label" ]; then
        echo "$line"
    elif [ -n "$line" ] && [ "${line#FAIL}" != "$line" ]; then
        echo "$line"
    else
        echo "FAIL $label: the harness exited with status $rc: $(last_line "$(cat "$log")")"
    fi
}

run_case() {
    c=$1 net=tests/train/$1.net dir=$OUT/$1
    batch=$(sed -n '1s/^# batch: *\([0-9][0-9]*\).*/\1/p' "$net" 2>/dev/null)
    opts=$(sed -n '2s/^# harness: *//p' "$net")
    # a third line `# net: models/X.net` names the network to compile
    src=$(sed -n '3s/^# net: *//p' "$net")
    [ -n "$src" ] && net=$src
    # a line `# data: FILE` names the data (another case's) instead of CASE.safetensors
    data=$(sed -n 's/^# data: *//p' "tests/train/$c.net" | head -n 1)
    data=${data:-tests/train/$c.safetensors}
    if [ -z "$batch" ]; then
        echo "FAIL train/$c: $net has no \"# batch: N\" first line"
        return
    fi
    asan=0 f64=0
    case " $opts " in *" --asan "*) asan=1 ;; esac
    case " $opts " in *" --f64 "*) f64=1 ;; esac
    opts=$(printf '%s\n' "$opts" | sed 's/--asan//; s/--f64//')
    export HARNESS_SRC="tests/train_harness.c examples/fashion_mnist.c" HARNESS_LIBS=-lz HARNESS_F64=$f64
    if ! log=$(sh tests/build_model.sh "$net" "$dir" --batch "$batch" 2>&1); then
        echo "FAIL train/$c: build: $(last_line "$log")"
    else
        # shellcheck disable=SC2086  # opts is a list of options
        verdict "train/$c" "$dir/run.log" "$dir/harness" "$data" $opts
    fi
    [ $asan = 1 ] || return
    if ! log=$(HARNESS_F64=0 HARNESS_CFLAGS="$SAN" HARNESS_LIB=$OUT/asan-rt/libdlcrt.a \
               sh tests/build_model.sh "$net" "$dir/asan" --batch "$batch" 2>&1); then
        echo "FAIL asan-train/$c: build: $(last_line "$log")"
        return
    fi
    # 10 steps (resuming at 5), only their losses checked, at the float tolerances
    opts=$(printf '%s\n' "$opts" | sed 's/--steps *[0-9]*//; s/--checkpoint-at *[0-9]*/--checkpoint-at 5/;
                                       s/--rtol[a-z-]* *[0-9.e-]*//g; s/--atol *[0-9.e-]*//')
    # shellcheck disable=SC2086
    verdict "asan-train/$c" "$dir/asan/run.log" "$dir/asan/harness" "$data" $opts \
        --steps 10 --losses-only
}

if [ "${1:-}" = --case ]; then
    run_case "$2"
    exit 0
fi

if [ ! -x "${DLC:-build/dlc}" ] || [ ! -f build/libdlcrt.a ]; then
    echo "FAIL train: build/dlc or build/libdlcrt.a is missing (run make all)"
    exit 1
fi
mkdir -p "$OUT" || exit 1
if [ $# -gt 0 ]; then
    cases=$(printf '%s\n' "$@")
else
    cases=$(for f in tests/train/*.net; do [ -f "$f" ] && basename "$f" .net; done)
fi
if [ -z "$cases" ]; then
    echo "FAIL train: no cases in tests/train"
    exit 1
fi
if grep -l -e '--asan' $(printf 'tests/train/%s.net\n' $cases) >/dev/null 2>&1; then
    if ! msg=$(SAN_CFLAGS="$SAN -O1" sh tests/build_asan_runtime.sh "$OUT/asan-rt"); then
        echo "FAIL asan-train/runtime: $msg"
    fi
fi
printf '%s\n' "$cases" | xargs -P "${TRAIN_JOBS:-2}" -n 1 sh tests/suites/train.sh --case
