#!/usr/bin/env bash
# tests/mpi/run.sh MPI_TAPEGRAD SERIAL_TAPEGRAD - the command on MPI ranks (issue 15), run by
# `make test-mpi`. MPI_TAPEGRAD is built with MPI=1, SERIAL_TAPEGRAD without. Under
# `mpirun --oversubscribe -np 2` and `-np 3`:
#   train: the final loss, both accuracies and every weight (--json, --weights) equal one
#     process's with the same options to 1e-12 relative (the same chunks make them the same
#     bits): the MPI command alone, and the plain command given --chunks 8. The difference
#     from whole batches (the plain command's default) is printed, not checked: rounding.
#   compare: the table, its --json and standard error equal one process's, seconds aside.
#   failures: bad data on one rank, a diverging run, a diverging rank, a failing run of
#     compare: a non-zero exit within the timeout, one message from rank 0, as one process
#     says it (a hang fails by the timeout).
# Each check prints one line; the exit status is 1 if any failed. See LICENSE.
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 MPI_TAPEGRAD SERIAL_TAPEGRAD" >&2; exit 2; }
cd "$(dirname "$0")/../.."
mpi_bin=$(readlink -f "$1")
serial_bin=$(readlink -f "$2")
for b in "$mpi_bin" "$serial_bin"; do
    [ -x "$b" ] || { echo "tests/mpi: $b is not built" >&2; exit 2; }
done

MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
TIMEOUT=${TG_MPI_TIMEOUT:-300}      # a run that should succeed
FAIL_TIMEOUT=${TG_MPI_FAIL_TIMEOUT:-60} # a run that should fail, quickly, not hang
export OPENBLAS_NUM_THREADS=1       # one BLAS thread per rank: two cores, up to three ranks

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*"; failed=1; }

# Numbers of two files, token by token (JSON or --weights), with every "seconds" value
# dropped: "same" and the largest relative difference when the words agree and every number
# is within 1e-12 relative, else the first difference.
numdiff() {
    local a=$1 b=$2
    tokens() {
        sed -E 's/"seconds": \{[^}]*\}//g; s/"seconds": [^,}]*//g' "$1" |
            tr -s ' ,:{}[]"\n\t' '\n' | sed '/^$/d'
    }
    paste -d ' ' <(tokens "$a") <(tokens "$b") | awk -v na="$(tokens "$a" | wc -l)" \
        -v nb="$(tokens "$b" | wc -l)" '
        function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        function abs(x) { return x < 0 ? -x : x }
        {
            n++
            if (isnum($1) && isnum($2)) {
                x = $1 + 0; y = $2 + 0; m = abs(x) > abs(y) ? abs(x) : abs(y)
                d = m == 0 ? 0 : abs(x - y) / m
                if (d > worst) worst = d
                if (d > 1e-12) { printf "differ at token %d: %s vs %s (%.3g relative)\n", n, $1, $2, d; bad = 1; exit }
                nums++
            } else if ($1 != $2) { printf "differ at token %d: %s vs %s\n", n, $1, $2; bad = 1; exit }
        }
        END {
            if (bad) exit 1
            if (na != nb) { printf "%d tokens vs %d\n", na, nb; exit 1 }
            printf "same: %d numbers, max relative difference %.3g\n", nums, worst
        }'
}

mpi() { # mpi NP TIMEOUT ARGS...: the MPI command on NP ranks
    local np=$1 t=$2
    shift 2
    timeout "$t" "${MPIRUN[@]}" -np "$np" "$@"
}

# ---- train: P ranks against one process ----

