#!/bin/sh
# The accuracy benchmark (issue 3, item 8; a benchmark, not a CI test):
# trains models/mlp.net, models/lenet5.net and models/cnn_bn.net on
# Fashion-MNIST with the example trainer (examples/train.c, code generated
# by dlc doing every step) and checks the test accuracy of each against its
# target: MLP >= 0.89, LeNet-5 >= 0.91, CNN with batchnorm >= 0.92.
# Prints accuracy, epochs and wall time per model; exits 1 if a target is
# missed.  Logs, CSVs, plots and checkpoints go to build/bench-accuracy/.
#
#   sh bench/accuracy.sh [MODEL...]        (default: mlp lenet5 cnn_bn)
#
# Each model trains for a fixed number of epochs with the learning rate
# annealed to 0 (cosine), CNNs on randomly flipped (and LeNet-5 shifted)
# images; the model after the last epoch is tested.  The validation split
# (the last 5000 training images) is only watched, in the logs.
# Environment: EPOCHS_<model> (e.g. EPOCHS_mlp=40) overrides the epochs below;
# PATIENCE (default 0: off) turns on early stopping; SEED (default 0);
# TRAIN_ARGS goes to every run.
set -eu
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
OUT=build/bench-accuracy
SEED=${SEED:-0}
PATIENCE=${PATIENCE:-0}

# model: target test accuracy, epochs, trainer options
spec() {
    case $1 in
        mlp)    echo "0.89 30 --cosine" ;;
        lenet5) echo "0.91 40 --cosine --flip --shift 1 --lr 0.002" ;;
        cnn_bn) echo "0.92 15 --cosine --flip" ;;
        *)      echo "accuracy: no target for model '$1'" >&2; return 1 ;;
    esac
}

models=${*:-mlp lenet5 cnn_bn}
for m in $models; do spec "$m" >/dev/null; done

jobs=""
[ -n "${MAKELEVEL:-}" ] || jobs="-j$(nproc 2>/dev/null || echo 2)"
$MAKE -s --no-print-directory ${jobs:+"$jobs"} all
mkdir -p "$OUT"

summary="$OUT/summary.txt"
printf '%-8s %8s %9s %7s %9s  %s\n' model target accuracy epochs seconds result > "$summary"
failed=0
for m in $models; do
    set -- $(spec "$m")
    target=$1
    epochs=$(eval "echo \${EPOCHS_$m:-$2}")
    shift 2
    $MAKE -s --no-print-directory ${jobs:+"$jobs"} "build/train/$m/train"
    echo "accuracy: training $m: train --epochs $epochs $* --patience $PATIENCE --seed $SEED" \
         "(log in $OUT/$m.log)"
    start=$(date +%s)
    # shellcheck disable=SC2086  # TRAIN_ARGS is a list of options
    if ! "build/train/$m/train" --epochs "$epochs" "$@" --patience "$PATIENCE" --seed "$SEED" \
            --csv "$OUT/$m.csv" --plot "$OUT/$m.svg" --checkpoint "$OUT/$m.ckpt.safetensors" \
            ${TRAIN_ARGS:-} > "$OUT/$m.log"; then
        echo "accuracy: $m: the trainer failed (see $OUT/$m.log)" >&2
        printf '%-8s %8s %9s %7s %9s  %s\n' "$m" "$target" - - - "TRAINER FAILED" >> "$summary"
        failed=1
        continue
    fi
    seconds=$(($(date +%s) - start))
    # "test accuracy: 91.23% (9123 of 10000): lenet5 after 17 epochs (the best of 22), 812.3 s"
    line=$(grep '^test accuracy:' "$OUT/$m.log" | tail -n 1)
    correct=$(echo "$line" | sed -n 's/.*(\([0-9]*\) of \([0-9]*\)).*/\1/p')
    total=$(echo "$line" | sed -n 's/.*(\([0-9]*\) of \([0-9]*\)).*/\2/p')
    used=$(echo "$line" | sed -n 's/.* after \([0-9]*\) epoch.*/\1/p')
    ran=$(tail -n +2 "$OUT/$m.csv" | wc -l | tr -d ' ')
    acc=$(awk -v c="$correct" -v t="$total" 'BEGIN { printf "%.4f", c / t }')
    if awk -v a="$acc" -v t="$target" 'BEGIN { exit !(a >= t) }'; then
        result=met
    else
        result=MISSED
        failed=1
    fi
    echo "accuracy: $m: test accuracy $acc (target $target, $result), the model of epoch $used" \
         "of $ran trained, ${seconds} s"
    printf '%-8s %8s %9s %7s %9s  %s\n' "$m" "$target" "$acc" "$used/$ran" "$seconds" "$result" >> "$summary"
done

echo
cat "$summary"
echo "(epochs: the epoch whose model was kept / epochs trained; seconds: wall time of training and evaluation)"
echo "machine: $(nproc) cores, $(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
exit $failed
