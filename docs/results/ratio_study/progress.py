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
    return 0


if __name__ == "__main__":
    sys.exit(main())
