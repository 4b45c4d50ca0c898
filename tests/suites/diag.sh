#!/bin/sh
# Golden diagnostics.  Every tests/diag/NAME.net (or NAME.gen, a script
# that writes the .net: for inputs too big to commit) must make dlc exit 1
# with exactly the stderr in tests/diag/NAME.expected, print nothing on
# stdout, and write no file; some also run with out.c/out.h already there,
# which must stay byte-identical.  The command line's own errors (files,
# usage) are checked here too.  Prints PASS/FAIL lines for tests/runner.c.
#
#   sh tests/suites/diag.sh                  run the checks
#   sh tests/suites/diag.sh --update         rewrite every .expected from what dlc prints now
#                                            (then read the diff: each one is a message users see)
#   DLC=build/asan/dlc sh tests/suites/diag.sh   the same with the AddressSanitizer+UBSan build
#                                            (`make asan`); any sanitizer report fails the case
#
# dlc runs from the repository root as `build/dlc tests/diag/NAME.net -o
# OUT/out.c`, so messages name the file as tests/diag/NAME.net; a .gen case
# runs in the directory it was written to, so they name just NAME.net.
# Every run has an 8 MiB stack (ulimit -s 8192): deep inputs must give an
# error, not a stack overflow.
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
DLC=${DLC:-build/dlc}
case $DLC in
    /*) DLC_ABS=$DLC ;;
    *) DLC_ABS=$ROOT/$DLC ;;
esac
UPDATE=0
[ "$1" = "--update" ] && UPDATE=1
if [ "$DLC" = build/dlc ]; then T=$ROOT/build/test/diag; else T=$ROOT/build/test/diag-$(basename "$(dirname "$DLC_ABS")"); fi
OUT=$T/out
rm -rf "$T" && mkdir -p "$T/gen" "$OUT" || exit 1

# A sanitizer report must not pass for an ordinary exit status 1.
export ASAN_OPTIONS="exitcode=99:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

pass() { echo "PASS diag-$1"; }
fail() { echo "FAIL diag-$1: $2"; }
# Indented so that no line of it starts like a PASS/FAIL line.
show() { head -n "${2:-30}" "$1" | sed 's/^/    | /'; }

if [ ! -x "$DLC_ABS" ]; then
    fail setup "$DLC is not built (make all, or make asan for build/asan/dlc)"
    exit 1
fi

# Runs dlc with the arguments after DIR, in DIR, with an 8 MiB stack.
# Leaves the status in $rc, stdout in $T/stdout, stderr in $T/stderr.
run_dlc() {
    dir=$1
    shift
    (cd "$dir" && { ulimit -s 8192 2>/dev/null || :; } && exec "$DLC_ABS" "$@") >"$T/stdout" 2>"$T/stderr"
    rc=$?
}

# check_result NAME WANT_RC EXPECTED_FILE: status, empty stdout, exact stderr.
check_result() {
    if [ "$rc" != "$2" ]; then
        fail "$1" "exit status $rc, expected $2"
        show "$T/stderr"
        return 1
    fi
    if [ -s "$T/stdout" ]; then
        fail "$1" "printed on stdout"
        show "$T/stdout"
        return 1
    fi
    if ! cmp -s "$3" "$T/stderr"; then
        fail "$1" "stderr differs from $3 (- expected, + got)"
        diff -u "$3" "$T/stderr" >"$T/diff"
        show "$T/diff" 40
        return 1
    fi
    return 0
}

# The output directory must hold exactly what it held before (listing in $1).
check_untouched() {
    ls -A "$OUT" >"$T/after"
    if ! cmp -s "$1" "$T/after"; then
        echo "files in the output directory changed: $(tr '\n' ' ' <"$T/after")"
        return 1
    fi
    for f in out.c out.h; do
        if [ -f "$T/keep.$f" ] && ! cmp -s "$T/keep.$f" "$OUT/$f"; then
            echo "$f was modified"
            return 1
        fi
    done
    return 0
}

# golden NAME DIR FILE [keep]: one error case against tests/diag/NAME.expected.
golden() {
    name=$1 dir=$2 file=$3 keep=$4
    expected=tests/diag/$name.expected
    rm -rf "$OUT" "$T"/keep.* && mkdir -p "$OUT"
    if [ -n "$keep" ]; then
        printf '/* out.c written before the test */\n' >"$T/keep.out.c"
        printf '/* out.h written before the test */\n' >"$T/keep.out.h"
        cp "$T/keep.out.c" "$OUT/out.c" && cp "$T/keep.out.h" "$OUT/out.h"
    fi
    ls -A "$OUT" >"$T/before"
    run_dlc "$dir" "$file" -o "$OUT/out.c"
    label=$name${keep:+-keeps-output}
    if [ $UPDATE = 1 ] && [ -z "$keep" ]; then
        if [ "$rc" = 1 ] && [ ! -s "$T/stdout" ]; then
            cp "$T/stderr" "$expected" && echo "updated $expected"
        else
            fail "$label" "exit status $rc (want 1) or output on stdout: not updated"
            show "$T/stderr"
        fi
        return
    fi
    if [ ! -f "$expected" ]; then
        fail "$label" "$expected is missing (sh tests/suites/diag.sh --update writes it)"
        return
    fi
    check_result "$label" 1 "$expected" || return
    why=$(check_untouched "$T/before") || { fail "$label" "$why"; return; }
    pass "$label"
}

