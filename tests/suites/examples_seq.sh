#!/bin/sh
# The sequence and autoencoder examples, quickly: examples/timeseries.c
# (models/gru_classifier.net) on the small synthetic recordings of
# tests/examples/ (tests/ref/gen_ecg_fixtures.py; scipy's real ecg.dat is
# not needed) and examples/autoencode.c on a few Fashion-MNIST images: a
# short run works, is deterministic and writes PNG files; bad options, a
# missing, truncated, corrupt or wrongly typed recording and an unwritable
# output give a clear error and a non-zero exit.  PASS/FAIL lines for
# tests/runner.c; runs after `make all`.
cd "$(dirname "$0")/../.." || exit 1
T=build/test/examples_seq
rm -rf "$T" && mkdir -p "$T"
TS=build/examples/timeseries
AE=build/examples/autoencode
FIX=tests/examples
FMNIST=/usr/share/datasets/fashion-mnist

pass() { echo "PASS examples-$1"; }
fail() { echo "FAIL examples-$1: $2"; }
oneline() { tr '\n' ' ' <"$1" | cut -c 1-300; }

if ! make -s "$TS" "$AE" >"$T/make.log" 2>&1; then
    fail build "make $TS $AE: $(oneline "$T/make.log")"
    exit 1
fi

# run NAME PROG ARGS...: $T/NAME.out, $T/NAME.err and $RC
run() {
    name=$1 prog=$2
    shift 2
    "$prog" "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# expect NAME STATUS 'ERE|ERE' PROG ARGS...: the exit status and, on stderr,
# a line matching the (case-insensitive) extended regular expression.
expect() {
    name=$1 status=$2 re=$3
    shift 3
    run "$name" "$@"
    if [ "$RC" -ne "$status" ]; then
        fail "$name" "exit status $RC, expected $status: $(oneline "$T/$name.err")"
    elif ! grep -Eqi -- "$re" "$T/$name.err"; then
        fail "$name" "no /$re/ in: $(oneline "$T/$name.err")"
    else
        pass "$name"
    fi
}

# The output without what changes from run to run or names the file.
steady() { sed -e 's/[0-9.]* s |/|/' -e '/^data:/d' "$1"; }

# ---- timeseries -----------------------------------------------------------
run ts-help "$TS" --help
if [ "$RC" -eq 0 ] && grep -q "python3-scipy" "$T/ts-help.out"; then pass ts-help
else fail ts-help "exit $RC: $(oneline "$T/ts-help.out")"; fi

expect ts-epochs-zero 2 "--epochs: expects a whole number" "$TS" --epochs 0
expect ts-unknown-option 2 "--frobnicate: unknown option" "$TS" --frobnicate 1
expect ts-no-value 2 "--ecg: needs a value" "$TS" --ecg
expect ts-missing 1 "python3-scipy" "$TS" --ecg "$T/none.dat"

printf 'not a recording\n' >"$T/text.dat"
expect ts-not-zip 1 "text.dat: not a zip archive" "$TS" --ecg "$T/text.dat"
head -c 3000 "$FIX/ecg_synth.dat" >"$T/truncated.dat"
expect ts-truncated 1 "truncated.dat: truncated" "$TS" --ecg "$T/truncated.dat"
# one byte of the deflated data changed: inflate or the CRC catches it
cp "$FIX/ecg_synth.dat" "$T/corrupt.dat"
printf '\377\000\377' | dd of="$T/corrupt.dat" bs=1 seek=2000 conv=notrunc 2>/dev/null
expect ts-corrupt 1 "corrupt.dat: ecg.npy('s compressed data is corrupt| fails its CRC check)" \
    "$TS" --ecg "$T/corrupt.dat"
expect ts-dtype 1 "does not hold little-endian uint16" "$TS" --ecg "$FIX/ecg_float.dat"
expect ts-too-short 1 "6000 samples is too short" "$TS" --ecg "$FIX/ecg_synth.dat" --stride 100

# A short run: every epoch and the baselines are printed; the stored
# (uncompressed) archive reads as the deflated one, so the runs agree.
run ts-run "$TS" --ecg "$FIX/ecg_synth.dat" --epochs 2 --limit 256
if [ "$RC" -ne 0 ]; then
    fail ts-run "exit $RC: $(oneline "$T/ts-run.err")"
elif ! grep -q "^epoch   2 | train loss" "$T/ts-run.out" || ! grep -q "persistence" "$T/ts-run.out" ||
     ! grep -q "^  gru_classifier  *[0-9.]*%$" "$T/ts-run.out"; then
    fail ts-run "missing epoch, baseline or accuracy lines: $(oneline "$T/ts-run.out")"
else
    pass ts-run
fi
run ts-stored "$TS" --ecg "$FIX/ecg_stored.dat" --epochs 2 --limit 256
steady "$T/ts-run.out" >"$T/a.txt"
steady "$T/ts-stored.out" >"$T/b.txt"
if [ "$RC" -eq 0 ] && cmp -s "$T/a.txt" "$T/b.txt"; then pass ts-stored-same
else fail ts-stored-same "exit $RC; the stored recording's run differs: $(diff "$T/a.txt" "$T/b.txt" | head -3 | tr '\n' ' ')"; fi

# ---- autoencode -------------------------------------------------------------
expect ae-models 2 "--models: expects a comma-separated list" "$AE" --models dense,gan
expect ae-epochs 2 "--epochs: expects a whole number" "$AE" --epochs many
expect ae-no-data 1 "dataset-fashion-mnist" "$AE" --data "$T/no-such-dir"

if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    fail ae-run "no Fashion-MNIST in $FMNIST (make deps installs dataset-fashion-mnist)"
    exit 0
fi
mkdir -p "$T/ae"
run ae-run "$AE" --models dense,vae --epochs 1 --limit 640 --out "$T/ae"
# is_png FILE: the signature, IHDR first, IEND last
is_png() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
        [ "$(head -c 16 "$1" | tail -c 4)" = IHDR ] && [ "$(tail -c 8 "$1" | head -c 4)" = IEND ]
}
# bce_at EPOCH: the test BCE per image printed for that epoch of the first model
bce_at() { sed -n "s/^epoch *$1 |.*test BCE\/image *\([0-9.]*\).*/\1/p" "$T/ae-run.out" | head -n 1; }
if [ "$RC" -ne 0 ]; then
    fail ae-run "exit $RC: $(oneline "$T/ae-run.err")"
