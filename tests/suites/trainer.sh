#!/bin/sh
# The Fashion-MNIST trainer (examples/train.c) with models/mlp.net on a few
# thousand images: a short run learns and writes its log, plot and
# checkpoint; runs are deterministic; a resumed run continues exactly as an
# uninterrupted one; bad data, an unfit model and a failing run give a clear
# error, a non-zero exit and leave an existing checkpoint as it was.
# Prints PASS/FAIL lines for tests/runner.c; runs after `make all`.
cd "$(dirname "$0")/../.." || exit 1
T=build/test/trainer
rm -rf "$T" && mkdir -p "$T"
DATA=/usr/share/datasets/fashion-mnist  # the trainer's default --data
TRAIN=build/train/mlp/train
N=2000                  # --limit: 1834 training, 166 validation and 2000 test images
MIN_ACC=60              # % on the test images after 2 epochs; mlp reaches about 71

pass() { echo "PASS trainer-$1"; }
fail() { echo "FAIL trainer-$1: $2"; }
oneline() { tr '\n' ' ' <"$1" | cut -c 1-300; }

if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    fail data "no Fashion-MNIST in $DATA (make deps installs dataset-fashion-mnist)"
    exit 1
fi
if ! make -s "$TRAIN" >"$T/make.log" 2>&1; then
    fail build "make $TRAIN: $(oneline "$T/make.log")"
    exit 1
fi

