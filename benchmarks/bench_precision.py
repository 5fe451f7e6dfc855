"""Training-step speed of each precision and kernel choice, against fp32 eager.

One process, one thread by default (the sweep's layout: one run per core), the variants
interleaved in rounds so that a change in machine load hits all of them alike. Each
variant is a full training step of the real model (forward, backward, AdamW) on the
rhm32 study config (ViT 64 wide, 4 deep, decoder 64 x 1, ratio 0.5) and the qt32 config
(128 wide, 4 deep, ratio 0.75), at batch 128. Reported: images/s per variant and the
median over rounds of its speed ratio to fp32 eager.

Variants:
  fp32            the default on CPU
  bf16, bf16 attn CPU autocast with attention in bf16 too (the behaviour before attention
                  was kept in fp32; the bf16 SDPA backward is slow at head size 16)
  bf16            CPU autocast, attention in fp32 (run.precision=bf16)
  compile fp32    torch.compile (inductor); its cold compile time is printed
  batch 256       fp32 at twice the batch (the lr would double with it)

Without native bf16 (AVX512-BF16 or AMX; the script says which) the bf16 rows measure
oneDNN's emulation, several times slower than fp32: that is why run.precision=auto keeps
fp32 on such CPUs.

    .venv/bin/python benchmarks/bench_precision.py
    .venv/bin/python benchmarks/bench_precision.py --configs rhm32 --rounds 3 --no-compile
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

import torch

from maeid.mae import attention as attention_module
from maeid.mae import build_mae
from maeid.train.precision import cpu_has_native_bf16

CONFIGS = {
    "rhm32": dict(kwargs=dict(embed_dim=64, decoder_embed_dim=64, decoder_depth=1), ratio=0.5),
    "qt32": dict(kwargs={}, ratio=0.75),
}


def make_step(config: str, precision: str, fp32_attention: bool, batch: int, compiled: bool):
    """A closure that runs one training step, and the model's compile time (s)."""
    torch.manual_seed(0)
    spec = CONFIGS[config]
    model = build_mae("qt32", img_size=32, in_chans=1, mask_unit=4, **spec["kwargs"]).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), foreach=True)
    images = torch.randn(batch, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    net = torch.compile(model) if compiled else model
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )

    def step() -> None:
        attention_module.FP32_ATTENTION_UNDER_CPU_AUTOCAST = fp32_attention
        try:
            with autocast:
                loss, _, _ = net(images, spec["ratio"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        finally:
            attention_module.FP32_ATTENTION_UNDER_CPU_AUTOCAST = True

    start = time.perf_counter()
    step()  # the first call compiles
    return step, time.perf_counter() - start


def run(configs: list[str], rounds: int, steps: int, compile_too: bool) -> None:
    variants: dict[str, tuple[str, bool, int, bool]] = {
        "fp32": ("fp32", True, 128, False),
        "bf16, bf16 attn": ("bf16", False, 128, False),
        "bf16": ("bf16", True, 128, False),
        "batch 256": ("fp32", True, 256, False),
    }
    if compile_too:
        variants["compile fp32"] = ("fp32", True, 128, True)
    for config in configs:
        steps_of: dict[str, Callable[[], None]] = {}
        for name, (precision, fp32_attn, batch, compiled) in variants.items():
            steps_of[name], first = make_step(config, precision, fp32_attn, batch, compiled)
            if compiled:
                print(f"{config}: {name} cold compile + first step {first:.1f} s")
            for _ in range(2):  # warm-up
                steps_of[name]()
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, step in steps_of.items():
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                images = steps * variants[name][2]
                rates[name].append(images / (time.perf_counter() - start))
        base = rates["fp32"]
        print(f"\n{config} (batch 128 unless named; {rounds} rounds x {steps} steps)")
        print(f"{'variant':<16} {'img/s':>8} {'x fp32 (median)':>16}")
        for name, r in rates.items():
            ratio = statistics.median(a / b for a, b in zip(r, base, strict=True))
            print(f"{name:<16} {statistics.median(r):8.0f} {ratio:16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="rhm32,qt32", help="comma-separated: rhm32, qt32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per variant per round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",")]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {sorted(CONFIGS)}")
    torch.set_num_threads(args.threads)
    native = cpu_has_native_bf16()
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {'yes' if native else 'no'}"
        + ("" if native else " (the bf16 rows are emulated)")
    )
    run(configs, args.rounds, args.steps, not args.no_compile)


if __name__ == "__main__":
    main()
