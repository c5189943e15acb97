#!/usr/bin/env bash
# The Albumentations venv (the data tests' oracle, tools/bench/compare_data.py);
# prints its python. Versions are pinned in albumentations_requirements.txt.
#   bash tests/oracle/albumentations_venv.sh [VENV_DIR]   (default build-venv/albumentations)
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/python_venv.sh" albumentations "$here/albumentations_requirements.txt" \
  "import albumentations, cv2, numpy; print('albumentations', albumentations.__version__, 'opencv', cv2.__version__, 'numpy', numpy.__version__)" "$@"
