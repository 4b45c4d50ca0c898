#!/bin/sh
# The GAN example, quickly: examples/gan.c trains models/dcgan.net and
# cgan.net for a few batches of Fashion-MNIST images; the run writes a
# well-formed PNG grid per epoch, a CSV log with a line per epoch and a
# checkpoint, is deterministic for a seed, and D learns to tell real from
# generated images; bad options, missing or truncated data and an
# unwritable output give a clear error and a non-zero exit.  PASS/FAIL
# lines for tests/runner.c; runs after `make all`.
cd "$(dirname "$0")/../.." || exit 1
T=build/test/examples_gan
rm -rf "$T" && mkdir -p "$T"
GAN=build/examples/gan
FMNIST=/usr/share/datasets/fashion-mnist

pass() { echo "PASS examples-$1"; }
fail() { echo "FAIL examples-$1: $2"; }
oneline() { tr '\n' ' ' <"$1" | cut -c 1-300; }

if ! make -s "$GAN" >"$T/make.log" 2>&1; then
    fail gan-build "make $GAN: $(oneline "$T/make.log")"
    exit 1
fi

# run NAME ARGS...: $T/NAME.out, $T/NAME.err and $RC
run() {
    name=$1
    shift
    "$GAN" "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# expect NAME STATUS 'ERE' ARGS...: the exit status and, on stderr, a line
# matching the (case-insensitive) extended regular expression.
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

run gan-help --help
if [ "$RC" -eq 0 ] && grep -q -- "--model NAME" "$T/gan-help.out"; then pass gan-help
else fail gan-help "exit $RC: $(oneline "$T/gan-help.out")"; fi

expect gan-model 2 "--model: expects dcgan or cgan" --model wgan
expect gan-epochs 2 "--epochs: expects a whole number" --epochs 0
expect gan-limit 2 "--limit: expects a whole number" --limit 12x
expect gan-unknown 2 "--frobnicate: unknown option" --frobnicate 1
expect gan-no-value 2 "--seed: needs a value" --seed
expect gan-stray 2 "cgan: unexpected argument" cgan
expect gan-no-data 1 "dataset-fashion-mnist" --data "$T/no-such-dir"

if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    fail gan-run "no Fashion-MNIST in $FMNIST (make deps installs dataset-fashion-mnist)"
    exit 0
fi
mkdir -p "$T/trunc"
head -c 3000 "$FMNIST/train-images-idx3-ubyte.gz" >"$T/trunc/train-images-idx3-ubyte.gz"
cp "$FMNIST/train-labels-idx1-ubyte.gz" "$T/trunc/"
expect gan-truncated 1 "train-images-idx3-ubyte.gz: truncated" --data "$T/trunc" --limit 128

# is_grid FILE: a PNG (signature, IHDR first, IEND last) of 10 x 10 cells
# of 2 + 56 pixels and a 2-pixel border: 582 x 582, 8-bit gray.
is_grid() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
        [ "$(head -c 16 "$1" | tail -c 4)" = IHDR ] && [ "$(tail -c 8 "$1" | head -c 4)" = IEND ] &&
        [ "$(head -c 26 "$1" | tail -c 10 | od -An -tx1 | tr -d ' \n')" = 00000246000002460800 ]
}

# csv_ok FILE EPOCHS: the header, then epochs 0 .. EPOCHS, each of 8 fields:
# numbers (epoch 0 without losses), losses positive, figures in [0, 1].
csv_ok() {
    awk -F, -v last="$2" '
        NR == 1 { ok = $0 == "epoch,loss_d,loss_g,d_real,d_fake,acc_real,acc_fake,seconds"; next }
        {
            n++
            if (NF != 8 || $1 != NR - 2) ok = 0
            for (i = 2; i <= 8; i++) {
                if (NR == 2 && i <= 3) { if ($i != "") ok = 0; continue }
                if ($i !~ /^[0-9]+\.[0-9]+$/) ok = 0
                if (i <= 3 && $i + 0 <= 0) ok = 0
                if (i >= 4 && i <= 7 && $i + 0 > 1) ok = 0
            }
        }
        END { exit !(ok && n == last + 1) }' "$1"
}

