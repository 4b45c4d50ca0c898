#!/bin/sh
# The demo: installs what is missing (tools/install-deps.sh), builds dlc and
# its runtime, compiles models/lenet5.net with dlc into C (forward, loss,
# backward and Adam, in build/train/lenet5/model.c), builds the trainer
# examples/train.c against it and trains LeNet-5 on Fashion-MNIST with a
# progress bar, printing the test accuracy per epoch, a confusion matrix and
# the final test accuracy.  Arguments go to the trainer and override the
# demo's (e.g. --epochs 20; --help lists them).  DEMO_EPOCHS sets the default.
set -e
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
EPOCHS=${DEMO_EPOCHS:-3}
OUT=build/demo

sh tools/install-deps.sh
# Run by hand (not from make): build on every core.
jobs=""
[ -n "${MAKELEVEL:-}" ] || jobs="-j$(nproc 2>/dev/null || echo 2)"

echo "demo: building dlc and its runtime (build/dlc, build/libdlcrt.a)"
$MAKE -s --no-print-directory ${jobs:+"$jobs"} all
echo "demo: compiling models/lenet5.net with dlc into build/train/lenet5/model.c," \
     "and the trainer examples/train.c against it"
$MAKE -s --no-print-directory ${jobs:+"$jobs"} build/train/lenet5/train
mkdir -p "$OUT"
echo "demo: training LeNet-5 (build/train/lenet5/train --epochs $EPOCHS${*:+ $*}; later options win)"
echo
build/train/lenet5/train --epochs "$EPOCHS" --csv "$OUT/lenet5.csv" --plot "$OUT/lenet5.svg" \
    --checkpoint "$OUT/lenet5.ckpt.safetensors" --save "$OUT/lenet5.safetensors" "$@"
echo
echo "demo: the curves are in $OUT/lenet5.svg, the log in $OUT/lenet5.csv; the trained weights"
echo "      in $OUT/lenet5.safetensors run with: make build/demo/infer && build/demo/infer --weights $OUT/lenet5.safetensors"
echo "demo: longer training: make demo ARGS=\"--epochs 30 --cosine --flip\" (build/train/lenet5/train --help)"
