#!/bin/sh
# The dlc command line: options do what --help says, output is deterministic,
# dependency files are right, compiled-in weights give the same numbers as
# loaded ones.  Prints PASS/FAIL lines for tests/runner.c.
cd "$(dirname "$0")/../.." || exit 1
DLC=${DLC:-build/dlc}
T=build/test/cli
rm -rf "$T" && mkdir -p "$T"
NET=tests/cli/small.net

pass() { echo "PASS cli-$1"; }
fail() { echo "FAIL cli-$1: $2"; }
check() { name=$1; shift; if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "command failed: $*"; fi; }

# --help and --version exit 0 and say what they should
$DLC --help >"$T/help" 2>&1 && grep -q "usage: dlc" "$T/help" && pass help || fail help "no usage text or bad exit"
$DLC --version >"$T/version" 2>&1 && grep -Eq "^dlc [0-9]+\.[0-9]+\.[0-9]+$" "$T/version" \
    && pass version || fail version "$(cat "$T/version")"

# --check writes nothing
(cd "$T" && ../../dlc --check ../../../$NET) >/dev/null 2>&1 && [ -z "$(ls "$T" | grep -v -e help -e version)" ] \
    && pass check-writes-nothing || fail check-writes-nothing "files appeared: $(ls "$T")"

# -o writes the .c and the header beside it; the .c includes the header by name
$DLC $NET -o "$T/small.c" && [ -f "$T/small.c" ] && [ -f "$T/small.h" ] && grep -q '#include "small.h"' "$T/small.c" \
    && pass output-pair || fail output-pair "small.c/small.h missing or not linked"

# byte-for-byte deterministic
$DLC $NET -o "$T/again.c" && sed 's/again\.h/small.h/; s/DLC_GEN_AGAIN_H/DLC_GEN_SMALL_H/g' "$T/again.c" | cmp -s - "$T/small.c" \
    && pass deterministic || fail deterministic "two runs differ"

# the header exports the sizes
grep -q "#define SMALL_BATCH 4 " "$T/small.h" && grep -q "#define SMALL_IN_X_SIZE 64 " "$T/small.h" \
    && grep -q "#define SMALL_OUT_LOGITS_SIZE 3 " "$T/small.h" && grep -q "#define SMALL_ARENA_COUNT " "$T/small.h" \
    && pass header-constants || fail header-constants "missing size macros"

# --batch overrides the train section's batch
$DLC $NET --batch 9 -o "$T/b9.c" && grep -q "#define SMALL_BATCH 9 " "$T/b9.h" \
    && pass batch-option || fail batch-option "SMALL_BATCH is not 9"

# --params lists PyTorch-style names with shapes, in file order
$DLC $NET --params >"$T/params" 2>&1
if [ "$(awk '{print $1, $2}' "$T/params" | tr '\n' ' ')" = "c.0.weight [4,1,3,3] c.0.bias [4] h.1.weight [16,256] h.1.bias [16] logits.weight [3,16] logits.bias [3] " ]; then
    pass params; else fail params "got: $(tr '\n' ' ' <"$T/params")"; fi

# --summary has the table, the totals and the arena line
$DLC $NET --summary >"$T/summary" 2>&1
grep -q "^c.0 (conv2d) *\[4,8,8\] *40 *" "$T/summary" && grep -q "Trainable parameters: 4,203" "$T/summary" \
    && grep -q "Activation arena (batch 4):" "$T/summary" && pass summary || fail summary "$(cat "$T/summary")"

# --dot is a Graphviz digraph with one node per op: small.net's 6 and its loss
$DLC $NET --dot "$T/g.dot" && grep -q "^digraph" "$T/g.dot" && [ "$(grep -c ' \[label=' "$T/g.dot")" -eq 7 ] \
    && grep -q 'cross_entropy.*dashed' "$T/g.dot" \
    && pass dot || fail dot "unexpected dot output"

# --dump-ir prints the graph
$DLC $NET --dump-ir >"$T/ir" 2>&1 && grep -q "^graph small batch=4" "$T/ir" && grep -q "= conv2d(" "$T/ir" \
    && pass dump-ir || fail dump-ir "$(head -3 "$T/ir")"

# -MD writes FILE.d beside the output; -MF chooses its path
$DLC $NET -o "$T/md.c" -MD && [ "$(cat "$T/md.d")" = "$T/md.c $T/md.h: $NET" ] \
    && pass depfile-md || fail depfile-md "$(cat "$T/md.d" 2>&1)"
