#!/usr/bin/env bash
# Prepares, on this machine (no GPU needed), what a lent GPU machine needs to
# run tools/gpu_check.sh at once: that machine has CUDA, cuDNN, cuBLAS and
# PyTorch but none of Ember's Debian build dependencies and no network, and
# its device time is short (minutes), so nothing is built there.
#
#   1. builds Ember with CUDA in build-gpu/: SASS for Hopper (sm_90: H100,
#      H200), libember as a shared library (one copy instead of one in each
#      test program), CPU code for x86-64-v3 (AVX2/FMA) instead of this
#      machine's -march=native, so that it runs on the other machine's CPU
#   2. packs into gpu-bundle/ (git-ignored; carry it with the device call):
#        build-gpu.tar.xz  the programs, libember.so, the test programs and
#                          ctest files, and runtime-libs/: the Debian shared
#                          libraries they load (protobuf, ONNX, yaml-cpp,
#                          libzip, libjpeg, ...) but not glibc and not CUDA's
#        shared/           the real weights and images the GPU run uses, from
#                          ../shared (EMBER_SHARED_WEIGHTS / EMBER_SHARED_DATA):
#                          MobileNetV2 and the CIFAR ResNets, the photos, the
#                          CIFAR-10 test JPEGs, 256 cats-and-dogs JPEGs
#        MANIFEST          commit, date, the source path compiled into the tests
#
# Then, on the device:  bash tools/gpu_check.sh   (with gpu-bundle carried)
# It unpacks the bundle instead of building; see the top of gpu_check.sh.
#
# Options: --no-build (pack what build-gpu/ holds), --jobs N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/build-gpu
BUNDLE=$ROOT/gpu-bundle
JOBS=$(nproc)
BUILD_IT=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD_IT=0 ;;
    --jobs) JOBS=$2; shift ;;
    *) echo "gpu_bundle: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
SHARED_WEIGHTS=${EMBER_SHARED_WEIGHTS:-$ROOT/../shared/weights}
SHARED_DATA=${EMBER_SHARED_DATA:-$ROOT/../shared/data}

if [[ $BUILD_IT == 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real \
    -DEMBER_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DEMBER_SHARED_LIB=ON
  cmake --build "$BUILD" -j"$JOBS"
fi
[[ -f "$BUILD/libember.so" ]] || { echo "gpu_bundle: $BUILD/libember.so missing (build with EMBER_SHARED_LIB=ON)" >&2; exit 1; }

# --- The programs and the ctest files, paths relative to the repository root ---
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
programs=("$BUILD/ember" "$BUILD/libember.so" "$BUILD"/*_bench "$BUILD"/tests/*_test)
mkdir -p "$STAGE/build-gpu/tests" "$STAGE/build-gpu/runtime-libs"
for f in "${programs[@]}"; do
  [[ -x "$f" || "$f" == *.so ]] || continue
  rel=${f#"$ROOT"/}
  cp "$f" "$STAGE/$rel"
done
# ctest's files name the programs by absolute path: gpu_check.sh puts its own back.
for f in CTestTestfile.cmake tests/CTestTestfile.cmake; do
  sed "s#$BUILD#@EMBER_BUILD@#g" "$BUILD/$f" > "$STAGE/build-gpu/$f"
done
# Stripping the symbols halves the bundle; the CUDA code and its line tables stay.
find "$STAGE/build-gpu" -maxdepth 2 -type f \( -name '*_test' -o -name '*_bench' -o -name ember -o -name '*.so' \) \
  -exec strip --strip-unneeded {} +

# --- The shared libraries they load, but for glibc's and CUDA's ---
system_lib() {  # glibc and the loader, present on every Linux
  [[ "$1" =~ ^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64)\.so ]]
}
cuda_lib() {  # from the GPU machine's CUDA, cuDNN and PyTorch installation
  [[ "$1" =~ ^lib(cuda|cudart|cudnn|cublas|cublasLt|nvrtc|nvJitLink)[._] ]]
}
{
  for f in "$BUILD/ember" "$BUILD/libember.so" "$BUILD"/tests/*_test "$BUILD"/*_bench; do
    [[ -x "$f" || "$f" == *.so ]] && ldd "$f"
  done
} | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u | while read -r soname path; do
  if system_lib "$soname" || cuda_lib "$soname" || [[ "$path" == "$BUILD"/* ]]; then continue; fi
  cp -L "$path" "$STAGE/build-gpu/runtime-libs/$soname"
done
# libcudart is small and must match the toolkit the code was built with.
cudart=$(ldd "$BUILD/libember.so" | awk '$1 ~ /^libcudart/ { print $3 }')
[[ -n "$cudart" ]] && cp -L "$cudart" "$STAGE/build-gpu/runtime-libs/"
# The charts' font (fonts-dejavu-core), which tools/lib/plot.cpp loads from this path.
if [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
  mkdir -p "$STAGE/build-gpu/runtime-fonts"
  cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf "$STAGE/build-gpu/runtime-fonts/"
fi

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE"
tar -C "$STAGE" -cf - build-gpu | xz -T"$JOBS" -6 > "$BUNDLE/build-gpu.tar.xz"

# --- Real weights and images for the GPU run (copied, never committed) ---
copy_if() {  # source, destination folder
  if [[ -e "$1" ]]; then mkdir -p "$2" && cp -r "$1" "$2/"; else echo "gpu_bundle: $1 not found, left out" >&2; fi
}
copy_if "$SHARED_WEIGHTS/mobilenet_v2_imagenet_from_tflite.pth" "$BUNDLE/shared/weights"
copy_if "$SHARED_WEIGHTS/imagenet_classes.txt" "$BUNDLE/shared/weights"
copy_if "$SHARED_WEIGHTS/cifar_resnet" "$BUNDLE/shared/weights"
copy_if "$SHARED_DATA/photos" "$BUNDLE/shared/data"
copy_if "$SHARED_DATA/cifar10_jpg/test.tar.gz" "$BUNDLE/shared/data/cifar10_jpg"
# 256 real photos of ImageNet size (about 400x350) for the loader benchmark.
for cls in cats dogs; do
  src=$SHARED_DATA/cats_and_dogs_filtered/train/$cls
  if [[ -d "$src" ]]; then
    mkdir -p "$BUNDLE/shared/data/loader_jpegs/$cls"
    mapfile -t jpegs < <(find "$src" -name '*.jpg' | sort)
    cp "${jpegs[@]:0:128}" "$BUNDLE/shared/data/loader_jpegs/$cls/"
  fi
done

{
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!gpu-bundle' 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "source_dir: $ROOT"
  echo "cuda: $(/usr/local/cuda/bin/nvcc --version 2>/dev/null | tail -1)"
  echo "architectures: $(grep -E '^CMAKE_CUDA_ARCHITECTURES:' "$BUILD/CMakeCache.txt" | cut -d= -f2)"
} > "$BUNDLE/MANIFEST"
cat "$BUNDLE/MANIFEST"
du -sh "$BUNDLE"/* | sed 's/^/gpu_bundle: /'
total=$(du -sm "$BUNDLE" | cut -f1)
echo "gpu_bundle: ${total} MiB in gpu-bundle/ (the device call carries at most 64 MiB with the working tree)"