train_case() { # train_case NAME ARGS...
    local name=$1 chunks=(--chunks 8) r
    shift
    case " $* " in *" --chunks "*) chunks=() ;; esac # given: the plain command has them too
    timeout "$TIMEOUT" "$mpi_bin" train "$@" --json --weights "$tmp/w1" >"$tmp/j1" 2>"$tmp/e1" ||
        { bad "train $name: one MPI process failed: $(tail -1 "$tmp/e1")"; return; }
    timeout "$TIMEOUT" "$serial_bin" train "$@" "${chunks[@]}" --json --weights "$tmp/ws" \
        >"$tmp/js" 2>/dev/null || { bad "train $name: the plain command failed"; return; }
    if r=$(numdiff "$tmp/j1" "$tmp/js" && numdiff "$tmp/w1" "$tmp/ws"); then
        ok "train $name: MPI command alone = plain command ${chunks[*]:-with them} ($(echo "$r" | tail -1))"
    else
        bad "train $name: MPI command alone vs plain command ${chunks[*]}: $r"
    fi
    for np in 1 2 3; do
        mpi "$np" "$TIMEOUT" "$mpi_bin" train "$@" --json --weights "$tmp/wp" \
            >"$tmp/jp" 2>"$tmp/ep" || { bad "train $name, np $np: exit $?: $(tail -1 "$tmp/ep")"; continue; }
        [ "$(wc -l <"$tmp/jp")" = 1 ] || { bad "train $name, np $np: --json printed $(wc -l <"$tmp/jp") lines"; continue; }
        if r=$(numdiff "$tmp/jp" "$tmp/j1") && r2=$(numdiff "$tmp/wp" "$tmp/w1"); then
            ok "train $name, np $np: results ${r#same: }; weights ${r2#same: }"
        else
            bad "train $name, np $np against one process: $r ${r2:-}"
        fi
    done
    # whole batches: the same to rounding, which training may amplify; reported only
    [ ${#chunks[@]} = 0 ] && return
    timeout "$TIMEOUT" "$serial_bin" train "$@" --json --weights "$tmp/ww" >"$tmp/jw" 2>/dev/null
    local w
    w=$(paste -d ' ' <(tr ' ' '\n' <"$tmp/ww") <(tr ' ' '\n' <"$tmp/w1") | awk '
        $1 ~ /^[-0-9]/ { x = $1 + 0; y = $2 + 0; m = (x < 0 ? -x : x); if ((y < 0 ? -y : y) > m) m = (y < 0 ? -y : y)
                         d = m ? (x > y ? x - y : y - x) / m : 0; if (d > worst) worst = d }
        END { printf "%.3g", worst }')
    printf 'info  train %s: 8 chunks against whole batches: max relative weight difference %s\n' "$name" "$w"
}

train_case "spirals, adam, 40 epochs" --epochs 40
train_case "moons, momentum lr 0.1, batch 25, 60 epochs" --data moons --opt momentum --lr 0.1 --batch 25 --epochs 60
train_case "xor, sgd, batch 5 (chunks empty), 20 epochs" --data xor --opt sgd --batch 5 --epochs 20
train_case "curve (regression, mse), adam, 30 epochs" --data curve --epochs 30 --layers 1,16,1
train_case "spirals, tanh, 3 chunks, 30 epochs" --activation tanh --chunks 3 --epochs 30
if dpkg -L python3-sklearn 2>/dev/null | grep -q '/datasets/data/digits.csv.gz$'; then
    train_case "digits, 64-32-10, 4 epochs" --data digits --layers 64,32,10 --epochs 4
else
    printf 'skip  train digits: python3-sklearn is not installed\n'
fi

# ---- compare: the runs spread over the ranks ----

compare_case() { # compare_case NAME ARGS...
    local name=$1
    shift
    timeout "$TIMEOUT" "$serial_bin" compare "$@" >"$tmp/cs" 2>"$tmp/ces" ||
        { bad "compare $name: one process failed: $(tail -1 "$tmp/ces")"; return; }
    timeout "$TIMEOUT" "$serial_bin" compare "$@" --json >"$tmp/csj" 2>/dev/null
    for np in 2 3; do
        mpi "$np" "$TIMEOUT" "$mpi_bin" compare "$@" >"$tmp/cp" 2>"$tmp/cep" ||
            { bad "compare $name, np $np: exit $?: $(tail -1 "$tmp/cep")"; continue; }
        # the table without its last column (seconds) on the rows that have one
        if ! diff <(awk 'NR > 2 { $NF = "" } { print }' "$tmp/cs") \
                  <(awk 'NR > 2 { $NF = "" } { print }' "$tmp/cp") >"$tmp/d"; then
            bad "compare $name, np $np: the table differs: $(cat "$tmp/d")"
            continue
        fi
        diff "$tmp/ces" "$tmp/cep" >"$tmp/d" ||
            { bad "compare $name, np $np: standard error differs: $(cat "$tmp/d")"; continue; }
        mpi "$np" "$TIMEOUT" "$mpi_bin" compare "$@" --json >"$tmp/cpj" 2>/dev/null
        local r
        if r=$(numdiff "$tmp/csj" "$tmp/cpj"); then
            ok "compare $name, np $np: the table and stderr as one process's; --json ${r#same: }"
        else
            bad "compare $name, np $np: --json: $r"
        fi
    done
}

compare_case "relu, swish, tanh x 3 seeds, 25 epochs" --activation relu \
    --activation 'x*sigmoid(1.702*x)' --activation tanh --seeds 3 --epochs 25
compare_case "moons, relu vs gelu x 2 seeds, 4 chunks" --data moons --activation relu \
    --activation gelu --seeds 2 --epochs 15 --chunks 4

# ---- failures: a non-zero exit, one message, no hang ----

fails() { # fails NAME WANT_STDERR_FIRST_LINE NP ARGS...: the job fails in time, as told
    local name=$1 want=$2 np=$3
    shift 3
    local start=$SECONDS st
    mpi "$np" "$FAIL_TIMEOUT" "$@" >"$tmp/fo" 2>"$tmp/fe"
    st=$?
    if [ "$st" = 124 ]; then
        bad "$name: still running after ${FAIL_TIMEOUT}s (a hang)"
    elif [ "$st" = 0 ]; then
        bad "$name: exit status 0"
    elif [ "$(head -1 "$tmp/fe")" != "$want" ]; then
        bad "$name: stderr begins '$(head -1 "$tmp/fe")', expected '$want'"
    elif [ "$(grep -c '^tapegrad: ' "$tmp/fe")" != 1 ]; then
        bad "$name: $(grep -c '^tapegrad: ' "$tmp/fe") messages: $(grep '^tapegrad: ' "$tmp/fe")"
    elif [ -s "$tmp/fo" ]; then
        bad "$name: printed on stdout: $(head -1 "$tmp/fo")"
    else
        ok "$name: exit $st after $((SECONDS - start))s: $want"
    fi
}

# rank 2 reads a file with a NaN in it (the others read good data and wait for it)
fails "train, bad data on rank 2 of 3" \
    "tapegrad: rank 2 of 3: train: tests/data/nan.csv:2:3: NaN in the data" 3 \
    sh -c 'd=spirals; [ "$OMPI_COMM_WORLD_RANK" = 2 ] && d=tests/data/nan.csv
           exec "$0" train --epochs 5 --data "$d"' "$mpi_bin"
fails "train, a rank that cannot read its data (rank 1 of 2)" \
    "tapegrad: rank 1 of 2: train: --data: unknown data set 'nowhere' (spirals, moons, xor, curve, digits, or a FILE.csv)" 2 \
    sh -c 'd=spirals; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && d=nowhere
           exec "$0" train --epochs 5 --data "$d"' "$mpi_bin"
want=$("$serial_bin" train --opt sgd --lr 1000 --loss mse --epochs 3 2>&1 >/dev/null)
fails "train, a diverging run on 3 ranks" "$want" 3 \
    "$mpi_bin" train --opt sgd --lr 1000 --loss mse --epochs 3
# rank 1's learning rate blows its chunks up: the summed loss is not finite on every rank
fails "train, one diverging rank of 2" \
    "tapegrad: train: training diverged at epoch 1 (loss inf; try a learning rate below 0.1)" 2 \
    sh -c 'lr=0.1; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && lr=1e9
           exec "$0" train --opt sgd --loss mse --lr "$lr" --epochs 20' "$mpi_bin"
# a run that fails is a row of the table (exit 1), the other runs kept: as one process
set -- compare --activation relu --activation tanh --seeds 3 --epochs 3 --opt sgd --lr 1000 \
    --loss mse
"$serial_bin" "$@" >"$tmp/so" 2>"$tmp/se"
sst=$?
mpi 3 "$FAIL_TIMEOUT" "$mpi_bin" "$@" >"$tmp/fo" 2>"$tmp/fe"
st=$?
if [ "$st" = 124 ]; then
    bad "compare, diverging runs on 3 ranks: still running after ${FAIL_TIMEOUT}s (a hang)"
elif [ "$st" != "$sst" ] || [ "$sst" = 0 ]; then
    bad "compare, diverging runs on 3 ranks: exit $st, one process $sst"
elif ! cmp -s "$tmp/so" "$tmp/fo" || [ "$(head -3 "$tmp/se")" != "$(head -3 "$tmp/fe")" ]; then
    bad "compare, diverging runs on 3 ranks: the table or stderr differs from one process's"
else
    ok "compare, diverging runs on 3 ranks: exit $st, the failed rows and stderr as one process's"
fi
fails "compare, bad data on rank 1 of 2" \
    "tapegrad: rank 1 of 2: compare: tests/data/ragged.csv:3: 2 columns, expected 3 (as on line 1)" 2 \
    sh -c 'd=spirals; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && d=tests/data/ragged.csv
           exec "$0" compare --activation relu --activation tanh --epochs 3 --data "$d"' "$mpi_bin"

if [ "$failed" = 0 ]; then echo "tests/mpi: every check passed"; else echo "tests/mpi: FAILED"; fi
exit "$failed"
