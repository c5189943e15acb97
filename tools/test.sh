#!/usr/bin/env bash
# The test command: installs what is missing (build and test dependencies),
# builds Ember and runs every test suite with ctest. Oracle tests must find
# PyTorch (EMBER_REQUIRE_ORACLE=1); GPU tests skip, saying so, without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test
bash tools/build.sh "$@"
export EMBER_REQUIRE_ORACLE=1
export EMBER_PYTHON=${EMBER_PYTHON:-/usr/bin/python3}
export EMBER_ORACLE_LOG=$PWD/build/oracle_errors.tsv
rm -f "$EMBER_ORACLE_LOG"
ctest --test-dir build --output-on-failure -j"$(nproc)"
# The worst relative error any oracle comparison reached, forward and backward.
if [[ -s "$EMBER_ORACLE_LOG" ]]; then
  awk -F'\t' '{ n++; if ($3 > f) f = $3; if ($4 > b) b = $4 }
    END { printf "oracle: %d comparisons with PyTorch; worst relative error %.2e forward, %.2e backward\n", n, f, b }' \
    "$EMBER_ORACLE_LOG"
fi
