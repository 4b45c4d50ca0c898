#!/bin/sh
# Compiles a .net file into a test harness:
#   tests/build_model.sh NET OUTDIR [dlc options...]
# runs build/dlc NET -o OUTDIR/model.c [options], then compiles OUTDIR/model.c
# with tests/harness.c (-DMODEL_INFO=<model>_info, the model being the first
# `model` line of NET or the one named by --model) into OUTDIR/harness.
# Environment: CC; HARNESS_CFLAGS (e.g. "-fsanitize=address,undefined -g");
# HARNESS_F64=1 (double precision: -DDLC_DOUBLE and build/libdlcrt_f64.a);
# HARNESS_LIB (a runtime library to link instead, e.g. one built with ASan);
# HARNESS_SRC (the harness's sources, default tests/harness.c; relative to
# the repository root) and HARNESS_LIBS (extra libraries, e.g. -lz).
# Exits non-zero with the first error line on stdout's last line on failure.

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ]; then
    echo "usage: tests/build_model.sh NET OUTDIR [dlc options...]" >&2
    exit 2
fi
NET=$1
OUT=$2
shift 2

model=
prev=
for a in "$@"; do
    case $a in
        --model=*) model=${a#--model=} ;;
    esac
    if [ "$prev" = --model ]; then model=$a; fi
    prev=$a
done
if [ -z "$model" ]; then
    model=$(sed -n 's/^[[:space:]]*model[[:space:]][[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$NET" 2>/dev/null | head -n 1)
fi
if [ -z "$model" ]; then
    echo "build_model: $NET: no 'model NAME' line" >&2
    exit 1
fi

mkdir -p "$OUT" || exit 1
rm -f "$OUT/harness" "$OUT/model.c" "$OUT/model.h"

DLC_BIN=${DLC:-$ROOT/build/dlc}
case $DLC_BIN in /*) ;; *) DLC_BIN=$ROOT/$DLC_BIN ;; esac
if ! "$DLC_BIN" "$NET" -o "$OUT/model.c" "$@" 2>"$OUT/dlc.err"; then
    cat "$OUT/dlc.err" >&2
    echo "build_model: dlc failed on $NET: $(grep -m 1 . "$OUT/dlc.err")" >&2
    exit 1
fi

lib=$ROOT/build/libdlcrt.a
defs=
if [ "${HARNESS_F64:-0}" = 1 ]; then
    lib=$ROOT/build/libdlcrt_f64.a
    defs=-DDLC_DOUBLE
fi
lib=${HARNESS_LIB:-$lib}

src=
for f in ${HARNESS_SRC:-tests/harness.c}; do src="$src $ROOT/$f"; done

# shellcheck disable=SC2086  # HARNESS_CFLAGS, HARNESS_SRC, HARNESS_LIBS are lists
if ! ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -O2 $defs ${HARNESS_CFLAGS:-} \
        -I"$ROOT/runtime" -I"$ROOT/examples" -I"$OUT" "-DMODEL_INFO=${model}_info" \
        "$OUT/model.c" $src "$lib" ${HARNESS_LIBS:-} -lm -o "$OUT/harness" 2>"$OUT/cc.err"; then
    cat "$OUT/cc.err" >&2
    echo "build_model: the C compiler failed on $OUT/model.c: $(grep -m 1 'error' "$OUT/cc.err")" >&2
    exit 1
fi
