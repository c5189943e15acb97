#!/usr/bin/env bash
# The TensorBoard venv (the oracle of tests/tools/tensorboard_test); prints its
# python. Versions are pinned in tensorboard_requirements.txt.
#   bash tests/tools/tensorboard_venv.sh [VENV_DIR]   (default build-venv/tensorboard)
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../oracle/python_venv.sh" tensorboard "$here/tensorboard_requirements.txt" \
  "import tensorboard; from tensorboard.backend.event_processing import event_accumulator; print('tensorboard', tensorboard.__version__)" "$@"
