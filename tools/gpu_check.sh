#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, run for real what CI can
# only compile, inside a time budget, and print a results table last.
#
# Lent GPU machines have CUDA, cuDNN, cuBLAS and PyTorch but none of Ember's
# Debian build dependencies, no network and only minutes of device time. So
# the build is made beforehand on a development machine with
# `bash tools/gpu_bundle.sh` (CUDA SASS for sm_90, shared libember, the
# Debian runtime libraries, real weights and images) and carried in
# gpu-bundle/; this script unpacks it into build-gpu/. Without a bundle it
# configures and builds here (EMBER_DEPS_PREFIX then names where the
# dependencies are).
#
# Steps, in this order (EMBER_GPU_CHECK_STEPS picks some, comma-separated);
# what only a GPU can tell comes first, the CPU-heavy ctest late:
#   cuda      the CUDA test programs (tests/cuda/*), GPU tests required
#   kernels   the CUDA kernel benchmark (bandwidth against the device copy)
#   compare   Ember against PyTorch on this GPU (tools/bench/compare_models.py):
#             ResNet-50 training at batch 256 with AMP and channels-last, the
#             other families at batch 64, inference at batches 1 and 256
#   loader    images/s the loader delivers to the GPU (1, 8 and all cores) beside
#             PyTorch's DataLoader (tools/bench/compare_loader.py)
#   train     `ember train` for one epoch on a real image folder (CIFAR-10
#             test JPEGs from the bundle), images/s
#   fusion    training steps with and without layer fusion
#   graphs    inference and training steps eager and as CUDA graphs
#   ctest     every other suite through ctest (model oracles, trainer with
#             CUDA graphs, bench, ...), GPU tests required
#   memcheck  compute-sanitizer memcheck over the CUDA test programs
# A step that would start with too little of the budget left is skipped and
# says so; a running step is stopped at the budget.
#
# Environment:
#   EMBER_GPU_CHECK_BUDGET_S  seconds for the whole script (default 480: with
#                             the machine's start-up, a device call of 540 s
#                             still returns the table)
#   EMBER_GPU_CHECK_STEPS     steps to run (default: all, in the order above)
#   EMBER_DEPS_PREFIX, EMBER_CMAKE_ARGS, EMBER_CUDA_ARCH: for a build here
#   EMBER_GPU_CHECK_NO_GPU=1  rehearse on a machine without a GPU (GPU tests
#                             skip instead of failing); for checking the script
#   EMBER_GPU_CHECK_DEVICE    the device of the benchmarks and the training run
#                             (default cuda; cpu for a rehearsal)
#   EMBER_BUNDLE_ALL_LIBS=1   use every library the bundle carries, even those
#                             this machine has (a rehearsal of a bare machine)
# Output: logs in build-gpu/gpu_check/; with $OUT set (the device tool), also
# $OUT/results.txt, $OUT/logs.tar.gz and, when compare ran, $OUT/benchmarks.md,
# rewritten after every step so that a run stopped early still returns them.
# Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/build-gpu
BUNDLE=$ROOT/gpu-bundle
LOGS=$BUILD/gpu_check
BUDGET=${EMBER_GPU_CHECK_BUDGET_S:-480}
STEPS=",${EMBER_GPU_CHECK_STEPS:-cuda,kernels,compare,loader,train,fusion,graphs,ctest,memcheck},"
JOBS=$(nproc 2>/dev/null || echo 4)
PY=${EMBER_PYTHON:-$(command -v python3)}
MODELS=resnet50,mobilenet_v2,efficientnet_b0,densenet121
DEVICE=${EMBER_GPU_CHECK_DEVICE:-cuda}

declare -a STEP_NAMES STEP_RESULTS STEP_LOGS
record() { STEP_NAMES+=("$1"); STEP_RESULTS+=("$2"); STEP_LOGS+=("$3"); }
say() { echo "== gpu_check [$SECONDS s]: $*"; }
wants() { [[ "$STEPS" == *",$1,"* ]]; }
left() { echo $((BUDGET - SECONDS)); }
# Seconds a step may take: at most $1, and what the budget has left but for
# 15 s to write the results. 0: do not start it.
allow() {
  local t=$(( $(left) - 15 ))
  (( t > $1 )) && t=$1
  (( t < 20 )) && t=0
  echo "$t"
}
# Runs "$@" with at most $1 seconds; prints nothing, returns the command's status (124: stopped at the limit).
limited() {
  local t=$1
  shift
  timeout --kill-after=10 "$t" "$@"
}

