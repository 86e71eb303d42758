#!/usr/bin/env bash
# Creates .venv (when missing) and installs the CPU build of torch 2.13.0, then budgetlr in
# editable mode with the extras named in $1 (default: bench). torch goes first: otherwise pip
# pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-bench}
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
