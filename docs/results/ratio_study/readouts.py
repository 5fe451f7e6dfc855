"""The pre-registered readouts of the ratio study, read from each trained run.

For every run of the `rhm32_ratio_study` sweep that met its criterion, and every
matched-steps control under `--controls`, runs `maeid evaluate` with the options
`docs/results/preregistration.md` fixes (all tokens at their positions; linear probes on
4000 images for 15 epochs, tested on 2000; the class-only probe at budgets 1000 and
4000; the study seed as the evaluation seed) into `RUN/readouts/`, once: a run already
read is skipped.

    .venv/bin/python docs/results/ratio_study/readouts.py --db runs/ratio_study.db
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
MEASURES = "information,class_probe,symbols"
OPTIONS = ["--pool", "tokens", "--max-train", "4000", "--max-test", "2000",
           "--probe-epochs", "15", "--class-budgets", "1000,4000"]  # fmt: skip


def read(train_dir: Path, threads: int) -> None:
    out = train_dir.parent / "readouts"
    if (out / "eval.json").is_file():
        return
    seed = yaml.safe_load((train_dir / "config.yaml").read_text())["run"]["seed"]
    cmd = [sys.executable, "-m", "maeid", "evaluate", str(train_dir), "--data", "synthetic",
           "--measure", MEASURES, *OPTIONS, "--seed", str(seed), "--out", str(out),
           "--threads", str(threads), "--no-progress"]  # fmt: skip
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--controls", type=Path, default=ROOT / "runs" / "ratio_study_controls")
    parser.add_argument("--arms", type=Path, default=ROOT / "runs" / "ratio_study_arms")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from maeid.experiments.results_db import ResultsDB

    with ResultsDB(args.db, read_only=True) as results:
        runs = [r for r in results.runs("rhm32_ratio_study", status="done")
                if (r.metrics or {}).get("train", {}).get("reached_target")]  # fmt: skip
    # H1's cells first (unit 4, ratios 0.25 and 0.75), then the rest, seed by seed.
    runs.sort(key=lambda r: (r.mask_unit != 4 or r.mask_ratio == 0.5, r.seed, r.id))
    for run in runs:
        read(Path(run.run_dir) / "train", args.threads)
    for control in sorted(args.controls.glob("*/train/CONTROL_DONE")):
        read(control.parent, args.threads)
    for arm_run in sorted(args.arms.glob("*/*/train/ARM_DONE")):
        read(arm_run.parent, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
