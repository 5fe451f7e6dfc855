"""The pre-registered ratio study's training on one GPU: all 18 runs at once.

Trains the points of `configs/sweeps/rhm32_ratio_study.yaml` (units 4, 8 x ratios 0.25,
0.5, 0.75 x study seeds 0-2, each to a held-out excess of 0.25, cap 12000 steps) as
parallel sweep workers sharing one GPU: the model is small (64 wide), so one process
cannot fill the card, and many can. It writes into the same results database and run
folders as the CPU sweep (`--db`, `--out`), so a later `maeid sweep` on either machine
finds what is done and resumes what is not. On a GPU the runs use
`run.precision=fp32` (the pre-registered recipe; CUDA matmuls then use TF32): they are
points of their own in the database, under the sweep name `rhm32_ratio_study_cuda`, so
that the study's scripts never pool them with the CPU seeds unasked.

At the end (or when `--minutes` is up: every worker is stopped, and a run stopped
midway resumes from its last checkpoint next time) it prints each run's status, steps,
held-out excess and whether it met the criterion.

    .venv/bin/python benchmarks/gpu_ratio_study.py --db runs/ratio_study.db --minutes 8
    SMOKE=1 .venv/bin/python benchmarks/gpu_ratio_study.py --db /tmp/s.db   # CPU, tiny

SMOKE=1 runs the same code on the CPU with a tiny budget (4 steps, 2 cells, 1 seed):
the check that it works the first time a GPU is there.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "configs" / "sweeps" / "rhm32_ratio_study.yaml"


def derived_spec(smoke: bool, device: str) -> dict:
    """The study's spec, with this machine's device and precision (and, for a smoke run,
    a tiny budget over two cells)."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["base"] = str((SPEC.parent / spec["base"]).resolve())
    spec["set"] = {**spec["set"], "run.device": device}
    if device == "cuda":  # its own sweep name: CUDA runs are not pooled with CPU seeds unasked
        spec["set"]["run.precision"] = "fp32"
        spec["name"] = spec["name"] + "_cuda"
    if smoke:
        spec["name"] = spec["name"] + "_smoke"
        spec["set"].update({"run.steps": 4, "run.eval_every": 2, "run.eval_images": 32,
                            "run.ckpt_every": 2, "optim.batch_size": 16})  # fmt: skip
        spec["grid"] = {"mask_unit": [4], "study_seed": [0], "mask_ratio": [0.25, 0.75]}
    return spec


def status_table(db: Path, sweep: str) -> str:
    from maeid.experiments.results_db import ResultsDB

    lines = [f"{'unit':>4} {'ratio':>5} {'seed':>4} {'status':>8} {'steps':>6} {'excess':>7} "
             f"{'met 0.25':>8} {'minutes':>7}"]  # fmt: skip
    with ResultsDB(db) as results:
        for run in results.runs(sweep):
            train = (run.metrics or {}).get("train", {})
            excess = train.get("normalised_excess")
            lines.append(
                f"{run.mask_unit:>4} {run.mask_ratio:>5} {run.seed:>4} {run.status:>8} "
                f"{train.get('steps', '-'):>6} "
                f"{'-' if excess is None else f'{excess:.3f}':>7} "
                f"{'yes' if train.get('reached_target') else 'no':>8} "
                f"{'-' if run.duration_s is None else f'{run.duration_s / 60:.1f}':>7}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--out", type=Path, help="run folders (default: next to --db)")
    parser.add_argument("--workers", type=int, default=18, help="sweep workers on the GPU")
    parser.add_argument("--minutes", type=float, default=8.0, help="stop all workers after")
    args = parser.parse_args()
    smoke = os.environ.get("SMOKE", "0") == "1"
    import torch

    device = "cuda" if torch.cuda.is_available() and not smoke else "cpu"
    if device == "cpu" and not smoke:
        print("no CUDA device: run with SMOKE=1 for the CPU check", file=sys.stderr)
        return 2
    spec = derived_spec(smoke, device)
    workers = min(args.workers, 2) if smoke else args.workers
    with tempfile.TemporaryDirectory(prefix="ratio-study-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        cmd = [sys.executable, "-m", "maeid", "sweep", str(spec_path), "--db", str(args.db),
               "--workers", str(workers), "--threads", "1"]  # fmt: skip
        if args.out is not None:
            cmd += ["--out", str(args.out)]
        else:
            cmd += ["--out", str(args.db.parent / spec["name"])]
        start = time.monotonic()
        sweep = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
        try:
            code = sweep.wait(timeout=args.minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(sweep.pid, signal.SIGINT)  # runs resume from their checkpoints
            try:
                sweep.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(sweep.pid, signal.SIGKILL)
                sweep.wait()
            code = 0  # a planned stop
            print(f"stopped after {args.minutes} min; rerun to resume", file=sys.stderr)
    print(f"\n{spec['name']} on {device}, {workers} workers, "
          f"{(time.monotonic() - start) / 60:.1f} min")  # fmt: skip
    print(status_table(args.db, spec["name"]))
    return code


if __name__ == "__main__":
    sys.exit(main())
