#!/bin/sh
# The demo: installs what is missing (tools/install-deps.sh), builds dlc and
# its runtime, compiles models/lenet5.net with dlc into build/demo/, builds
# examples/infer.c against the generated C and runs it on the Fashion-MNIST
# test set.  Arguments go to infer (e.g. --limit 1000, --weights FILE).
set -e
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}

sh tools/install-deps.sh
# Run by hand (not from make): build on every core.
jobs=""
[ -n "${MAKELEVEL:-}" ] || jobs="-j$(nproc 2>/dev/null || echo 2)"

echo "demo: building dlc and its runtime (build/dlc, build/libdlcrt.a)"
$MAKE -s --no-print-directory ${jobs:+"$jobs"} all
echo "demo: compiling ${DEMO_NET:-models/lenet5.net} with dlc into build/demo/lenet5.c," \
     "and examples/infer.c against it"
$MAKE -s --no-print-directory ${jobs:+"$jobs"} build/demo/infer
echo "demo: running build/demo/infer${*:+ $*}"
echo
exec build/demo/infer "$@"
