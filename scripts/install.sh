#!/usr/bin/env bash
# Install egraffbench into the active Python 3.11 environment (CPU torch from the local wheel cache).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[test]"