$DLC $NET -o "$T/mf.c" -MF "$T/deps.mk" && grep -q "^$T/mf.c $T/mf.h: $NET$" "$T/deps.mk" && [ ! -f "$T/mf.d" ] \
    && pass depfile-mf || fail depfile-mf "$(cat "$T/deps.mk" 2>&1)"

# --list-ops lists every op, and docs/language.md documents each of them
$DLC --list-ops >"$T/ops" 2>&1
missing=""
for op in $(grep -v '^ ' "$T/ops" | awk '{print $1}'); do
    grep -q "\`$op\`" docs/language.md || missing="$missing $op"
done
[ -s "$T/ops" ] && [ -z "$missing" ] && pass ops-documented || fail ops-documented "not in docs/language.md:$missing"

# --weights compiles the parameters in; the numbers equal those of load()
cat >"$T/weights_main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "small.h"
/* Saves seed-7 weights, or runs forward on fixed inputs with loaded or compiled-in weights. */
int main(int argc, char **argv)
{
    small *m = small_create();
    static dlc_float x[SMALL_BATCH * SMALL_IN_X_SIZE], y[SMALL_BATCH * SMALL_OUT_LOGITS_SIZE],
        h[SMALL_BATCH * SMALL_OUT_H_SIZE];
    for (int i = 0; i < SMALL_BATCH * SMALL_IN_X_SIZE; i++)
        x[i] = (dlc_float)((i * 37 % 101) - 50) / 50;
    if (argc > 2 && strcmp(argv[1], "save") == 0) {
        small_init(m, 7);
        return small_save(m, argv[2], NULL) != 0;
    }
    if (argc > 2 && strcmp(argv[1], "load") == 0 && small_load(m, argv[2], NULL) != 0)
        return 2;
    if (small_forward(m, x, y, h, SMALL_BATCH) != 0)
        return 3;
    fwrite(y, sizeof y, 1, stdout);
    fwrite(h, sizeof h, 1, stdout);
    small_destroy(m);
    return 0;
}
C
CC="cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iruntime"
if $CC -I"$T" "$T/small.c" "$T/weights_main.c" build/libdlcrt.a -lm -o "$T/loaded" 2>"$T/err1" &&
   "$T/loaded" save "$T/w.safetensors" && "$T/loaded" load "$T/w.safetensors" >"$T/out_loaded" &&
   mkdir -p "$T/wc" && $DLC $NET --weights "$T/w.safetensors" -o "$T/wc/small.c" &&
   $CC -I"$T/wc" "$T/wc/small.c" "$T/weights_main.c" build/libdlcrt.a -lm -o "$T/compiled" 2>"$T/err2" &&
   "$T/compiled" >"$T/out_compiled" && cmp -s "$T/out_loaded" "$T/out_compiled"; then
    pass weights-compiled-in
else
    fail weights-compiled-in "$(cat "$T/err1" "$T/err2" 2>/dev/null | head -3)"
fi
# a --weights file that does not match the model is an error naming the tensor
printf 'garbage' >"$T/bad.safetensors"
if $DLC $NET --weights "$T/bad.safetensors" -o "$T/bad.c" 2>"$T/bad.err"; then
    fail weights-bad "accepted a garbage weights file"
elif [ -f "$T/bad.c" ]; then
    fail weights-bad "wrote output despite the error"
else
    pass weights-bad
fi

# the generated code is warning-free under both compilers, in float and double
for cc in gcc clang; do
    for prec in "" "-DDLC_DOUBLE"; do
        label="warnings-$cc${prec:+-double}"
        if $cc -std=c99 -Wall -Wextra -Werror -pedantic $prec -Iruntime -c "$T/small.c" -o "$T/x.o" 2>"$T/cc.err"; then
            pass "$label"; else fail "$label" "$(head -2 "$T/cc.err")"; fi
    done
done

# no malloc or stdio in the compute path: the kernels and forward call neither
awk '/^static void k[0-9]+_/,/^}/' "$T/small.c" >"$T/kernels"
sed -n '/^int small_forward/,/^}/p' "$T/small.c" >>"$T/kernels"
if grep -Eq '\b(malloc|calloc|realloc|free|printf|fprintf|fopen|puts)\b' "$T/kernels"; then
    fail compute-path-pure "malloc or stdio in a kernel or forward"
else
    pass compute-path-pure
fi
exit 0
