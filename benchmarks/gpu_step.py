"""The raw MAE training step on one GPU: bf16 autocast, eager and torch.compile.

Images already on the device, so this measures the model and optimiser alone (the
training loop's own figures come from benchmarks/gpu_train.py). Environment: PRESET
(vit_b16), BATCH (256), STEPS (30), WARMUP (10), RATIO (0.75), PEAK_TFLOPS (989, the dense
bf16 peak of an H100/H200 SXM), SMOKE=1 (CPU, tiny model, 2 steps, dynamo's eager backend:
checks that the script runs).
"""

from __future__ import annotations

import os
import time

import torch

from flops import mae_flops_per_image
from maeid.mae import build_mae

smoke = os.environ.get("SMOKE", "0") == "1"
preset = os.environ.get("PRESET", "tiny" if smoke else "vit_b16")
batch = int(os.environ.get("BATCH", 4 if smoke else 256))
steps = int(os.environ.get("STEPS", 2 if smoke else 30))
warmup = int(os.environ.get("WARMUP", 1 if smoke else 10))
ratio = float(os.environ.get("RATIO", 0.75))
peak = float(os.environ.get("PEAK_TFLOPS", 989.0)) * 1e12
device = torch.device("cpu" if smoke else os.environ.get("DEVICE", "cuda"))
# Inductor needs a compiler toolchain and minutes on a CPU; the smoke run only checks the
# compiled code path.
backend = os.environ.get("COMPILE_BACKEND", "eager" if smoke else "inductor")


def run(compiled: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    model = build_mae(preset, norm_pix_loss=True).to(device).train()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1.5e-4, betas=(0.9, 0.95),
        weight_decay=0.05, fused=device.type == "cuda",
    )  # fmt: skip
    forward = torch.compile(model, backend=backend) if compiled else model
    cfg = model.config
    side = cfg["img_size"][0]
    x = torch.randn(batch, cfg["in_chans"], side, side, device=device)

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
    return images_per_s, images_per_s * mae_flops_per_image(cfg, ratio) / peak


name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
flops = mae_flops_per_image(build_mae(preset).config, ratio)
print(
    f"raw step: {preset} on {name}, batch {batch}, ratio {ratio}, bf16, torch {torch.__version__}"
)
print(f"model GFLOPs per image (fwd+bwd): {flops / 1e9:.3g}")
print(f"{'mode':10} {'img/s':>10} {'MFU':>7}   (peak {peak / 1e12:.0f} TFLOP/s)")
for compiled in (False, True):
    rate, mfu = run(compiled)
    print(f"{'compile' if compiled else 'eager':10} {rate:10.1f} {100 * mfu:6.1f}%")
