#!/usr/bin/env bash
# Configures and builds Ember in build/ (Release). The CUDA backend is built
# when the CUDA toolkit, cuDNN and cuBLAS are found; pass -DEMBER_CUDA=OFF to
# skip it. Extra arguments go to CMake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$(nproc)"
