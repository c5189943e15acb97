#!/usr/bin/env bash
# The ONNX Runtime venv (tools/bench/compare_models.py times CPU inference in
# it); prints its python. Versions are pinned in onnxruntime_requirements.txt.
#   bash tests/oracle/onnxruntime_venv.sh [VENV_DIR]   (default build-venv/onnxruntime)
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/python_venv.sh" onnxruntime "$here/onnxruntime_requirements.txt" \
  "import onnxruntime, numpy; print('onnxruntime', onnxruntime.__version__, 'numpy', numpy.__version__)" "$@"
