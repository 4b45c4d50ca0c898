#!/bin/sh
# The memory plan: every model of models/*.net (and the multi-layer cases of
# tests/ops) is compiled with and without --no-plan for batch 2, both run on
# the same parameters (--seed 1) and inputs (--random-inputs 1), and their
# outputs must be bit-identical (cmp):            PASS plan/MODEL
# The planned build is also compiled with AddressSanitizer and UBSan against
# an instrumented runtime and run; the generated create() mallocs the arena
# with exactly the planned size, so any access outside the plan is reported:
#                                                 PASS asan/MODEL
# Models run PLAN_JOBS (2) at a time.  PLAN_ASAN_MAX_FLOPS (FLOPs per sample,
# default 1e10) skips the ASan run of larger models, saying so in a note line.

cd "$(dirname "$0")/../.." || exit 2
OUT=build/test/plan
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
export ASAN_OPTIONS=detect_leaks=1:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98

# One model: NET and MODEL; its lines are printed together at the end.
run_model() {
    net=$1
    model=$2
    tag=$(basename "$net" .net)
    # a file of several models names each: gan/generator
    [ "$(grep -c '^[[:space:]]*model[[:space:]]' "$net")" -gt 1 ] && tag=$tag/$model
    case $net in tests/ops/*) tag=ops/$tag ;; esac
    dir=$OUT/$(printf '%s' "$tag" | tr '/' '_')
    mkdir -p "$dir"
    lines=$(check_plan "$net" "$model" "$tag" "$dir"; check_asan "$net" "$model" "$tag" "$dir")
    printf '%s\n' "$lines"
}

last_line() {
    printf '%s\n' "$1" | grep -v '^$' | tail -n 1
}

check_plan() {
    net=$1 model=$2 tag=$3 dir=$4
    for v in plan noplan; do
        opt=
        [ $v = noplan ] && opt=--no-plan
        # shellcheck disable=SC2086
        if ! log=$(sh tests/build_model.sh "$net" "$dir/$v" --model "$model" --batch 2 $opt 2>&1); then
            echo "FAIL plan/$tag: build ($v): $(last_line "$log")"
            return
        fi
        if ! log=$("$dir/$v/harness" --seed 1 --random-inputs 1 --label "plan/$tag" --dump "$dir/$v.out" 2>&1); then
            echo "FAIL plan/$tag: run ($v): $(last_line "$log")"
            return
        fi
    done
    size=$(wc -c < "$dir/plan.out")
    if [ "$size" -eq 0 ]; then
        echo "FAIL plan/$tag: the outputs are empty"
    elif cmp -s "$dir/plan.out" "$dir/noplan.out"; then
        echo "PASS plan/$tag"
    else
        echo "FAIL plan/$tag: outputs differ with and without the plan: $(cmp "$dir/plan.out" "$dir/noplan.out" 2>&1 | head -n 1)"
    fi
}

check_asan() {
    net=$1 model=$2 tag=$3 dir=$4
    flops=$(${DLC:-build/dlc} "$net" --model "$model" --summary 2>/dev/null |
            sed -n 's/.*FLOPs per sample: *\([0-9,]*\).*/\1/p' | tr -d , | head -n 1)
    if [ -n "$flops" ] && [ "$flops" -gt "${PLAN_ASAN_MAX_FLOPS:-10000000000}" ]; then
        echo "note: asan/$tag skipped: $flops FLOPs per sample is above PLAN_ASAN_MAX_FLOPS"
        return
    fi
    if ! log=$(HARNESS_CFLAGS="$SAN" HARNESS_LIB=$OUT/asan-rt/libdlcrt.a \
               sh tests/build_model.sh "$net" "$dir/asan" --model "$model" --batch 2 2>&1); then
        echo "FAIL asan/$tag: build: $(last_line "$log")"
        return
    fi
    "$dir/asan/harness" --seed 1 --random-inputs 1 --label "asan/$tag" --dump "$dir/asan.out" \
        >"$dir/asan.log" 2>&1
    rc=$?
    report=$(grep -m 1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir/asan.log")
    if [ -n "$report" ]; then
        echo "FAIL asan/$tag: $report (see $dir/asan.log)"
    elif [ $rc -ne 0 ]; then
        echo "FAIL asan/$tag: exited with status $rc: $(last_line "$(cat "$dir/asan.log")")"
    else
        echo "PASS asan/$tag"
    fi
}

if [ "${1:-}" = --model ]; then
    run_model "$2" "$3"
    exit 0
fi

if [ ! -x build/dlc ] || [ ! -f build/libdlcrt.a ]; then
    echo "FAIL plan: build/dlc or build/libdlcrt.a is missing (run make all)"
    exit 1
fi
mkdir -p "$OUT"
if ! msg=$(SAN_CFLAGS="$SAN -O1" sh tests/build_asan_runtime.sh "$OUT/asan-rt"); then
    echo "FAIL asan/runtime: $msg"
    exit 1
fi

# NET MODEL pairs: every model of models/*.net, then the tests/ops cases
# with more than one layer.
list=$(for net in models/*.net tests/ops/chain_*.net tests/ops/block_*.net tests/ops/multi_*.net \
                  tests/ops/conv1d_chain.net; do
           [ -f "$net" ] || continue
           sed -n 's/^[[:space:]]*model[[:space:]][[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$net" |
               while read -r m; do printf '%s %s\n' "$net" "$m"; done
       done)
if [ -z "$list" ]; then
    echo "FAIL plan: no models found"
    exit 1
fi
printf '%s\n' "$list" | xargs -P "${PLAN_JOBS:-2}" -n 2 sh tests/suites/plan.sh --model
