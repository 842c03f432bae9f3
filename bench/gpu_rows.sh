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
