"""The matched-steps control of H1 (pre-registration, second addendum).

For each study seed whose (0.25, unit 4) and (0.75, unit 4) runs both met the criterion,
a copy of the (0.25, 4) run is continued on its own schedule and streams to the step at
which the (0.75, 4) run met it:

    maeid train --out COPY --resume --set run.target_excess=null --stop-after N

Copies live in `--controls/u4_r0.25_s{seed}/`; a finished control (marked by a
`CONTROL_DONE` file) is left alone, and only a finished one is read by readouts.py.

    .venv/bin/python docs/results/ratio_study/controls.py --db runs/ratio_study.db
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DONE = "CONTROL_DONE"  # written once a control has reached its step; readouts.py waits for it


def met(runs, unit: int, ratio: float, seed: int) -> tuple[Path, int] | None:
    """(train folder, step that met the criterion) of one cell's run, if it met it."""
    for run in runs:
        if (run.mask_unit, run.mask_ratio, run.seed) == (unit, ratio, seed):
            step = (run.metrics or {}).get("train", {}).get("reached_target")
            return (Path(run.run_dir) / "train", int(step)) if step else None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--controls", type=Path, default=ROOT / "runs" / "ratio_study_controls")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from maeid.experiments.results_db import ResultsDB
    from maeid.train import read_checkpoint

    with ResultsDB(args.db, read_only=True) as results:
        runs = results.runs("rhm32_ratio_study", status="done")
    for seed in sorted({r.seed for r in runs}):
        low, high = met(runs, 4, 0.25, seed), met(runs, 4, 0.75, seed)
        if low is None or high is None:
            continue
        copy = args.controls / f"u4_r0.25_s{seed}" / "train"
        if (copy / DONE).is_file():
            continue
        if not copy.is_dir():  # copied whole or not at all
            partial = copy.with_name("train.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(low[0], partial)
            partial.rename(copy)
        if read_checkpoint(copy)["step"] >= high[1]:
            (copy / DONE).write_text(f"continued to step {high[1]}\n")
            continue
        cmd = [sys.executable, "-m", "maeid", "train", "--out", str(copy), "--resume",
               "--set", "run.target_excess=null", "--set", "run.progress=false",
               "--stop-after", str(high[1]), "--threads", str(args.threads)]  # fmt: skip
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
        if read_checkpoint(copy)["step"] == high[1]:
            (copy / DONE).write_text(f"continued to step {high[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
