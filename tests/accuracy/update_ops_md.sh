#!/bin/sh
# update_ops_md.sh - put the accuracy table tests/test_accuracy.c measures into docs/ops.md,
# between its "accuracy table" markers (bounds are kept as docs/ops.md states them; a new op
# form gets "?" until one is chosen). Run from the source tree's root after `make`; the test
# itself fails whenever docs/ops.md and its measurement disagree. See LICENSE.
set -eu
table=$(mktemp)
trap 'rm -f "$table"' EXIT
make -s build/tests/tapegrad-tests
TAPEGRAD_ACCURACY_TABLE="$table" build/tests/tapegrad-tests --filter 'accuracy/*' >/dev/null 2>&1 || true
[ -s "$table" ] || { echo "update_ops_md.sh: the test wrote no table" >&2; exit 1; }
awk -v table="$table" '
    /<!-- accuracy table: begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- accuracy table: end -->/ { skip = 0 }
    !skip' docs/ops.md > docs/ops.md.new
mv docs/ops.md.new docs/ops.md
echo "docs/ops.md: accuracy table updated"
