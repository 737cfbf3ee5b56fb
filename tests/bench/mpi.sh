#!/usr/bin/env bash
# tests/bench/mpi.sh [RUNS] - the figures of docs/scaling.md: `tapegrad compare` and
# data-parallel `tapegrad train` on the digits at 1 and 2 ranks, wall time by hyperfine
# (median, min .. max of RUNS runs, default 10), and inside train the time in epochs and in the
# gradient sum (the line rank 0 prints), against MPI_Allreduce of the same size alone
# (tests/bench/mpi_allreduce.c). Needs both builds (make; make MPI=1), hyperfine and
# python3-sklearn (the digits). One BLAS thread per process throughout. The machine's load is
# printed first and last: figures taken under load are not worth keeping. See LICENSE.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
plain=build/bin/tapegrad
mpi=build-mpi/bin/tapegrad
for b in "$plain" "$mpi"; do [ -x "$b" ] || { echo "bench/mpi: build $b first" >&2; exit 2; }; done
command -v hyperfine >/dev/null || { echo "bench/mpi: apt-get install -y hyperfine" >&2; exit 2; }
export OPENBLAS_NUM_THREADS=1
mpirun=(mpirun)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

# median (min .. max) of the numbers on standard input
stats() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3g (%.3g .. %.3g)", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'; }

wall() { # wall NAME COMMAND: hyperfine's median (min .. max) in seconds
    hyperfine --style none --warmup 1 --runs "$runs" --export-json "$tmp/h.json" "$2" >/dev/null 2>&1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; t=sorted(r["times"]);
print("%-44s wall %.3f s (%.3f .. %.3f)" % (sys.argv[2], r["median"], t[0], t[-1]))' "$tmp/h.json" "$1"
}

echo
echo "== compare: 4 activations x 3 seeds, 60 epochs of spirals (12 runs)"
args="compare --activation relu --activation tanh --activation gelu --activation 'x*sigmoid(1.702*x)' --seeds 3 --epochs 60"
wall "plain command" "$plain $args"
wall "mpirun -np 1" "${mpirun[*]} -np 1 $mpi $args"
wall "mpirun -np 2" "${mpirun[*]} -np 2 $mpi $args"

for batch in 32 256; do
    echo
    echo "== train: digits, 64-64-10, 30 epochs, batch $batch"
    args="train --data digits --layers 64,64,10 --epochs 30 --batch $batch --json"
    wall "plain command, whole batches" "$plain $args"
    wall "plain command, --chunks 8" "$plain $args --chunks 8"
    wall "mpirun -np 1 (8 chunks)" "${mpirun[*]} -np 1 $mpi $args"
    wall "mpirun -np 2 (8 chunks)" "${mpirun[*]} -np 2 $mpi $args"
    for how in "plain whole" "plain chunks" "np1" "np2"; do
        : >"$tmp/ep"
        : >"$tmp/sum"
        for _ in $(seq "$runs"); do
            case $how in
            "plain whole") $plain $args 2>/dev/null >"$tmp/o" ;;
            "plain chunks") $plain $args --chunks 8 2>/dev/null >"$tmp/o" ;;
            np1) "${mpirun[@]}" -np 1 $mpi $args 2>/dev/null >"$tmp/o" ;;
            np2) "${mpirun[@]}" -np 2 $mpi $args 2>"$tmp/e" >"$tmp/o"
                 sed -n 's/.* took \([0-9.]*\) s.*/\1/p' "$tmp/e" >>"$tmp/sum" ;;
            esac
            sed 's/.*"seconds": \([0-9.e-]*\).*/\1/' "$tmp/o" >>"$tmp/ep"
        done
        printf '  %-14s epochs %s s' "$how" "$(stats <"$tmp/ep")"
        [ -s "$tmp/sum" ] && printf ', in the gradient sum %s s' "$(stats <"$tmp/sum")"
        echo
    done
done

echo
echo "== MPI_Allreduce alone, 2 ranks: the digits' gradient once (4,810 + 1 doubles), and the"
echo "   2-rank sum's message (2 slots, 6 flags, 2 statuses: 9,630 doubles)"
mkdir -p build-mpi/bench
mpicc -O2 -o build-mpi/bench/mpi_allreduce tests/bench/mpi_allreduce.c
"${mpirun[@]}" -np 2 build-mpi/bench/mpi_allreduce 4811 9630
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