# Cases that also run with an out.c and out.h in place.
KEEP=" syntax_errors bad_bytes shape_mismatch cycle block_errors train_errors deep_parens two_models "

for net in tests/diag/*.net; do
    name=$(basename "$net" .net)
    golden "$name" "$ROOT" "$net"
    case $KEEP in *" $name "*) [ $UPDATE = 1 ] || golden "$name" "$ROOT" "$net" keep ;; esac
done
for gen in tests/diag/*.gen; do
    name=$(basename "$gen" .gen)
    if ! sh "$gen" >"$T/gen/$name.net"; then
        fail "$name" "$gen failed"
        continue
    fi
    golden "$name" "$T/gen" "$name.net"
    case $KEEP in *" $name "*) [ $UPDATE = 1 ] || golden "$name" "$T/gen" "$name.net" keep ;; esac
done
[ $UPDATE = 1 ] && exit 0

# ---- the command line ---------------------------------------------------
cat >"$T/ok.net" <<'EOF'
model small
input x[1, 8, 8]
y = conv2d(x, 4, kernel=3) |> relu |> flatten |> dense(3)
output y
EOF

# cli NAME WANT_RC EXPECTED_TEXT ARGS...: runs from the repository root.
cli() {
    name=cli-$1 want=$2
    printf '%s\n' "$3" >"$T/expected"
    shift 3
    ls -A "$OUT" >"$T/before"
    run_dlc "$ROOT" "$@"
    check_result "$name" "$want" "$T/expected" || return
    why=$(check_untouched "$T/before") || { fail "$name" "$why"; return; }
    pass "$name"
}
fresh() { rm -rf "$OUT" "$T"/keep.* && mkdir -p "$OUT"; }

fresh
cli missing-input 1 "dlc: error: cannot read 'tests/diag/no-such-file.net': No such file or directory" \
    tests/diag/no-such-file.net -o "$OUT/out.c"
fresh
cli input-is-directory 1 "dlc: error: cannot read 'tests/diag': it is a directory" tests/diag -o "$OUT/out.c"
fresh
if [ "$(id -u)" = 0 ]; then
    echo "SKIP diag-cli-unreadable-input: running as root, file permissions do not apply"
else
    cp "$T/ok.net" "$T/unreadable.net" && chmod 000 "$T/unreadable.net"
    cli unreadable-input 1 "dlc: error: cannot read '$T/unreadable.net': Permission denied" \
        "$T/unreadable.net" -o "$OUT/out.c"
    chmod 644 "$T/unreadable.net"
fi
fresh
cli output-directory-missing 1 "dlc: error: cannot write '$OUT/no-such-dir/out.c': No such file or directory" \
    "$T/ok.net" -o "$OUT/no-such-dir/out.c"
fresh
mkdir "$OUT/out.c"
cli output-is-directory 1 "dlc: error: cannot write '$OUT/out.c': it is a directory" "$T/ok.net" -o "$OUT/out.c"
fresh
mkdir "$OUT/out.h"
cli header-is-directory 1 "dlc: error: cannot write '$OUT/out.h': it is a directory" "$T/ok.net" -o "$OUT/out.c"
fresh
cp "$T/ok.net" "$OUT/in.net"
cli output-is-input 1 "dlc: error: the output '$OUT/in.net' would overwrite the input '$OUT/in.net'" \
    "$OUT/in.net" -o "$OUT/in.net"
cmp -s "$T/ok.net" "$OUT/in.net" && pass cli-output-is-input-kept || fail cli-output-is-input-kept "the input changed"
fresh
cp "$T/ok.net" "$OUT/in.net"
cli output-is-input-other-path 1 "dlc: error: the output '$OUT/../out/in.net' would overwrite the input '$OUT/in.net'" \
    "$OUT/in.net" -o "$OUT/../out/in.net"
fresh
cp "$T/ok.net" "$OUT/m.h"
cli header-is-input 1 "dlc: error: the output '$OUT/m.h' would overwrite the input '$OUT/m.h'" "$OUT/m.h" -o "$OUT/m.c"
fresh
cp "$T/ok.net" "$OUT/in.net"
cli depfile-is-input 1 "dlc: error: the output '$OUT/in.net' would overwrite the input '$OUT/in.net'" \
    "$OUT/in.net" -o "$OUT/out.c" -MF "$OUT/in.net"
fresh
printf '/* out.c written before the test */\n' >"$T/keep.out.c"
cp "$T/keep.out.c" "$OUT/out.c"
mkdir "$OUT/out.h"
cli header-is-directory-keeps-output 1 "dlc: error: cannot write '$OUT/out.h': it is a directory" \
    "$T/ok.net" -o "$OUT/out.c"

