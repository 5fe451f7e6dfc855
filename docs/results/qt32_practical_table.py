"""The practical-regime table of docs/results/regimes.md: trained qt32 runs, per unit and latent level,
mean ± 95 % half-width over seeds (Student t).

    python docs/results/qt32_practical_table.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a `maeid train` run evaluated with `maeid evaluate RUN_DIR --measure
identify` (it reads RUN_DIR/eval/eval.json and RUN_DIR/metrics.jsonl).
"""

import json
import sys
from pathlib import Path

from maeid.evaluate.intervals import mean_interval
from maeid.train.quality import under_trained

COLUMNS = [
    ("p_in_S", "P(in S)"),
    ("p_in_c", "P(in c)"),
    ("predicted", "predicted (exact)"),
    ("limit_visible", "limit, visible side (exact)"),
    ("measured_untrained_visible_tokens", "floor: untrained"),
    ("measured_visible_tokens", "trained, pooled"),
    ("gain_visible_tokens", "trained - floor"),
    ("measured_visible_tokens_region", "trained, region readout"),
    ("measured_full_image", "trained, full image"),
]


def main(runs: list[str]) -> None:
    by_unit: dict[int, list[dict]] = {}
    for run in map(Path, runs):
        result = json.loads((run / "eval" / "eval.json").read_text())["identify"]
        log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        quality = [e for e in log if "normalised_excess" in e][-1]
        by_unit.setdefault(result["unit"], []).append(
            {
                "levels": result["per_level"],
                "excess": quality["normalised_excess"],
                "steps": quality["step"],
                "run": run.name,
            }  # fmt: skip
        )
    for unit, runs_ in sorted(by_unit.items(), reverse=True):
        excess = mean_interval([r["excess"] for r in runs_])
        flags = ", ".join(
            f"{r['run']}: {r['excess']:.3f}"
            + (" under-trained" if under_trained(r["excess"]) else "")
            for r in runs_
        )
        print(f"\nunit {unit} px: {len(runs_)} seed(s), normalised excess {excess} ({flags})\n")
        print("| level | " + " | ".join(title for _, title in COLUMNS) + " |")
        print("|---" * (len(COLUMNS) + 1) + "|")
        for level in sorted(runs_[0]["levels"], key=int):
            cells = [
                str(mean_interval([r["levels"][level][key] for r in runs_])) for key, _ in COLUMNS
            ]
            print(f"| {level} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