# run NAME TRAINER ARGS...: $T/NAME.out, $T/NAME.err and $RC
run() {
    name=$1 prog=$2
    shift 2
    "$prog" "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# has FILE ERE...: every pattern matches somewhere in FILE (case-insensitive)
has() {
    f=$1
    shift
    for re in "$@"; do
        grep -Eqi -- "$re" "$f" || return 1
    done
}

# The CSV without its last column (seconds, which differs from run to run).
csv_cut() { cut -d, -f1-7 "$1"; }

# the trainer keeps the best epoch's checkpoint in a temporary file: here,
# to check that every run removes it
TMPDIR="$T/tmp"
export TMPDIR
mkdir -p "$TMPDIR"

SENTINEL="$T/sentinel.ckpt"
printf 'an earlier checkpoint, which a failing run must leave alone\n' >"$SENTINEL"

# expect_error NAME TRAINER 'ERE...' ARGS...: exit status 1, stderr matching
# every ERE of the space-separated list, and --checkpoint (a copy of
# $SENTINEL) untouched.
expect_error() {
    name=$1 prog=$2 res=$3
    shift 3
    cp "$SENTINEL" "$T/$name.ckpt"
    run "$name" "$prog" "$@" --checkpoint "$T/$name.ckpt"
    set -f  # the patterns are words, not file names
    # shellcheck disable=SC2086
    has "$T/$name.err" $res
    matched=$?
    set +f
    if [ "$RC" -ne 1 ]; then
        fail "$name" "exit status $RC, expected 1: $(oneline "$T/$name.err")"
    elif [ "$matched" -ne 0 ]; then
        fail "$name" "expected an error matching '$res', got: $(oneline "$T/$name.err")"
    elif ! cmp -s "$SENTINEL" "$T/$name.ckpt"; then
        fail "$name" "the failing run overwrote the existing checkpoint $T/$name.ckpt"
    else
        pass "$name"
    fi
}

# ---- the command line -------------------------------------------------------

run help "$TRAIN" --help
[ "$RC" -eq 0 ] && has "$T/help.out" "^usage: train" "--resume" "--checkpoint" "--limit" \
    && pass help || fail help "exit $RC: $(oneline "$T/help.out")"

run usage "$TRAIN" --epochs 0
[ "$RC" -eq 2 ] && has "$T/usage.err" "--epochs" "whole number" \
    && pass usage || fail usage "exit $RC, expected 2: $(oneline "$T/usage.err")"

# ---- a short run ----------------------------------------------------------------

A="$T/a"
cp "$SENTINEL" "$A.ckpt"   # a successful run replaces an earlier checkpoint
run a "$TRAIN" --limit $N --epochs 2 --csv "$A.csv" --plot "$A.svg" --checkpoint "$A.ckpt"
if [ "$RC" -ne 0 ]; then
    fail run "exit status $RC: $(oneline "$A.err")"
else
    pass run
fi

# progress (stderr is not a terminal: one line per epoch) and the epoch lines
if has "$A.err" "^epoch 1/2: [0-9]+ batches, loss [0-9.]+" "^epoch 2/2: [0-9]+ batches, loss [0-9.]+" \
   && has "$A.out" "^epoch +1/2 \| train loss [0-9.]+ .*\| test acc" "^epoch +2/2 \| train loss [0-9.]+ .*\| test acc"; then
    pass progress
else
    fail progress "no progress or epoch lines: $(oneline "$A.err") / $(grep -i epoch "$A.out" | tr '\n' ' ')"
fi

# the final accuracy: clearly above chance, and that of the epoch it names in the CSV
acc=$(sed -n 's/^test accuracy: *\([0-9.]*\)%.*/\1/p' "$A.out")
if [ -z "$acc" ]; then
    fail accuracy "no 'test accuracy:' line: $(tail -n 2 "$A.out" | tr '\n' ' ')"
elif awk -v a="$acc" -v m=$MIN_ACC 'BEGIN { exit !(a > m) }'; then
    pass accuracy
else
    fail accuracy "test accuracy $acc% after 2 epochs, expected above $MIN_ACC%"
fi
used=$(sed -n 's/^test accuracy: .* after \([0-9]*\) epoch.*/\1/p' "$A.out")
csv_acc=$(awk -F, -v e="$used" 'NR > 1 && $1 == e { printf "%.2f", 100 * $6 }' "$A.csv" 2>/dev/null)
[ -n "$acc" ] && [ "$csv_acc" = "$acc" ] && pass accuracy-matches-log \
    || fail accuracy-matches-log "final $acc% after ${used:-?} epochs, the CSV's test_acc of that epoch: ${csv_acc:-none}"

# the confusion matrix: every test image once, its diagonal the correct ones
awk '/^confusion matrix/ { on = 1; next }
     on && /^ ?[0-9] [A-Za-z]/ { rows++; for (j = 0; j < 10; j++) { v = substr($0, 16 + 6 * j, 6) + 0; n += v; if (j == rows - 1) d += v } }
     /^test accuracy:/ { split($0, w, /[(]/); split(w[2], k, / /); want_d = k[1] + 0; want_n = k[3] + 0 }
     END { exit !(rows == 10 && n == want_n && d == want_d && n > 0) }' "$A.out" \
    && pass confusion || fail confusion "rows don't add up to the test images and the correct count: $(grep -A 12 '^confusion' "$A.out" | tr '\n' '|')"

# the CSV: a header and one complete row per epoch; training lowers the loss
if [ ! -s "$A.csv" ]; then
    fail csv "no CSV written"
elif ! head -n 1 "$A.csv" | grep -q '^epoch,train_loss,.*test_acc.*,seconds$'; then
    fail csv "bad header: $(head -n 1 "$A.csv")"
elif ! awk -F, 'NR > 1 { rows++; if (NF != 8 || $1 != rows) bad = 1
                         for (i = 2; i <= 8; i++) if ($i !~ /^[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$/) bad = 1
                         loss[rows] = $2 }
                END { exit !(rows == 2 && !bad && loss[2] < loss[1] && loss[1] > 0) }' "$A.csv"; then
    fail csv "expected 2 complete rows, epochs 1 and 2, the loss going down: $(tr '\n' '|' <"$A.csv")"
else
    pass csv
fi

# the plot: a complete SVG with a line per curve (loss: training and
# validation; accuracy: training, validation, test) and no NaN coordinates
if [ ! -s "$A.svg" ]; then
    fail svg "no plot written"
elif ! head -n 1 "$A.svg" | grep -q '^<?xml' || ! grep -q '<svg' "$A.svg" \
     || [ "$(tail -n 1 "$A.svg")" != "</svg>" ]; then
    fail svg "not a complete SVG document: $(head -c 100 "$A.svg") ... $(tail -c 40 "$A.svg")"
elif [ "$(grep -Ec '<(polyline|path) [^>]*(points|d)="[-0-9., MLml]+"' "$A.svg")" -lt 5 ]; then
    fail svg "expected 5 curves with coordinates: $(grep -E 'polyline|path' "$A.svg" | head -n 3 | tr '\n' ' ')"
elif grep -Eqi '(points|d|x|y|cx|cy)="[^"]*(nan|inf)' "$A.svg"; then
    fail svg "non-finite coordinates: $(grep -Ei '="[^"]*(nan|inf)' "$A.svg" | head -n 2 | tr '\n' ' ')"
elif command -v xmllint >/dev/null 2>&1 && ! xmllint --noout "$A.svg" 2>"$T/xmllint.err"; then
    fail svg "not well-formed XML: $(oneline "$T/xmllint.err")"
else
    pass svg
fi

# the checkpoint: a safetensors file (8-byte header length, then JSON)
# with the parameters, the optimizer state and the step count of 2 epochs
ntrain=$(sed -n 's/^data: *\([0-9]*\) training.*/\1/p' "$A.out")
batch=$(sed -n 's/^model: .*, batch \([0-9]*\),.*/\1/p' "$A.out")
steps=$(( 2 * ((${ntrain:-0} + ${batch:-1} - 1) / ${batch:-1}) ))
if [ ! -s "$A.ckpt" ] || cmp -s "$SENTINEL" "$A.ckpt"; then
    fail checkpoint "no checkpoint written"
elif [ "$(dd if="$A.ckpt" bs=1 skip=8 count=1 2>/dev/null)" != "{" ] \
     || ! head -c 4096 "$A.ckpt" | grep -aq '"fc1.weight"' \
     || ! head -c 4096 "$A.ckpt" | grep -aq '"optimizer\.fc1\.weight\.momentum_buffer"'; then
    fail checkpoint "not a safetensors checkpoint with fc1.weight and its momentum: $(head -c 120 "$A.ckpt" | tr -cd '[:print:]')"
elif ! grep -q "^checkpoint: .*(step $steps)" "$A.out"; then
    fail checkpoint "expected step $steps (2 epochs of $ntrain images, batch $batch): $(grep '^checkpoint' "$A.out")"
else
    pass checkpoint
fi

# ---- determinism ---------------------------------------------------------------

B="$T/b"
run b "$TRAIN" --limit $N --epochs 2 --csv "$B.csv" --checkpoint "$B.ckpt"
if [ "$RC" -ne 0 ]; then
    fail deterministic "second run: exit status $RC: $(oneline "$B.err")"
elif [ "$(csv_cut "$A.csv")" != "$(csv_cut "$B.csv")" ]; then
    fail deterministic "two runs logged different numbers: $(csv_cut "$A.csv" | tr '\n' '|') vs $(csv_cut "$B.csv" | tr '\n' '|')"
elif ! cmp -s "$A.ckpt" "$B.ckpt"; then
    fail deterministic "two runs saved different checkpoints"
else
    pass deterministic
fi

# another --seed: other initial parameters and another shuffle
run seed "$TRAIN" --limit $N --epochs 1 --seed 7 --csv "$T/seed.csv"
if [ "$RC" -ne 0 ]; then
    fail seed "exit status $RC: $(oneline "$T/seed.err")"
elif [ "$(csv_cut "$T/seed.csv" | sed -n 2p | cut -d, -f2)" = "$(csv_cut "$A.csv" | sed -n 2p | cut -d, -f2)" ]; then
    fail seed "--seed 7 gave the training loss of seed 0"
else
    pass seed
fi

# ---- resume: 1 epoch, then the 2nd from its checkpoint, equals 2 in one go ---

C="$T/c"
run c1 "$TRAIN" --limit $N --epochs 1 --csv "$C.1.csv" --checkpoint "$C.1.ckpt"
rc1=$RC
run c2 "$TRAIN" --limit $N --epochs 2 --resume "$C.1.ckpt" --csv "$C.2.csv" --checkpoint "$C.2.ckpt"
if [ "$rc1" -ne 0 ] || [ "$RC" -ne 0 ]; then
    fail resume "exit status $rc1 then $RC: $(oneline "$T/c1.err") / $(oneline "$T/c2.err")"
elif ! grep -q "^resumed: .*epoch 1 done" "$T/c2.out"; then
    fail resume "no 'resumed: ... epoch 1 done' line: $(head -n 5 "$T/c2.out" | tr '\n' ' ')"
elif [ "$(csv_cut "$C.1.csv" | sed -n 2p)" != "$(csv_cut "$A.csv" | sed -n 2p)" ]; then
    fail resume "epoch 1 differs from the 2-epoch run's: $(csv_cut "$C.1.csv" | sed -n 2p) vs $(csv_cut "$A.csv" | sed -n 2p)"
elif [ "$(csv_cut "$C.2.csv" | sed -n '2,$p')" != "$(csv_cut "$A.csv" | sed -n 3p)" ]; then
    fail resume "the resumed epoch 2 differs from the uninterrupted one: $(csv_cut "$C.2.csv" | sed -n '2,$p' | tr '\n' '|') vs $(csv_cut "$A.csv" | sed -n 3p)"
elif ! cmp -s "$C.2.ckpt" "$A.ckpt"; then
    fail resume "the resumed run's final checkpoint differs from the uninterrupted run's"
else
    pass resume
fi

# early stopping across a resume: with --lr 0.1 epoch 3's validation loss
# is above epoch 2's, so 3 epochs in one go end with epoch 2 restored; so
# must 2 epochs and a resumed 3rd.  The final lines and checkpoints agree.
E="$T/e"
run e "$TRAIN" --limit $N --lr 0.1 --epochs 3 --checkpoint "$E.ckpt"
rc0=$RC
run e1 "$TRAIN" --limit $N --lr 0.1 --epochs 2 --checkpoint "$E.1.ckpt"
rc1=$RC
run e2 "$TRAIN" --limit $N --lr 0.1 --epochs 3 --resume "$E.1.ckpt" --checkpoint "$E.2.ckpt"
final() { sed -n 's/^\(test accuracy: .*\), [0-9.]* s$/\1/p' "$1"; }  # without the seconds
if [ "$rc0" -ne 0 ] || [ "$rc1" -ne 0 ] || [ "$RC" -ne 0 ]; then
    fail resume-early-stopping "exit status $rc0, $rc1, $RC: $(oneline "$T/e.err") / $(oneline "$T/e2.err")"
elif ! grep -q "^restored epoch 2" "$T/e.out"; then
    fail resume-early-stopping "the uninterrupted run did not restore epoch 2, the case this checks: $(grep -E '^(epoch|restored)' "$T/e.out" | tr '\n' '|')"
elif [ "$(final "$T/e.out")" != "$(final "$T/e2.out")" ] || ! cmp -s "$E.ckpt" "$E.2.ckpt"; then
    fail resume-early-stopping "uninterrupted: '$(final "$T/e.out")', resumed: '$(final "$T/e2.out")'$(cmp -s "$E.ckpt" "$E.2.ckpt" || echo ', the checkpoints differ')"
else
    pass resume-early-stopping
fi

expect_error resume-not-checkpoint "$TRAIN" "sentinel\.ckpt resume" --limit $N --epochs 1 --resume "$SENTINEL"
expect_error resume-missing "$TRAIN" "no-such\.ckpt resume" --limit $N --epochs 1 --resume "$T/no-such.ckpt"

# ---- a run that fails after an epoch leaves an existing checkpoint alone -----

# the plot cannot be written: the run stops after epoch 1 (after saving its
# best checkpoint so far somewhere)
expect_error fail-after-epoch "$TRAIN" "no-dir/p\.svg" --limit $N --epochs 2 --plot "$T/no-dir/p.svg"
# a learning rate that makes the loss overflow in the first epoch
expect_error nonfinite-loss "$TRAIN" "epoch.1 batch (nan|infinite|finite)" --limit $N --epochs 2 --lr 1e30

# ---- bad data -----------------------------------------------------------------

# be32 N: N as 4 big-endian bytes
be32() {
    # shellcheck disable=SC2059  # the format is the octal escapes
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"
}
# images SPLIT N [MAGIC [COLS]]: the uncompressed IDX file of the first N images
images() {
    be32 "${3:-2051}"; be32 "$2"; be32 28; be32 "${4:-28}"
    gzip -dc "$DATA/$1-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($2 * 784))
}
# labels SPLIT N [DECLARED]: the first N labels, the header declaring DECLARED
labels() {
    be32 2049; be32 "${3:-$2}"
    gzip -dc "$DATA/$1-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$2"
}
NTR=256 NTE=128
GOOD="$T/data/good"
mkdir -p "$GOOD"
images train $NTR | gzip -n >"$GOOD/train-images-idx3-ubyte.gz"
labels train $NTR | gzip -n >"$GOOD/train-labels-idx1-ubyte.gz"
images t10k $NTE | gzip -n >"$GOOD/t10k-images-idx3-ubyte.gz"
labels t10k $NTE | gzip -n >"$GOOD/t10k-labels-idx1-ubyte.gz"

# variant NAME FILE: a copy of the good data set; FILE (a base name) is
# written from stdin, gzip'ed unless RAW=1.  Prints the directory.
variant() {
    d="$T/data/$1"
    mkdir -p "$d" && cp "$GOOD"/*.gz "$d/"
    if [ "${RAW:-0}" = 1 ]; then cat >"$d/$2"; else gzip -n >"$d/$2"; fi
    echo "$d"
}

# the good small set trains, so what fails below fails for its defect
run data-good "$TRAIN" --data "$GOOD" --epochs 1
[ "$RC" -eq 0 ] && grep -q "^data: .*$NTE test images" "$T/data-good.out" \
    && pass data-good || fail data-good "exit $RC: $(oneline "$T/data-good.err")"

TI=train-images-idx3-ubyte.gz TL=train-labels-idx1-ubyte.gz
XI=t10k-images-idx3-ubyte.gz XL=t10k-labels-idx1-ubyte.gz

d=$(images train $NTR 2052 | variant bad-magic $TI)
expect_error data-bad-magic "$TRAIN" "$TI magic 0x0*804 0x0*803" --data "$d" --epochs 1

d=$(RAW=1 variant labels-for-images $XI <"$GOOD/$XL")
expect_error data-labels-for-images "$TRAIN" "$XI magic label" --data "$d" --epochs 1

d=$(images train $NTR 2051 27 | variant bad-dims $TI)
expect_error data-bad-dims "$TRAIN" "$TI 28x27 28x28" --data "$d" --epochs 1

d=$(: | RAW=1 variant empty $TL)
expect_error data-empty "$TRAIN" "$TL empty" --data "$d" --epochs 1

# the images end in the middle of record 100
d=$(images train $NTR | head -c $((16 + 100 * 784 + 300)) | variant truncated $TI)
expect_error data-truncated "$TRAIN" "$TI truncated record.100" --data "$d" --epochs 1

# the gzip stream itself cut in half
size=$(wc -c <"$GOOD/$TI")
d=$(head -c $((size / 2)) "$GOOD/$TI" | RAW=1 variant truncated-gzip $TI)
expect_error data-truncated-gzip "$TRAIN" "$TI truncated record.[0-9]+" --data "$d" --epochs 1

# the gzip trailer's CRC altered: the data inflates but does not check
d=$(variant bad-crc $XI </dev/null)
cp "$GOOD/$XI" "$d/$XI"
size=$(wc -c <"$d/$XI")
byte=$(od -An -tu1 -j $((size - 8)) -N 1 "$d/$XI" | tr -d ' ')
# shellcheck disable=SC2059
printf "$(printf '\\%03o' $((byte ^ 255)))" | dd of="$d/$XI" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
expect_error data-bad-crc "$TRAIN" "$XI corrupt gzip" --data "$d" --epochs 1

d=$(labels train $NTR | { cat; printf 'xyz'; } | variant trailing $TL)
expect_error data-trailing "$TRAIN" "$TL after the last" --data "$d" --epochs 1

# the labels file declares (and holds) one label fewer than the images
d=$(labels train $((NTR - 1)) | variant count-mismatch $TL)
expect_error data-count-mismatch "$TRAIN" "$TI $TL $NTR.images $((NTR - 1)).labels" --data "$d" --epochs 1

# record 37 of the test labels is 10
labels t10k $NTE >"$T/data/labels.raw"
d=$({ head -c $((8 + 37)) "$T/data/labels.raw"; printf '\012'; tail -c +$((8 + 37 + 2)) "$T/data/labels.raw"; } \
    | variant label-range $XL)
expect_error data-label-range "$TRAIN" "$XL record.37 label.10" --data "$d" --epochs 1

d="$T/data/missing"
mkdir -p "$d" && cp "$GOOD/$TI" "$GOOD/$TL" "$GOOD/$XI" "$d/"
expect_error data-missing "$TRAIN" "$XL open" --data "$d" --epochs 1

# ---- data and batch sizes --------------------------------------------------------

# 50 images: 46 for training after the validation split, fewer than a batch of 64
expect_error batch-too-large "$TRAIN" "batch 64 46.images" --limit 50 --epochs 1
expect_error val-too-large "$TRAIN" "--val training" --limit 100 --val 100 --epochs 1

# ---- models the trainer cannot train ----------------------------------------------

# build_trainer NAME: compiles $T/NAME/NAME.net (model NAME) into $T/NAME/train
# as the Makefile's build/train rule does
build_trainer() {
    dir="$T/$1"
    build/dlc "$dir/$1.net" -o "$dir/model.c" >"$dir/build.log" 2>&1 \
        && ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic \
               -Wno-missing-field-initializers -Werror -O0 -Iruntime -Iexamples \
               -DMODEL_INFO="$1_info" -o "$dir/train" examples/train.c examples/plot.c \
               examples/fashion_mnist.c "$dir/model.c" build/libdlcrt.a -lz -lm >>"$dir/build.log" 2>&1
}

mkdir -p "$T/small_input"
cat >"$T/small_input/small_input.net" <<'EOF'
model small_input
input x[3, 8, 8]
logits = flatten(x) |> dense(10)
output logits
train {
  loss      = cross_entropy(logits)
  optimizer = sgd(lr=0.01)
  batch     = 4
}
EOF
if build_trainer small_input; then
    expect_error model-input-shape "$T/small_input/train" "small_input 3.+8.+8 28.+28" --data "$GOOD" --epochs 1
else
    fail model-input-shape "building the trainer failed: $(oneline "$T/small_input/build.log")"
fi

mkdir -p "$T/no_train"
cat >"$T/no_train/no_train.net" <<'EOF'
model no_train
input x[1, 28, 28]
logits = flatten(x) |> dense(10)
output logits
EOF
if build_trainer no_train; then
    expect_error model-no-train "$T/no_train/train" "no_train train.section" --data "$GOOD" --epochs 1
else
    fail model-no-train "building the trainer failed: $(oneline "$T/no_train/build.log")"
fi

# ---- the temporary checkpoints of all the runs above are gone -----------------

left=$(ls -A "$TMPDIR")
[ -z "$left" ] && pass temp-files-removed || fail temp-files-removed "left in $TMPDIR: $left"
