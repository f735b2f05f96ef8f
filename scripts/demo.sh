#!/usr/bin/env bash
# README command 1: install Ember (CPU torch 2.13.0 from PyPI, the C runtime built by scikit-build-core)
# and run the built-in example: export MobileNetV2, write mobilenet_v2.ember, run it in the C runtime,
# compare with PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python -m pip install --quiet --disable-pip-version-check -e ".[export,delivery,features,dev]"
ember demo --out out
ember inspect out/mobilenet_v2.ember
