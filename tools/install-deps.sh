#!/bin/sh
# Installs what dlc needs on Debian, and only what is missing: a C compiler
# and make, flex and bison (the grammar), clang (the tests compile generated
# code with it too), zlib (the Fashion-MNIST reader), the Fashion-MNIST
# data set and, for the text example (examples/textgen.c; no test reads
# it), the fortunes package's poems and songs.  Prints one line when
# everything is there.  Idempotent and non-interactive; installing needs
# root (apt-get), checking does not.
set -eu

DATA=/usr/share/datasets/fashion-mnist
CORPUS=/usr/share/games/fortunes/songs-poems

has() { command -v "$1" >/dev/null 2>&1; }

has_zlib() {
    [ -f /usr/include/zlib.h ] || return 1
    for lib in /usr/lib/*/libz.so /usr/lib/libz.so /usr/lib64/libz.so; do
        [ -e "$lib" ] && return 0
    done
    return 1
}

has_data() {
    for f in train-images-idx3 train-labels-idx1 t10k-images-idx3 t10k-labels-idx1; do
        [ -r "$DATA/$f-ubyte.gz" ] || return 1
    done
}

# The Debian packages whose files are missing.
missing() {
    m=""
    { has cc && has make; } || m="$m build-essential"
    has flex || m="$m flex"
    has bison || m="$m bison"
    has clang || m="$m clang"
    has_zlib || m="$m zlib1g-dev"
    has_data || m="$m dataset-fashion-mnist"
    [ -r "$CORPUS" ] || m="$m fortunes"
    echo "${m# }"
}

need=$(missing)
if [ -z "$need" ]; then
    echo "install-deps: everything is present (cc, make, flex, bison, clang, zlib, Fashion-MNIST, fortunes)"
    exit 0
fi

echo "install-deps: missing: $need"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: installing needs root; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends $need" >&2
    exit 1
fi
if ! has apt-get; then
    echo "install-deps: no apt-get here (not Debian?); install the packages above by hand" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086  # $need is a list of package names
apt-get install -y -q --no-install-recommends $need

still=$(missing)
if [ -n "$still" ]; then
    echo "install-deps: still missing after apt-get install: $still" >&2
    exit 1
fi
echo "install-deps: installed $need"