export PATH=$PATH:/usr/local/cuda/bin PYTHONUNBUFFERED=1
rm -rf "$LOGS"  # logs are appended to by the steps: start each run with none
mkdir -p "$BUILD" "$LOGS"
cp "$ROOT/docs/benchmarks.md" "$LOGS/benchmarks.before.md" 2>/dev/null  # the steps that --write tables change it
# --- The machine ---
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $JOBS CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | xargs)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader
  command -v nvcc >/dev/null && nvcc --version | tail -1 || echo "nvcc: not on PATH"
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version | head -1 || echo "compute-sanitizer: not on PATH"
  timeout 60 "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'gpu', torch.cuda.is_available())" 2>&1 | tail -1
  [[ -f "$BUNDLE/MANIFEST" ]] && sed 's/^/bundle /' "$BUNDLE/MANIFEST"
} > "$LOGS/machine.txt" 2>&1
cat "$LOGS/machine.txt"

# --- cuDNN, cuBLAS and the CUDA runtime: the toolkit's, else PyTorch's wheels ---
# The folder holding a library (first match): the toolkit, the system, then
# the nvidia.* wheels and torch/lib of this python (whose layout differs
# between CUDA 12 and 13 wheels, hence a search rather than fixed paths).
# shellcheck disable=SC2207
WHEELS=($("$PY" -c "import nvidia; print(' '.join(nvidia.__path__))" 2>/dev/null))
SEARCH=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu "${WHEELS[@]}"
        $("$PY" -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))" 2>/dev/null))
lib_dir() {
  local f
  f=$(find "${SEARCH[@]}" -maxdepth 4 -name "$1" -print -quit 2>/dev/null)
  [[ -n "$f" ]] && dirname "$f"
}
LIBDIRS=()
for lib in 'libcudnn.so.9*' 'libcublas.so.13*' 'libcublasLt.so.13*' 'libcudart.so.13*'; do
  d=$(lib_dir "$lib")
  if [[ -n "$d" ]]; then
    [[ " ${LIBDIRS[*]} " == *" $d "* ]] || LIBDIRS+=("$d")
  else
    say "$lib: NOT FOUND"
  fi
done
# cuDNN 9 for CUDA 12 and for CUDA 13 share the soname libcudnn.so.9: take
# the first one built for CUDA 13 (cudnnGetCudartVersion() 13xxx), as Ember is.
CUDNN_LIB=""
while IFS= read -r f; do
  if timeout 30 "$PY" -c "import ctypes, sys; sys.exit(ctypes.CDLL(sys.argv[1]).cudnnGetCudartVersion() // 1000 != 13)" \
       "$f" 2>/dev/null; then
    CUDNN_LIB=$f
    break
  fi
done < <(find "${SEARCH[@]}" -maxdepth 4 -name 'libcudnn.so.9*' 2>/dev/null)
if [[ -n "$CUDNN_LIB" ]]; then
  LIBDIRS=("$(dirname "$CUDNN_LIB")" "${LIBDIRS[@]}")
else
  CUDNN_LIB=$(ls "$(lib_dir 'libcudnn.so.9*')"/libcudnn.so* 2>/dev/null | head -1)
fi
CUDNN_INCLUDE=$(find /usr/local/cuda/include /usr/include "${WHEELS[@]}" -maxdepth 3 -name cudnn.h -print -quit 2>/dev/null)
CUDNN_INCLUDE=${CUDNN_INCLUDE%/cudnn.h}
say "cuDNN: ${CUDNN_LIB:-NOT FOUND}; library folders: ${LIBDIRS[*]}"