elif ! is_png "$T/ae/autoencoder_dense_reconstructions.png" || ! is_png "$T/ae/vae_reconstructions.png" ||
     ! is_png "$T/ae/vae_samples.png"; then
    fail ae-run "missing or malformed PNG files in $T/ae: $(ls "$T/ae" | tr '\n' ' ')"
elif ! awk -v a="$(bce_at 0)" -v b="$(bce_at 1)" 'BEGIN { exit !(b > 0 && b < 0.8 * a) }'; then
    fail ae-run "the dense autoencoder's test BCE did not drop by a fifth in an epoch: $(bce_at 0) -> $(bce_at 1)"
else
    pass ae-run
fi
run ae-again "$AE" --models dense,vae --epochs 1 --limit 640 --out "$T/ae"
steady "$T/ae-run.out" >"$T/a.txt"
steady "$T/ae-again.out" >"$T/b.txt"
if [ "$RC" -eq 0 ] && cmp -s "$T/a.txt" "$T/b.txt"; then pass ae-deterministic
else fail ae-deterministic "exit $RC; a second run differs: $(diff "$T/a.txt" "$T/b.txt" | head -3 | tr '\n' ' ')"; fi
expect ae-unwritable 1 "no-such-dir/autoencoder_dense_reconstructions.png: No such file" \
    "$AE" --models dense --epochs 1 --limit 64 --out "$T/no-such-dir"