# gap EPOCH: D(x) - D(G(z)), D's mean probability of "real" for test images
# less that for generated ones, from the log
gap() { awk -F, -v e="$1" '$1 == e { print $4 - $5 }' "$T/dc/dcgan_log.csv"; }

mkdir -p "$T/dc" "$T/dc2" "$T/dc3" "$T/cg"
run gan-dcgan --limit 192 --epochs 2 --out "$T/dc"
if [ "$RC" -ne 0 ]; then
    fail gan-dcgan "exit $RC: $(oneline "$T/gan-dcgan.err")"
elif ! grep -q "^epoch   2 | loss D [0-9.]* G [0-9.]*" "$T/gan-dcgan.out"; then
    fail gan-dcgan "no line for epoch 2: $(oneline "$T/gan-dcgan.out")"
elif ! is_grid "$T/dc/dcgan_real.png" || ! is_grid "$T/dc/dcgan_epoch_000.png" ||
     ! is_grid "$T/dc/dcgan_epoch_001.png" || ! is_grid "$T/dc/dcgan_epoch_002.png"; then
    fail gan-dcgan "missing or malformed PNG files in $T/dc: $(ls "$T/dc" | tr '\n' ' ')"
elif ! csv_ok "$T/dc/dcgan_log.csv" 2; then
    fail gan-dcgan "malformed log: $(oneline "$T/dc/dcgan_log.csv")"
elif [ "$(head -c 9 "$T/dc/dcgan_checkpoint.safetensors" | tail -c 1)" != "{" ] ||
     ! grep -q "optimizer\.g\.G\.fc\.weight\.exp_avg" "$T/dc/dcgan_checkpoint.safetensors"; then
    fail gan-dcgan "no checkpoint with both optimizers' state in $T/dc"
elif ! awk -v a="$(gap 0)" -v b="$(gap 2)" 'BEGIN { exit !(b > a + 0.3) }'; then
    fail gan-dcgan "D(x) - D(G(z)) did not rise by 0.3 in 6 steps: $(gap 0) -> $(gap 2)"
else
    pass gan-dcgan
fi

# The same seed gives the same log (but the times) and images; another seed others.
run gan-again --limit 192 --epochs 2 --out "$T/dc2"
cut -d, -f1-7 "$T/dc/dcgan_log.csv" >"$T/a.csv"
cut -d, -f1-7 "$T/dc2/dcgan_log.csv" >"$T/b.csv" 2>/dev/null
if [ "$RC" -eq 0 ] && cmp -s "$T/a.csv" "$T/b.csv" &&
   cmp -s "$T/dc/dcgan_epoch_002.png" "$T/dc2/dcgan_epoch_002.png"; then pass gan-deterministic
else fail gan-deterministic "exit $RC; a second run differs: $(diff "$T/a.csv" "$T/b.csv" | head -3 | tr '\n' ' ')"; fi
run gan-seed --limit 64 --epochs 1 --seed 7 --out "$T/dc3"
if [ "$RC" -eq 0 ] && is_grid "$T/dc3/dcgan_epoch_000.png" &&
   ! cmp -s "$T/dc/dcgan_epoch_000.png" "$T/dc3/dcgan_epoch_000.png"; then pass gan-seed
else fail gan-seed "exit $RC, or seed 7's initial images are seed 0's: $(oneline "$T/gan-seed.err")"; fi

run gan-cgan --model cgan --limit 128 --epochs 1 --out "$T/cg"
if [ "$RC" -ne 0 ]; then
    fail gan-cgan "exit $RC: $(oneline "$T/gan-cgan.err")"
elif ! is_grid "$T/cg/cgan_real.png" || ! is_grid "$T/cg/cgan_epoch_001.png" ||
     ! csv_ok "$T/cg/cgan_log.csv" 1 || [ ! -s "$T/cg/cgan_checkpoint.safetensors" ]; then
    fail gan-cgan "missing or malformed files in $T/cg: $(ls "$T/cg" | tr '\n' ' ')"
else
    pass gan-cgan
fi

expect gan-unwritable 1 "no-such-dir/dcgan_real.png: No such file" --limit 64 --epochs 1 --out "$T/no-such-dir"