# --- The build: unpacked from the bundle, or made here ---
BUILT=0
if [[ -f "$BUNDLE/build-gpu.tar.xz" && -z "${EMBER_DEPS_PREFIX:-}" ]]; then
  say "unpacking gpu-bundle/build-gpu.tar.xz"
  if tar -C "$ROOT" -xJf "$BUNDLE/build-gpu.tar.xz" 2>"$LOGS/unpack.log" ||
     "$PY" -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$BUNDLE/build-gpu.tar.xz" "$ROOT" \
       2>>"$LOGS/unpack.log"; then
    record "unpack bundle ($(grep -m1 '^commit' "$BUNDLE/MANIFEST" | cut -d' ' -f2-))" "ok" "unpack.log"
    sed -i "s#@EMBER_BUILD@#$BUILD#g" "$BUILD/CTestTestfile.cmake" "$BUILD/tests/CTestTestfile.cmake"
    BUILT=1
  else
    record "unpack bundle" "FAILED" "unpack.log"
  fi
  # The tests find their Python helpers under the source path compiled into them.
  SRC=$(sed -n 's/^source_dir: //p' "$BUNDLE/MANIFEST")
  if [[ -n "$SRC" && "$SRC" != "$ROOT" && ! -e "$SRC" ]]; then
    mkdir -p "$(dirname "$SRC")" && ln -s "$ROOT" "$SRC" && say "linked $SRC -> $ROOT"
  fi
  # Debian's shared libraries, each only where this machine lacks its soname.
  ACTIVE=$BUILD/runtime-libs/active
  mkdir -p "$ACTIVE"
  # Read once: `ldconfig -p | grep -q` under pipefail misreports a present
  # library when grep exits before ldconfig has written everything.
  LDCACHE=$(ldconfig -p 2>/dev/null)
  for lib in "$BUILD"/runtime-libs/lib*.so*; do
    soname=$(basename "$lib")
    if [[ "$soname" == libcudart* || "${EMBER_BUNDLE_ALL_LIBS:-0}" == 1 ]] ||
       ! grep -q "^[[:space:]]*$soname " <<< "$LDCACHE"; then
      ln -sf "$lib" "$ACTIVE/$soname"
    fi
  done
  LIBDIRS=("$ACTIVE" "$BUILD" "${LIBDIRS[@]}")
  # The charts' font, where tools/lib/plot.cpp reads it.
  FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  if [[ ! -f $FONT && -f "$BUILD/runtime-fonts/DejaVuSans.ttf" ]]; then
    mkdir -p "$(dirname $FONT)" && cp "$BUILD/runtime-fonts/DejaVuSans.ttf" $FONT
  fi
  export EMBER_SHARED_WEIGHTS=$BUNDLE/shared/weights EMBER_SHARED_DATA=$BUNDLE/shared/data
else
  ARCH=${EMBER_CUDA_ARCH:-}
  if [[ -z "$ARCH" ]] && command -v nvidia-smi >/dev/null; then
    CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
    [[ -n "$CC" ]] && ARCH="${CC}-real"
  fi
  CMAKE_ARGS=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${ARCH:-90-real}")
  [[ -n "$CUDNN_LIB" ]] && CMAKE_ARGS+=(-DCUDNN_INCLUDE_DIR="$CUDNN_INCLUDE" -DCUDNN_LIBRARY="$CUDNN_LIB")
  [[ -n "${EMBER_DEPS_PREFIX:-}" ]] && CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$EMBER_DEPS_PREFIX")
  # shellcheck disable=SC2206
  [[ -n "${EMBER_CMAKE_ARGS:-}" ]] && CMAKE_ARGS+=(${EMBER_CMAKE_ARGS})
  say "configure and build: cmake ${CMAKE_ARGS[*]}"
  if cmake "${CMAKE_ARGS[@]}" > "$LOGS/build.log" 2>&1 &&
     limited "$(allow 1800)" cmake --build "$BUILD" -j"$JOBS" >> "$LOGS/build.log" 2>&1; then
    record "build" "ok ($SECONDS s)" "build.log"
    BUILT=1
  else
    record "build" "FAILED (no gpu-bundle/: make one with tools/gpu_bundle.sh)" "build.log"
    grep -E "error|Error|Could not find" "$LOGS/build.log" | head -20
  fi
