#!/bin/sh
# peers.sh - issue 6: tapegrad against the hand-written C, ADOL-C and PyTorch (`make bench`).
#
#   tests/bench/peers.sh [BUILD] [peers.py options...]     (BUILD defaults to build)
#
# 1. Installs the peers from Debian's packages when missing -- libadolc-dev (ADOL-C), g++,
#    python3-torch (PyTorch on the CPU, for the system /usr/bin/python3), python3-numpy,
#    python3-sklearn (the digits data of W3) and gnuplot-nox (the W2 plot) -- with apt-get
#    when run as root; otherwise prints the command and runs without what is missing.
# 2. Builds BUILD/bench/peers/tg_peers (tapegrad and the hand-written C; the Makefile's rule
#    builds it too) and BUILD/bench/peers/adolc_peers (g++, -ladolc: a separate C++ program,
#    nothing of ADOL-C goes into the library).
# 3. Runs tests/bench/peers.py: verification, then the interleaved timings and the tables,
#    and redraws docs/img/w2_scaling.png. OPENBLAS_NUM_THREADS=1 for every process.
# See LICENSE.
set -eu
BUILD=${1:-build}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CC=${CC:-cc}
CXX=${CXX:-g++}
PY=/usr/bin/python3
mkdir -p "$BUILD/bench/peers"
OUT=$(cd "$BUILD/bench/peers" && pwd) # absolute: peers.py runs the programs from its data dir

# ---- 1. the peers, from Debian's packages ----
missing=""
[ -f /usr/include/adolc/adolc.h ] || missing="$missing libadolc-dev"
command -v "$CXX" >/dev/null 2>&1 || missing="$missing g++"
$PY -c 'import numpy' 2>/dev/null || missing="$missing python3-numpy"
$PY -c 'import torch' 2>/dev/null || missing="$missing python3-torch"
$PY -c 'import sklearn' 2>/dev/null || missing="$missing python3-sklearn"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "peers.sh: installing$missing"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else
        echo "peers.sh: missing$missing; install with:"
        echo "    sudo apt-get install$missing"
        echo "peers.sh: running without them"
    fi
fi
if ! $PY -c 'import numpy' 2>/dev/null; then
    echo "peers.sh: /usr/bin/python3 has no numpy: the peer benchmarks need it; skipped"
    exit 0
fi

# ---- 2. the programs ----
LIBA=$BUILD/libtapegrad.a
[ -f "$LIBA" ] || { echo "peers.sh: $LIBA missing: run make first"; exit 1; }
if [ ! -x "$OUT/tg_peers" ] || [ "$OUT/tg_peers" -ot "$HERE/peers/tg_peers.c" ] \
   || [ "$OUT/tg_peers" -ot "$HERE/mlp_model.h" ] \
   || [ "$OUT/tg_peers" -ot "$LIBA" ]; then
    $CC -std=c11 -Wall -Wextra -Wpedantic -Werror -O3 -g -D_POSIX_C_SOURCE=200809L \
        -I"$ROOT/include" -o "$OUT/tg_peers" "$HERE/peers/tg_peers.c" "$LIBA" -lopenblas -lm -ldl
fi
rm -f "$OUT/adolc_peers.new"
if [ -f /usr/include/adolc/adolc.h ] && command -v "$CXX" >/dev/null 2>&1; then
    if [ ! -x "$OUT/adolc_peers" ] || [ "$OUT/adolc_peers" -ot "$HERE/peers/adolc_peers.cpp" ]; then
        $CXX -std=c++17 -O3 -Wall -Wextra -o "$OUT/adolc_peers" "$HERE/peers/adolc_peers.cpp" -ladolc
    fi
else
    rm -f "$OUT/adolc_peers"
fi

# ---- 3. run ----
PLOT=""
[ -d "$ROOT/docs" ] && mkdir -p "$ROOT/docs/img" && PLOT="--plot $ROOT/docs/img/w2_scaling.png"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
exec $PY "$HERE/peers.py" --bin "$OUT" $PLOT "$@"
