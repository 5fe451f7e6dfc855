"""Does bf16 train as well as fp32? The check run.precision=auto waits for on CPUs.

Trains the rhm32 recipe (configs/rhm32.yaml: ratio 0.5, unit 4, 2000 steps) and the qt32
recipe (configs/qt32.yaml: ratio 0.75, unit 4, 4000 steps) to their full step counts, two
seeds each, in fp32 and in bf16 (attention kept in fp32), and prints the held-out
normalised excess at every evaluation step side by side. For qt32 it also reads every
run with `maeid evaluate --measure identify` (R² per latent level) and compares those.

Verdict per recipe: bf16 *agrees* when the difference of the two precisions' seed-mean
final excess is within the seed-to-seed spread (the larger of the two precisions' seed
ranges), and every level's R² (qt32) likewise; otherwise it *disagrees*.

It makes sense only on a CPU with native bf16 (AVX512-BF16 or AMX): elsewhere bf16 is
emulated and the runs take many times longer (the script says so and stops unless
--force). Each run takes one thread; --workers runs several at once.

    .venv/bin/python benchmarks/precision_convergence.py --out runs/precision --workers 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {"rhm32": ROOT / "configs" / "rhm32.yaml", "qt32": ROOT / "configs" / "qt32.yaml"}
SEEDS = (0, 1)
PRECISIONS = ("fp32", "bf16")


def train(recipe: str, seed: int, precision: str, out: Path, steps: int | None) -> Path:
    run = out / f"{recipe}_{precision}_s{seed}"
    resume = (run / "checkpoints" / "last.pt").is_file()
    sets = [f"run.seed={seed}", f"data.seed={seed}", f"run.precision={precision}",
            "run.progress=false", "run.recon_every=0"]  # fmt: skip
    if steps is not None:
        sets.append(f"run.steps={steps}")
    cmd = [sys.executable, "-m", "maeid", "train", "--config", str(RECIPES[recipe]),
           "--out", str(run), "--threads", "1"]  # fmt: skip
    cmd += [a for s in sets for a in ("--set", s)]
    subprocess.run([*cmd, *(["--resume"] if resume else [])], check=True, cwd=ROOT)
    if recipe == "qt32" and not (run / "eval" / "eval.json").is_file():
        subprocess.run(
            [sys.executable, "-m", "maeid", "evaluate", str(run), "--data", "synthetic",
             "--measure", "identify", "--max-test", "2000", "--threads", "1",
             "--seed", str(seed), "--out", str(run / "eval")],
            check=True, cwd=ROOT,
        )  # fmt: skip
    return run


def excess_curve(run: Path) -> dict[int, float]:
    entries = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {e["step"]: e["normalised_excess"] for e in entries if "normalised_excess" in e}


def r2_by_level(run: Path) -> dict[str, float]:
    """Every numeric entry of eval.json whose key path names an R² per level."""
    found: dict[str, float] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, int | float) and "r2" in path and "level" in path:
            found[path] = float(value)

    walk(json.loads((run / "eval" / "eval.json").read_text()), "")
    return found


def agrees(values: dict[str, list[float]]) -> tuple[bool, float, float]:
    """(verdict, |difference of means|, seed spread) over {precision: per-seed values}."""
    diff = abs(statistics.mean(values["bf16"]) - statistics.mean(values["fp32"]))
    spread = max(max(v) - min(v) for v in values.values())
    return diff <= spread, diff, spread


def report(out: Path) -> None:
    for recipe in RECIPES:
        runs = {(p, s): out / f"{recipe}_{p}_s{s}" for p in PRECISIONS for s in SEEDS}
        curves = {key: excess_curve(run) for key, run in runs.items()}
        steps = sorted(set.intersection(*(set(c) for c in curves.values())))
        print(f"\n{recipe}: held-out normalised excess")
        print("step  " + "  ".join(f"{p} s{s}" for p, s in runs))
        for step in steps:
            print(f"{step:5d} " + "  ".join(f"{curves[k][step]:7.3f}" for k in runs))
        final = {p: [curves[(p, s)][steps[-1]] for s in SEEDS] for p in PRECISIONS}
        ok, diff, spread = agrees(final)
        print(f"final excess: bf16 {'agrees' if ok else 'disagrees'} with fp32 "
              f"(|difference of means| {diff:.3f}, seed spread {spread:.3f})")  # fmt: skip
        if recipe == "qt32":
            r2 = {k: r2_by_level(run) for k, run in runs.items()}
            for key in sorted(r2[("fp32", 0)]):
                values = {p: [r2[(p, s)][key] for s in SEEDS] for p in PRECISIONS}
                ok, diff, spread = agrees(values)
                print(f"  {key}: fp32 {statistics.mean(values['fp32']):.3f}, bf16 "
                      f"{statistics.mean(values['bf16']):.3f}: "
                      f"{'agrees' if ok else 'disagrees'} (spread {spread:.3f})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "precision")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--steps", type=int, help="cut every run short (a smoke check)")
    parser.add_argument("--force", action="store_true", help="run without native bf16")
    args = parser.parse_args()
    from maeid.train.precision import cpu_has_native_bf16

    if not cpu_has_native_bf16() and not args.force:
        print(
            "this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 would be emulated, "
            "many times slower; run on a CPU that has it, or pass --force",
            file=sys.stderr,
        )
        return 2
    jobs = [(r, s, p) for r in RECIPES for s in SEEDS for p in PRECISIONS]
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(lambda j: train(*j, args.out, args.steps), jobs))
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