fi
LD_LIBRARY_PATH=$(IFS=:; echo "${LIBDIRS[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if [[ $BUILT == 1 ]]; then
  # A system C++ library older than Debian 12's lacks symbol versions the
  # programs need: then the bundle's (and its libgcc_s) go first.
  if ! "$BUILD/ember" --help > /dev/null 2> "$LOGS/ember_start.log" && grep -q "GLIBCXX\|CXXABI" "$LOGS/ember_start.log" &&
     [[ -n "${ACTIVE:-}" ]]; then
    ln -sf "$BUILD/runtime-libs/libstdc++.so.6" "$BUILD/runtime-libs/libgcc_s.so.1" "$ACTIVE/"
    say "this machine's libstdc++ is too old: using the bundle's"
  fi
  missing=$(ldd "$BUILD/ember" "$BUILD/libember.so" 2>/dev/null | grep "not found" | sort -u | xargs)
  [[ -n "$missing" ]] && record "libraries" "FAILED: not found: $missing" "-"
  "$BUILD/ember" --help > /dev/null 2> "$LOGS/ember_start.log" || record "ember starts" "FAILED" "ember_start.log"
fi

if [[ "${EMBER_GPU_CHECK_NO_GPU:-0}" != 1 ]]; then export EMBER_REQUIRE_CUDA=1; fi
if timeout 120 "$PY" -c "import torch" 2>"$LOGS/torch_import.log"; then
  export EMBER_PYTHON=$PY
else
  record "import torch (the oracle)" "FAILED: PyTorch comparisons will skip" "torch_import.log"
fi
# Every GoogleTest program also writes an XML report, so that tests skipped
# for want of an oracle show in the table (ctest's own count does not).
export GTEST_OUTPUT=xml:$LOGS/gtest_xml/
"$PY" -c "import tensorboard" 2>/dev/null && export EMBER_TENSORBOARD_PYTHON=$PY
"$PY" -c "import albumentations" 2>/dev/null && export EMBER_ALBUMENTATIONS_PYTHON=$PY

# Writes the table (and, with $OUT, the files that come back) as it stands.
publish() {
  {
    echo "GPU check results ($SECONDS s of a $BUDGET s budget; logs in build-gpu/gpu_check, or \$OUT/logs.tar.gz)"
    printf '%-52s %-50s %s\n' "step" "result" "log"
    for i in "${!STEP_NAMES[@]}"; do
      printf '%-52s %-50s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_LOGS[$i]}"
    done
  } > "$LOGS/results.txt"
  if [[ -n "${OUT:-}" ]]; then
    cp "$LOGS/results.txt" "$OUT/results.txt"
    if [[ -f "$LOGS/benchmarks.before.md" ]] && ! cmp -s "$LOGS/benchmarks.before.md" "$ROOT/docs/benchmarks.md"; then
      cp "$ROOT/docs/benchmarks.md" "$OUT/benchmarks.md"
    fi
    tar -C "$BUILD" -czf "$OUT/logs.tar.gz" gpu_check
  fi
}

# One step: name, log file, longest time, a function that summarises the log
# for the table ("-": none; a summary starting with FAILED fails the step),
# then the command. It is skipped when the budget has too little left,
# stopped at its limit, and recorded ok or FAILED.
step() {
  local name=$1 log=$2 limit=$3 detail=$4 t rc summary=""
  shift 4
  t=$(allow "$limit")
  if (( t == 0 )); then record "$name" "skipped: no time left" "-"; return; fi
  say "$name"
  limited "$t" "$@" >> "$LOGS/$log" 2>&1
  rc=$?
  [[ "$detail" != - ]] && summary=$("$detail" "$LOGS/$log")
  [[ "$summary" == FAILED* ]] && (( rc == 0 )) && rc=1
  if (( rc == 0 )); then
    record "$name" "ok${summary:+: $summary}" "$log"
  else
    record "$name" "FAILED (exit $rc)${summary:+: $summary}" "$log"
    grep -E "^\[  FAILED  \]|Failure|Test +#.*(Failed|Timeout)|ERROR SUMMARY" "$LOGS/$log" | head -10
  fi
  publish
}
# The count on GoogleTest's summary line "[  PASSED  ] 12 tests." (PASSED, SKIPPED or FAILED); 0 when absent.
gtest_count() {
  local n
  n=$(grep -oE "^\[ +$1 +\] [0-9]+ test" "$2" | tail -1 | grep -oE '[0-9]+')
  echo "${n:-0}"
}
gtest_summary() { echo "$(gtest_count PASSED "$1") passed, $(gtest_count SKIPPED "$1") skipped, $(gtest_count FAILED "$1") failed"; }
# ctest's line, and the GoogleTest tests skipped across the XML reports.
ctest_summary() {
  local skipped
  skipped=$(cat "$LOGS"/gtest_xml/*.xml 2>/dev/null | grep -c 'result="skipped"')
  echo "$(grep -E "tests passed" "$1" | tail -1); $skipped tests skipped"
}
# A comparison table with "n/a" rows (a side that failed) fails the step.
compare_summary() {
  local na
  na=$(grep -c "^- n/a" "$1")
  if (( na > 0 )); then echo "FAILED: $na n/a entries"; else echo "$(grep -c '^| ' "$1") table lines"; fi
}
kernels_summary() { grep -q "GB/s" "$1" && echo "$(grep -c 'GB/s' "$1") kernels measured" || echo "FAILED: no bandwidth measured"; }
memcheck_summary() { grep -oE "ERROR SUMMARY: [0-9]+ error" "$1" | tail -1; }

# --- cuda: the CUDA test programs ---
if [[ $BUILT == 1 ]] && wants cuda; then
  for exe in "$BUILD"/tests/cuda_*_test; do
    step "$(basename "$exe")" "$(basename "$exe").log" 90 gtest_summary "$exe"
  done
fi

if [[ $BUILT == 1 ]] && wants kernels && [[ -x "$BUILD/cuda_kernels_bench" ]]; then
  step "cuda_kernels_bench" "cuda_kernels_bench.txt" 120 kernels_summary "$BUILD/cuda_kernels_bench"
fi

# --- compare: Ember against PyTorch on this GPU ---
if [[ $BUILT == 1 ]] && wants compare; then
  cmp=("$PY" "$ROOT/tools/bench/compare_models.py" --ember "$BUILD/ember" --python "$PY" --device "$DEVICE"
       --warmup 3 --iters 20 --min-time 1 --cudnn-benchmark --write)
  export EMBER_COMMIT=$(sed -n 's/^commit: //p' "$BUNDLE/MANIFEST" 2>/dev/null)
  step "compare: resnet50 train b256 AMP channels-last" "compare_resnet50_train.log" 240 compare_summary \
    "${cmp[@]}" --model resnet50 --mode train --train-batch 256 --precision float16 --channels-last \
    --section "## GPU: ResNet-50 training at batch 256, float16 autocast, channels-last"
  step "compare: 4 models train b64 AMP channels-last" "compare_train.log" 240 compare_summary \
    "${cmp[@]}" --model ${MODELS//,/ } --mode train --train-batch 64 --precision float16 --channels-last \
    --section "## GPU: training at batch 64, float16 autocast, channels-last"
  step "compare: 4 models infer b1 float32" "compare_infer_b1.log" 120 compare_summary \
    "${cmp[@]}" --model ${MODELS//,/ } --mode infer --infer-batch 1 \
    --section "## GPU: inference at batch 1, float32"
  step "compare: 4 models infer b256 AMP channels-last" "compare_infer_b256.log" 180 compare_summary \
    "${cmp[@]}" --model ${MODELS//,/ } --mode infer --infer-batch 256 --precision float16 --channels-last \
    --section "## GPU: inference at batch 256, float16 autocast, channels-last"
fi

# --- loader: images per second delivered to the GPU ---
if [[ $BUILT == 1 ]] && wants loader && [[ -d "$BUNDLE/shared/data/loader_jpegs" ]]; then
  step "loader: 1, 8, $JOBS workers, to $DEVICE" "loader.log" 120 compare_summary \
    "$PY" "$ROOT/tools/bench/compare_loader.py" --ember "$BUILD/ember" --python "$PY" --device "$DEVICE" \
    --images "$BUNDLE/shared/data/loader_jpegs" --workers 1 8 "$JOBS" --min-time 4 --write
fi

# --- train: one epoch on a real image folder ---
if [[ $BUILT == 1 ]] && wants train && [[ -f "$BUNDLE/shared/data/cifar10_jpg/test.tar.gz" ]]; then
  DATA=$BUILD/cifar10_test
  if [[ ! -d "$DATA" ]]; then
    mkdir -p "$DATA" && tar -C "$DATA" -xzf "$BUNDLE/shared/data/cifar10_jpg/test.tar.gz"
  fi
  JPEG=$(find "$DATA" -mindepth 2 -maxdepth 3 -name '*.jpg' -print -quit)
  FOLDER=$(dirname "$(dirname "${JPEG:-$DATA/none/none}")")
  [[ -n "$JPEG" ]] || record "train" "FAILED: no JPEG in the CIFAR-10 archive" "-"
  [[ -n "$JPEG" ]] && step "train: resnet20, 1 epoch, CIFAR-10 JPEG folder, $DEVICE" "train.log" 150 - \
    "$BUILD/ember" train --set model.name=resnet20 --set "data.train=$FOLDER" --set data.val_split=0.1 \
    --set data.batch_size=256 --set data.workers=8 --set train.epochs=1 --set "train.device=$DEVICE" \
    --set optimizer.name=sgd --set optimizer.lr=0.1 --set output.dir="$BUILD/runs" --set output.name=cifar10_gpu
fi

# --- fusion and graphs: what layer fusion and CUDA graphs give ---
if [[ $BUILT == 1 ]] && wants fusion; then
  for fusion in "" "--no-fusion"; do
    # shellcheck disable=SC2086
    step "fusion: train b64 ${fusion:-fused}" "fusion_bench.jsonl" 90 - \
      "$BUILD/ember" bench models --device "$DEVICE" --model resnet50,mobilenet_v2,efficientnet_b0 --mode train \
      --train-batch 64 --min-time 1 --json $fusion
  done
fi
if [[ $BUILT == 1 ]] && wants graphs; then
  for graphs in "" "--cuda-graphs"; do
    for batches in "--infer-batch 1 --mode infer" "--train-batch 64 --mode train"; do
      # shellcheck disable=SC2086
      step "graphs: ${batches%% --mode*} ${graphs:-eager}" "graphs_bench.jsonl" 90 - \
        "$BUILD/ember" bench models --device "$DEVICE" --model resnet50,mobilenet_v2,efficientnet_b0 $batches \
        --min-time 1 --json $graphs
    done
  done
fi

# --- ctest: every other suite ---
# Each test has its own 900 s limit, so ctest is told when to stop instead
# (--stop-time), leaving its summary in the log.
if [[ $BUILT == 1 ]] && wants ctest; then
  t=$(allow 300)
  if (( t > 0 )); then
    stop_at=$(date -d "+$((t - 15)) seconds" +%H:%M:%S)
    step "ctest (all suites but cuda/)" "ctest.log" "$t" ctest_summary \
      ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" --stop-time "$stop_at" -E '^cuda/'
  else
    record "ctest (all suites but cuda/)" "skipped: no time left" "-"
  fi
fi

# --- memcheck: compute-sanitizer over the CUDA test programs ---
if [[ $BUILT == 1 ]] && wants memcheck; then
  if command -v compute-sanitizer >/dev/null; then
    for exe in "$BUILD"/tests/cuda_*_test; do
      # The 1,000-step allocator test and the whole-model checks are too slow under memcheck.
      step "memcheck $(basename "$exe")" "memcheck_$(basename "$exe").log" 240 memcheck_summary \
        compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 "$exe" --gtest_brief=1 \
        '--gtest_filter=-*NoLeakOverThousandTrainingSteps*:CudaModels.*'
    done
  else
    record "memcheck" "skipped: compute-sanitizer not found" "-"
  fi
fi

# --- Results ---
publish
for log in cuda_kernels_bench.txt; do
  [[ -f "$LOGS/$log" ]] && { echo; tail -40 "$LOGS/$log"; }
done
for log in "$LOGS"/compare_*.log; do [[ -f "$log" ]] && { echo; grep -E "^\|" "$log" | tail -12; }; done
[[ -f "$LOGS/loader.log" ]] && { echo; grep -E "^\|" "$LOGS/loader.log" | tail -5; }
[[ -f "$LOGS/train.log" ]] && { echo; grep -E "^epoch 1/1:|img/s" "$LOGS/train.log" | tail -2; }
echo
cat "$LOGS/results.txt"
STATUS=0
for r in "${STEP_RESULTS[@]}"; do [[ "$r" == FAILED* ]] && STATUS=1; done
exit $STATUS
