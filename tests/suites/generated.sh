#!/bin/sh
# generated/ holds what build/dlc emits for models/*.net today (`make
# generated` refreshes it), and that C compiles warning-free as C99 under
# gcc and clang.  One PASS/FAIL per model and check.
cd "$(dirname "$0")/../.." || exit 1
DLC=${DLC:-build/dlc}
T=build/test/generated
rm -rf "$T" && mkdir -p "$T" || exit 1

for net in models/*.net; do
    name=$(basename "$net" .net)
    if ! "$DLC" "$net" -o "$T/$name.c" 2>"$T/$name.err"; then
        echo "FAIL generated-$name: dlc failed: $(head -n 1 "$T/$name.err")"
    elif [ ! -f "generated/$name.c" ] || [ ! -f "generated/$name.h" ]; then
        echo "FAIL generated-$name: generated/$name.c is missing: run make generated"
    elif ! cmp -s "$T/$name.c" "generated/$name.c" || ! cmp -s "$T/$name.h" "generated/$name.h"; then
        echo "FAIL generated-$name: generated/$name.c is stale: run make generated"
    else
        echo "PASS generated-$name"
    fi
done

# Each committed file compiles on its own, float and double (-DDLC_DOUBLE),
# with both compilers.
for cc in gcc clang; do
    if ! command -v $cc >/dev/null 2>&1; then
        echo "FAIL generated-$cc: $cc is not installed"
        continue
    fi
    for net in models/*.net; do
        name=$(basename "$net" .net)
        c=generated/$name.c
        if [ ! -f "$c" ]; then
            echo "FAIL generated-$name-$cc: $c is missing: run make generated"
            continue
        fi
        ok=1
        for defs in "" "-DDLC_DOUBLE"; do
            # shellcheck disable=SC2086  # $defs is empty or one flag
            if ! $cc -std=c99 -Wall -Wextra -Werror -pedantic $defs -Iruntime -Igenerated -c "$c" \
                    -o "$T/$name.$cc.o" 2>"$T/$name.$cc.err"; then
                echo "FAIL generated-$name-$cc${defs:+ $defs}: $(grep -m 1 -E 'error|warning' "$T/$name.$cc.err")"
                ok=0
                break
            fi
        done
        [ $ok = 1 ] && echo "PASS generated-$name-$cc"
    done
done
