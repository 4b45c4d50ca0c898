#!/bin/sh
# `make bench`: every benchmark of bench/ in turn (see bench/README.md).
# Today that is the accuracy benchmark (bench/accuracy.sh), about 40
# minutes on 2 cores; it exits non-zero if a model misses its target.
set -e
cd "$(dirname "$0")/.."
sh bench/accuracy.sh "$@"