fresh
cli usage-unknown-option 2 "dlc: error: unknown option '--frobnicate'
Try 'dlc --help'." --frobnicate "$T/ok.net" -o "$OUT/out.c"
cli usage-no-input 2 "dlc: error: no input file
Try 'dlc --help'." -o "$OUT/out.c"
cli usage-batch-zero 2 "dlc: error: --batch expects an integer from 1 to 1000000, got '0'
Try 'dlc --help'." "$T/ok.net" --batch 0 -o "$OUT/out.c"
cli usage-batch-text 2 "dlc: error: --batch expects an integer from 1 to 1000000, got 'many'
Try 'dlc --help'." "$T/ok.net" --batch many -o "$OUT/out.c"
cli usage-missing-argument 2 "dlc: error: -o needs an argument
Try 'dlc --help'." "$T/ok.net" -o
cli usage-two-inputs 2 "dlc: error: more than one input file ('$T/ok.net')
Try 'dlc --help'." "$T/ok.net" "$T/ok.net" -o "$OUT/out.c"

# ---- big inputs that are fine: no error, no stack overflow ---------------
# (just under the limits the error cases above cross)
ok() {
    name=limits-$1
    printf '' >"$T/expected"
    run_dlc "$T/gen" "$1.net" --check
    check_result "$name" 0 "$T/expected" && pass "$name"
}
{
    printf 'model net\ninput x[8]\na0 = relu(x)\n'
    awk 'BEGIN { for (i = 1; i <= 5000; i++) printf "a%d = a%d + 1\n", i, i - 1; print "output a5000" }'
} >"$T/gen/statements_5000.net"
ok statements_5000
{
    printf 'model net\ninput x[8]\ny = x'
    awk 'BEGIN { for (i = 0; i < 990; i++) printf " |> relu"; print "" }'
    printf 'output y\n'
} >"$T/gen/chain_990.net"
ok chain_990
{
    printf 'model net\ninput x[8]\ny = '
    awk 'BEGIN { for (i = 0; i < 250; i++) printf "relu("; printf "x"; for (i = 0; i < 250; i++) printf ")"; print "" }'
    printf 'output y\n'
} >"$T/gen/calls_250.net"
ok calls_250
exit 0
