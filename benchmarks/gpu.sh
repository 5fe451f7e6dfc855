#!/usr/bin/env bash
# ViT-B/16 MAE pre-training throughput on one GPU: bf16 autocast, with and without
# torch.compile. Prints images/s and model FLOP utilisation (MFU) for each.
#
#   benchmarks/gpu.sh                       # vit_b16, batch 256, ratio 0.75
#   PRESET=vit_b8 BATCH=64 benchmarks/gpu.sh
#   PEAK_TFLOPS=989 benchmarks/gpu.sh       # dense bf16 peak of the card (H100/H200 SXM)
#   SMOKE=1 benchmarks/gpu.sh               # CPU, tiny model, 2 steps: checks the script runs
#
# Synthetic images already on the GPU, so this measures the model and optimiser, not data
# loading. Model FLOPs are counted analytically (matmuls and attention; the encoder on
# [CLS] + visible tokens, the decoder on [CLS] + all tokens), x3 for forward + backward.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" - <<'PYTHON'
import os
import time

import torch

from maeid.mae import build_mae
from maeid.mae.presets import preset_kwargs

smoke = os.environ.get("SMOKE", "0") == "1"
preset = os.environ.get("PRESET", "tiny" if smoke else "vit_b16")
batch = int(os.environ.get("BATCH", 4 if smoke else 256))
steps = int(os.environ.get("STEPS", 2 if smoke else 30))
warmup = int(os.environ.get("WARMUP", 1 if smoke else 10))
ratio = float(os.environ.get("RATIO", 0.75))
peak = float(os.environ.get("PEAK_TFLOPS", 989.0)) * 1e12
device = torch.device("cpu" if smoke else os.environ.get("DEVICE", "cuda"))
# Inductor needs a compiler toolchain; the smoke run only checks the compiled code path.
backend = os.environ.get("COMPILE_BACKEND", "eager" if smoke else "inductor")


def block_flops(tokens: int, dim: int, mlp_ratio: float) -> float:
    """Forward FLOPs of one transformer block: qkv, proj, MLP matmuls, and attention."""
    return 2 * tokens * dim * dim * (4 + 2 * mlp_ratio) + 4 * tokens * tokens * dim


def model_flops_per_image(cfg: dict, ratio: float) -> float:
    p, c = cfg["patch_size"], cfg["in_chans"]
    size = cfg["img_size"]
    length = (size // p) ** 2
    visible = int(length * (1 - ratio))
    d, dd, r = cfg["embed_dim"], cfg["decoder_embed_dim"], cfg.get("mlp_ratio", 4.0)
    enc = 2 * visible * p * p * c * d + cfg["depth"] * block_flops(1 + visible, d, r)
    dec = 2 * (1 + visible) * d * dd + cfg["decoder_depth"] * block_flops(1 + length, dd, r)
    dec += 2 * (1 + length) * dd * p * p * c
    return 3 * (enc + dec)


def run(compiled: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    model = build_mae(preset, norm_pix_loss=True).to(device).train()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1.5e-4, betas=(0.9, 0.95),
        weight_decay=0.05, fused=device.type == "cuda",
    )
    forward = torch.compile(model, backend=backend) if compiled else model
    cfg = preset_kwargs(preset)
    x = torch.randn(batch, cfg["in_chans"], cfg["img_size"], cfg["img_size"], device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = forward(x, ratio)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    images_per_s = steps * batch / (time.perf_counter() - t0)
    return images_per_s, images_per_s * model_flops_per_image(cfg, ratio) / peak


name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
print(f"{preset} on {name}, batch {batch}, ratio {ratio}, bf16 autocast, torch {torch.__version__}")
print(f"model GFLOPs per image (fwd+bwd): {model_flops_per_image(preset_kwargs(preset), ratio) / 1e9:.3g}")
print(f"{'mode':10} {'img/s':>10} {'MFU':>7}   (peak {peak / 1e12:.0f} TFLOP/s)")
for compiled in (False, True):
    rate, mfu = run(compiled)
    print(f"{'compile' if compiled else 'eager':10} {rate:10.1f} {100 * mfu:6.1f}%")
PYTHON
