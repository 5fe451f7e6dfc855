"""Time to a trained model on this CPU: wall time and steps to a held-out excess <= 0.25.

Trains the qt32 recipe (configs/qt32.yaml: ratio 0.75, unit 4) and the rhm32 recipe
(configs/rhm32.yaml: ratio 0.5, unit 4) with `run.target_excess=0.25`, so each run stops
at the first held-out measure (every 250 steps) at or below it, in each precision this
CPU runs natively (fp32, and bf16 where AVX512-BF16 or AMX exist; --precisions to force),
one thread per run, one run at a time. Prints the steps, the wall time to the criterion
(the loop's own clock) and the excess reached, side by side. The machine's load average
is printed too: a busy machine makes every figure slower.

    .venv/bin/python benchmarks/time_to_trained.py --out runs/ttt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "qt32 (0.75, unit 4)": (ROOT / "configs" / "qt32.yaml", []),
    "rhm32 (0.5, unit 4)": (ROOT / "configs" / "rhm32.yaml", []),
}


def run(name: str, precision: str, out: Path, cap: int | None) -> dict:
    config, sets = RECIPES[name]
    folder = out / f"{name.split()[0]}_{precision}"
    sets = [*sets, "run.target_excess=0.25", "run.eval_every=250", f"run.precision={precision}",
            "run.progress=false", "run.recon_every=0"]  # fmt: skip
    if cap is not None:
        sets.append(f"run.steps={cap}")
    if not (folder / "checkpoints" / "last.pt").is_file():
        cmd = [sys.executable, "-m", "maeid", "train", "--config", str(config), "--out",
               str(folder), "--threads", "1"]  # fmt: skip
        subprocess.run([*cmd, *(a for s in sets for a in ("--set", s))], check=True, cwd=ROOT)
    log = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    measured = [e for e in log if "normalised_excess" in e]
    met = next((e for e in measured if e["normalised_excess"] <= 0.25), None)
    last = met or measured[-1]
    return {"steps": last["step"], "seconds": last["elapsed_s"], "met": met is not None,
            "excess": last["normalised_excess"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "time_to_trained")
    parser.add_argument("--precisions", help="comma-separated (default: fp32, + bf16 if native)")
    parser.add_argument("--cap", type=int, help="step cap (default: each recipe's run.steps)")
    args = parser.parse_args()
    from maeid.train.precision import cpu_has_native_bf16

    precisions = (
        args.precisions.split(",")
        if args.precisions
        else ["fp32", *(["bf16"] if cpu_has_native_bf16() else [])]
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}; precisions: {', '.join(precisions)}")
    print(f"{'recipe':22} {'precision':9} {'steps':>6} {'minutes':>8} {'excess':>7}  trained")
    for name in RECIPES:
        for precision in precisions:
            r = run(name, precision, args.out, args.cap)
            print(f"{name:22} {precision:9} {r['steps']:6d} {r['seconds'] / 60:8.1f} "
                  f"{r['excess']:7.3f}  {'yes' if r['met'] else 'no (cap)'}")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
