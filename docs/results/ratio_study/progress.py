"""Where the pre-registered ratio study stands: every run's steps, excess and cost.

Reads the sweep's database and, for runs still training, their metrics.jsonl. Cost is
wall time x threads (core-hours); the runs of this study share 2 cores with other work,
so the wall times are upper bounds of an idle machine's.

    .venv/bin/python docs/results/ratio_study/progress.py --db runs/ratio_study.db
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def last_measure(train_dir: Path) -> tuple[int, float | None, float]:
    """(last step, last held-out excess, elapsed seconds) from a run's metrics.jsonl."""
    path = train_dir / "metrics.jsonl"
    if not path.is_file():
        return 0, None, 0.0
    log = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    measured = [e for e in log if "normalised_excess" in e]
    excess = measured[-1]["normalised_excess"] if measured else None
    return log[-1]["step"], excess, log[-1]["elapsed_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--arms", type=Path, default=ROOT / "runs" / "ratio_study_arms")
    args = parser.parse_args()
    from maeid.experiments.results_db import ResultsDB

    with ResultsDB(args.db, read_only=True) as results:
        runs = results.runs("rhm32_ratio_study")
    print("| unit | ratio | seed | status | steps | held-out excess | met 0.25 at | "
          "wall min | core-h |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for run in sorted(runs, key=lambda r: (r.mask_unit, r.mask_ratio, r.seed)):
        train = (run.metrics or {}).get("train", {})
        step, excess, seconds = last_measure(Path(run.run_dir) / "train")
        if train:
            step, excess = train["steps"], train.get("normalised_excess")
            seconds = train.get("seconds", seconds)
        threads = train.get("threads", 1)
        met = train.get("reached_target") or "-"
        shown = "-" if excess is None else f"{excess:.3f}"
        cost = f"{seconds / 60:.0f} | {seconds * threads / 3600:.2f}"
        print(f"| {run.mask_unit} | {run.mask_ratio} | {run.seed} | {run.status} | {step} | "
              f"{shown} | {met} | {cost} |")  # fmt: skip
    print_arms(args.arms)
    return 0


def attempts_seconds(train_dir: Path) -> float:
    """Wall seconds over every attempt of a run (each resume restarts `elapsed_s`)."""
    total, last = 0.0, 0.0
    for line in (train_dir / "metrics.jsonl").read_text().splitlines():
        elapsed = json.loads(line)["elapsed_s"] if line.strip() else last
        if elapsed < last:  # a new attempt began
            total += last
        last = elapsed
    return total + last


def print_arms(folder: Path) -> None:
    """The warm-start arm's runs (one thread each): steps, excess, wall time, core-hours."""
    runs = sorted(folder.glob("u*_r*_s*/*/train/metrics.jsonl"))
    if not runs:
        return
    print("\n| warm-start arm | run | steps | held-out excess | finished | wall min | core-h |")
    print("|---|---|---|---|---|---|---|")
    for metrics in runs:
        train = metrics.parent
        step, excess, _ = last_measure(train)
        seconds = attempts_seconds(train)
        done = "yes" if (train / "ARM_DONE").is_file() else "no"
        shown = "-" if excess is None else f"{excess:.3f}"
        print(f"| {train.parent.parent.name} | {train.parent.name} | {step} | {shown} | {done} "
              f"| {seconds / 60:.0f} | {seconds / 3600:.2f} |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
