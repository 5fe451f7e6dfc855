"""Throughput of the real training loop, `maeid train`, on a GPU.

Each row is one `maeid train` process (a subprocess, as a user runs it): the loop's data
stream, masks, held-out bookkeeping and checkpoints included. Images/s is the median of
the loop's own logged rate (metrics.jsonl) after the first quarter of the steps, so a
cold compile does not count; the compile's cost is printed as the first logged step's
wall time. MFU uses the analytic FLOPs of benchmarks/flops.py.

Rows: ViT-B/16 (on 256x256 random-hierarchy images, 1 channel, a fixed set of 1024 kept
on the device) in bf16, eager and compiled; the rhm32 study model (configs/rhm32.yaml,
fresh images every step) eager and compiled; and, where two GPUs exist, the rhm32 model
under torchrun with 2 processes (DDP smoke test: it must train and report).

    benchmarks/gpu.sh                # runs this after the raw step
    SMOKE=1 benchmarks/gpu.sh        # CPU, tiny budgets: checks that it all runs
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from flops import mae_flops_per_image

ROOT = Path(__file__).resolve().parents[1]
smoke = os.environ.get("SMOKE", "0") == "1"
peak = float(os.environ.get("PEAK_TFLOPS", 989.0)) * 1e12
device = "cpu" if smoke else "cuda"
COMMON = ["run.recon_every=0", "run.eval_every=0", "run.ckpt_every=100000",
          "run.progress=false", f"run.device={device}"]  # fmt: skip
VIT_B = [
    "data.source=synthetic", "data.model=rhm32:size=256,patch=16,levels=4", "data.fresh=false",
    "data.n_train=1024", "model.preset=vit_b16", "mask.ratio=0.75", "mask.unit=null",
    "optim.batch_size=256", "optim.warmup_steps=5", "model.norm_pix_loss=true",
]  # fmt: skip
SMOKE_SIZES = ["data.model=rhm32:size=32,patch=4,levels=3", "model.preset=tiny",
               "optim.batch_size=8", "data.n_train=32"]  # fmt: skip


def train(name: str, config: Path, sets: list[str], steps: int, nproc: int = 1) -> None:
    with tempfile.TemporaryDirectory(prefix="gpu-train-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "maeid", "train", "--config", str(config), "--out", str(out)]
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={nproc}", *cmd[1:]]  # fmt: skip
        sets = [*COMMON, *sets, f"run.steps={steps}", f"run.log_every={max(1, steps // 20)}"]
        env = {**os.environ}
        if smoke:  # inductor takes minutes on a CPU: the smoke run checks the wiring only
            env["MAEID_COMPILE_BACKEND"] = "eager"
        done = subprocess.run(
            [*cmd, *(a for s in sets for a in ("--set", s))], env=env, capture_output=True,
            text=True, cwd=ROOT,
        )  # fmt: skip
        if done.returncode:
            print(f"{name:34} FAILED (exit {done.returncode}): {done.stderr.strip()[-400:]}")
            return
        log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        rates = [e["img_per_s"] for e in log if e["step"] > steps // 4] or [log[-1]["img_per_s"]]
        rate = statistics.median(rates)
        ckpt = torch.load(out / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
        cfg = ckpt["model_args"]
        ratio = ckpt["config"]["mask"]["ratio"]
        mfu = rate * mae_flops_per_image(cfg, ratio) / peak
        first = log[0]["elapsed_s"]
        print(f"{name:34} {rate:10.1f} {100 * mfu:6.2f}%  first step {first:6.1f} s")


def main() -> None:
    gpus = torch.cuda.device_count()
    name = "cpu (smoke)" if smoke else torch.cuda.get_device_name()
    print(f"\nmaeid train on {name} ({gpus} GPU(s)), run.precision=auto, torch {torch.__version__}")
    print(f"{'run':34} {'img/s':>10} {'MFU':>7}   (peak {peak / 1e12:.0f} TFLOP/s)")
    tiny = SMOKE_SIZES if smoke else []
    vit_steps, rhm_steps = (4, 4) if smoke else (60, 400)
    rhm = ROOT / "configs" / "rhm32.yaml"
    vit = ROOT / "configs" / "tiny.yaml"  # every key it sets is overridden below
    for compiled in (False, True):
        mode = "compile" if compiled else "eager"
        sets = [*VIT_B, *tiny, f"run.compile={str(compiled).lower()}"]
        train(f"ViT-B/16 bf16 {mode}", vit, sets, vit_steps)
    for compiled in (False, True):
        mode = "compile" if compiled else "eager"
        sets = [*([] if not smoke else ["model.preset=tiny", "optim.batch_size=8"]),
                f"run.compile={str(compiled).lower()}"]  # fmt: skip
        train(f"rhm32 study model {mode}", rhm, sets, rhm_steps)
    if gpus >= 2 or smoke:
        # Under SMOKE, two CPU processes with gloo: the same code path as 2 GPUs with nccl.
        train("rhm32 study model, DDP x2", rhm, ["optim.batch_size=8"] if smoke else [],
              rhm_steps, nproc=2)  # fmt: skip
    else:
        print("DDP x2: skipped (one GPU)")


if __name__ == "__main__":
    main()
