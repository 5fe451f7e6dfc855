"""The warm-start arm of the ratio study (pre-registration, training rule).

A cell with fewer than 2 seeds that met the criterion by the 12000-step cap is *not
trained*. For such a cell, per study seed whose (0.25, unit 4) run met the criterion:

- **warm**: a new run at the target cell (its own config, as the sweep resolved it) whose
  weights start from that (0.25, 4) checkpoint (`run.init_from`), with the same recipe
  and criterion and a cap of 6000 steps;
- **control**: a new run at (0.25, 4), from the same weights, on the same 6000-step
  schedule, stopped after as many steps as the warm run took (`--stop-after N`).

Runs live in `--arms/<cell>_s{seed}/{warm,control}/train`; a finished one is marked by
an `ARM_DONE` file and left alone; an interrupted one resumes from its checkpoint. Only
finished runs are read by readouts.py, and the arm's rows are reported on their own,
never pooled with the cold-start cells.

    .venv/bin/python docs/results/ratio_study/warm_start.py --db runs/ratio_study.db \
        --cell 8,0.5 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DONE = "ARM_DONE"  # written once a run of the arm has finished; readouts.py waits for it
CAP = 6000
SOURCE = (4, 0.25)  # the cell every warm start and every control starts from


def find(runs, unit: int, ratio: float, seed: int):
    return next((r for r in runs if (r.mask_unit, r.mask_ratio, r.seed) == (unit, ratio, seed)),
                None)  # fmt: skip


def train(config: Path, out: Path, sets: list[str], stop_after: int | None, threads: int) -> None:
    """Train (or resume) one arm run into `out`, then mark it finished."""
    if (out / DONE).is_file():
        return
    resume = (out / "checkpoints" / "last.pt").is_file()
    cmd = [sys.executable, "-m", "maeid", "train", "--out", str(out), "--threads", str(threads)]
    cmd += ["--resume"] if resume else ["--config", str(config)]
    for item in sets if not resume else []:
        cmd += ["--set", item]
    if stop_after is not None:
        cmd += ["--stop-after", str(stop_after)]
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    (out / DONE).write_text("finished\n")


def steps_taken(train_dir: Path) -> int:
    from maeid.train import read_checkpoint

    return int(read_checkpoint(train_dir)["step"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--arms", type=Path, default=ROOT / "runs" / "ratio_study_arms")
    parser.add_argument("--cell", default="8,0.5", help="UNIT,RATIO of the cell not trained")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    unit, ratio = int(args.cell.split(",")[0]), float(args.cell.split(",")[1])
    from maeid.experiments.results_db import ResultsDB

    with ResultsDB(args.db, read_only=True) as results:
        runs = results.runs("rhm32_ratio_study")
    for seed in (int(s) for s in args.seeds.split(",")):
        source, target = find(runs, *SOURCE, seed), find(runs, unit, ratio, seed)
        if source is None or not (source.metrics or {}).get("train", {}).get("reached_target"):
            print(f"seed {seed}: its (0.25, 4) run has not met the criterion; skipped")
            continue
        if target is None:
            print(f"seed {seed}: no ({ratio}, {unit}) run in the database; skipped")
            continue
        start = Path(source.run_dir) / "train"
        arm = args.arms / f"u{unit}_r{ratio}_s{seed}"
        common = [f"run.init_from={start}", f"run.steps={CAP}", "run.progress=false"]
        warm = arm / "warm" / "train"
        # The target cell's config as the sweep resolved it (its cold run may not have run).
        target_config = arm / "target_config.yaml"
        if not target_config.is_file():
            from maeid.atomic import write_text
            from maeid.train.config import from_dict, to_yaml

            write_text(target_config, to_yaml(from_dict(target.config["train"])))
        train(target_config, warm, common, None, args.threads)
        control = arm / "control" / "train"
        train(start / "config.yaml", control, [*common, "run.target_excess=null"],
              steps_taken(warm), args.threads)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
