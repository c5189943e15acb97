#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for
# SECONDS (default 180) from a seed corpus made on the spot: small .npz/.npy
# files written by NumPy, and the tiny ONNX node-test models of the ops the
# runner covers (Debian's libonnx-testdata). Crashing inputs land in
# build-fuzz/findings/; reduce them and keep them as regression cases in
# tests/weights/regressions/ (the tests there must reject them cleanly).
#   bash tests/fuzz/run_fuzzers.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-180}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF -DEMBER_CUDA=OFF \
  -DEMBER_NATIVE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target npz_fuzzer onnx_fuzzer

corpus=build-fuzz/corpus
mkdir -p "$corpus/npz" "$corpus/onnx" build-fuzz/findings
(cd "$corpus/npz" && /usr/bin/python3 -c "
import numpy as np
np.savez('a.npz', w=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array(3, dtype=np.int64), m=np.array([True, False]))
np.savez_compressed('c.npz', w=np.linspace(0, 1, 20).astype(np.float16), u=np.arange(5, dtype=np.uint8))
np.savez('e.npz')
np.save('x.npy', np.arange(4, dtype=np.float64))
with open('v2.npy', 'wb') as f:
    np.lib.format.write_array(f, np.ones((2, 2), np.float32), version=(2, 0))
")
data=/usr/share/libonnx-testdata/data/node
for d in "$data"/test_{conv,basic_conv,maxpool_2d,averagepool_2d,gemm,pad,edge_pad,reflect_pad,gather_0,squeeze,unsqueeze_axis_0,softmax_axis_1,reduce_mean_keepdims_example,batchnorm_example,clip_example,concat_2d_axis_0,shape_start_1,flatten_axis1,transpose_default,hardswish,constant}*; do
  [[ -f $d/model.onnx ]] && cp "$d/model.onnx" "$corpus/onnx/$(basename "$d").onnx"
done
cp tests/weights/regressions/*.npz "$corpus/npz/" 2>/dev/null || true
cp tests/weights/regressions/*.onnx "$corpus/onnx/" 2>/dev/null || true

for f in npz onnx; do
  echo "== ${f}_fuzzer for ${seconds}s"
  build-fuzz/tests/fuzz/${f}_fuzzer -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
    -artifact_prefix=build-fuzz/findings/${f}- -print_final_stats=1 "$corpus/$f" 2>&1 | tail -15
done
