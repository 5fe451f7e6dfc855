"""Training throughput of our MAE against HF transformers' ViTMAEForPreTraining on CPU.

Both models get the same configuration, the same weights (ours converted from HF's), the
same images and the same masks (the same noise), and the same optimiser (AdamW, betas
(0.9, 0.95), weight decay 0.05). One step is forward + backward + AdamW step. The two
run side by side in one process, interleaved in rounds so that a change in machine load
hits both alike; steps/s is total steps over total time.

Peak memory: each model trains again in its own subprocess. Once model, optimiser and
data are in place, the subprocess records its resident set and resets the kernel's
high-water mark (`/proc/self/clear_refs`, Linux); after the steps it reads the peak
resident set (`VmHWM`). "peak MB" is that peak, "step MB" its excess over the resident
set before the first step: activations, gradients and optimiser state. torch's CPU
allocator keeps no statistics and tracemalloc does not see tensor memory, so the kernel's
count of resident pages is the honest measure here.

bf16 (`--precision bf16`) runs both models under the same CPU autocast; `--compile`
compiles both with torch.compile (inductor) before the warm-up.

    .venv/bin/python benchmarks/bench_mae.py            # both sizes
    .venv/bin/python benchmarks/bench_mae.py --sizes small --rounds 3 --steps 4
    .venv/bin/python benchmarks/bench_mae.py --precision bf16 --compile
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import subprocess
import sys
import time
from typing import NamedTuple

import torch

SIZES = {
    # qt32-sized: 32x32x1, patch 4, 64 tokens.
    "small": dict(preset="qt32", batch=128),
    # ViT-S/16 at 224 with a 256-wide, 4-deep decoder.
    "medium": dict(preset="vit_s16", batch=8),
}
RATIO = 0.75


class Mode(NamedTuple):
    precision: str = "fp32"  # or bf16: CPU autocast around forward and loss
    compile: bool = False


def hf_config(preset: str):
    from transformers import ViTMAEConfig

    from maeid.mae.presets import PRESETS

    p = PRESETS[preset]
    return ViTMAEConfig(
        image_size=p["img_size"], patch_size=p["patch_size"], num_channels=p["in_chans"],
        hidden_size=p["embed_dim"], num_hidden_layers=p["depth"],
        num_attention_heads=p["num_heads"], intermediate_size=4 * p["embed_dim"],
        decoder_hidden_size=p["decoder_embed_dim"],
        decoder_num_hidden_layers=p["decoder_depth"],
        decoder_num_attention_heads=p["decoder_num_heads"],
        decoder_intermediate_size=4 * p["decoder_embed_dim"], layer_norm_eps=1e-6,
        mask_ratio=RATIO, norm_pix_loss=True, attn_implementation="sdpa",
    )  # fmt: skip


def build(which: str, preset: str, precision: str = "fp32", compile: bool = False):
    """A model and a step function `step(x, noise) -> loss` with its own AdamW."""
    from transformers import ViTMAEForPreTraining

    from maeid.mae import MaskedAutoencoder, convert_hf_state_dict
    from maeid.mae.checkpoint import hf_config_to_kwargs

    torch.manual_seed(0)
    config = hf_config(preset)
    hf = ViTMAEForPreTraining(config).train()
    if which == "ours":
        model = MaskedAutoencoder(**hf_config_to_kwargs(config.to_dict())).train()
        model.load_state_dict(convert_hf_state_dict(hf.state_dict()))
        del hf

    else:
        model = hf
    forward = torch.compile(model) if compile else model

    def loss_fn(x, noise):
        if which == "ours":
            return forward(x, RATIO, noise)[0]
        return forward(pixel_values=x, noise=noise).loss

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    if precision == "bf16":
        autocast = torch.autocast("cpu", dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext()

    def step(x, noise):
        with autocast:
            loss = loss_fn(x, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return model, step


def batch(preset: str, n: int, seed: int):
    from maeid.mae.presets import PRESETS

    p = PRESETS[preset]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p["in_chans"], p["img_size"], p["img_size"], generator=g)
    noise = torch.rand(n, (p["img_size"] // p["patch_size"]) ** 2, generator=g)
    return x, noise


def status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def memory_child(which: str, size: str, steps: int, mode: Mode) -> None:
    cfg = SIZES[size]
    _, step = build(which, cfg["preset"], *mode)
    x, noise = batch(cfg["preset"], cfg["batch"], 0)
    if mode.compile:
        step(x, noise)  # compile outside the measured window
    gc.collect()
    before = status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident set
    for _ in range(steps):
        step(x, noise)
    print(json.dumps({"before_mb": before, "peak_mb": status_mb("VmHWM")}))


def measure_memory(which: str, size: str, steps: int, mode: Mode) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", which, size, "--steps", str(steps),
         "--threads", str(torch.get_num_threads()), "--precision", mode.precision]
        + (["--compile"] if mode.compile else []),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_side_by_side(
    size: str, warmup: int, rounds: int, steps: int, mode: Mode
) -> dict[str, float]:
    cfg = SIZES[size]
    steppers = {w: build(w, cfg["preset"], *mode)[1] for w in ("ours", "hf")}
    x, noise = batch(cfg["preset"], cfg["batch"], 0)
    for step in steppers.values():
        for _ in range(warmup):
            step(x, noise)
    total = dict.fromkeys(steppers, 0.0)
    for _ in range(rounds):
        for which, step in steppers.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                step(x, noise)
            total[which] += time.perf_counter() - t0
    return {w: rounds * steps / t for w, t in total.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=2, help="steps per model per round")
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    args = parser.parse_args()
    mode = Mode(args.precision, args.compile)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(*args.memory_child, args.steps, mode)
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds "
        f"x {args.steps} steps per model (after {args.warmup} warm-up), {args.precision}"
        + (", torch.compile" if args.compile else "")
    )
    header = f"{'size':8} {'model':5} {'batch':>5} {'steps/s':>8} {'img/s':>8} {'peak MB':>8} {'step MB':>8}"  # noqa: E501
    print(header)
    for size in args.sizes:
        rates = time_side_by_side(size, args.warmup, args.rounds, args.steps, mode)
        n = SIZES[size]["batch"]
        for which in ("ours", "hf"):
            mem = measure_memory(which, size, args.memory_steps, mode)
            print(f"{size:8} {which:5} {n:5d} {rates[which]:8.2f} {rates[which] * n:8.1f} "
                  f"{mem['peak_mb']:8.0f} {mem['peak_mb'] - mem['before_mb']:8.0f}")  # fmt: skip
        print(f"{size:8} ours/hf images/s: {rates['ours'] / rates['hf']:.2f}x")


if __name__ == "__main__":
    main()
