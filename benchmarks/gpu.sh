#!/usr/bin/env bash
# MAE pre-training throughput on a GPU: the raw step (benchmarks/gpu_step.py: bf16, eager
# and torch.compile) and the real loop, `maeid train` (benchmarks/gpu_train.py: ViT-B/16
# and the rhm32 study model, eager and compiled, and a 2-process DDP smoke test where two
# GPUs exist). Prints images/s and model FLOP utilisation (MFU).
#
#   benchmarks/gpu.sh                       # vit_b16, batch 256, ratio 0.75
#   PRESET=vit_b8 BATCH=64 benchmarks/gpu.sh
#   PEAK_TFLOPS=989 benchmarks/gpu.sh       # dense bf16 peak of the card (H100/H200 SXM)
#   SMOKE=1 benchmarks/gpu.sh               # CPU, tiny models, a few steps: checks it runs
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" benchmarks/gpu_step.py
"$PY" benchmarks/gpu_train.py
