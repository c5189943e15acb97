#!/usr/bin/env bash
# Installs the Debian packages Ember needs, and nothing from anywhere else.
#   tools/setup.sh          build dependencies (compiler, CMake, Eigen, ...)
#   tools/setup.sh --test   also the test oracles (Debian's PyTorch, torchvision, NumPy)
# Idempotent: installs only what is missing. Without root (and no password-less
# sudo) it prints the exact command to run instead.
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  libeigen3-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev
  libstb-dev libjpeg62-turbo-dev libpng-dev libyaml-cpp-dev
  libprotobuf-dev protobuf-compiler libonnx-dev libzip-dev
  libisal-dev fonts-dejavu-core
  dataset-fashion-mnist
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3 python3-numpy python3-torch python3-torchvision libonnx-testdata python3-venv python3-pil)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages are installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
install=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -eq 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${install[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive "${install[@]}"
else
  echo "setup: not root; run this, then try again:" >&2
  echo "  sudo apt-get update && sudo ${install[*]}" >&2
  exit 1
fi
