"""The Fashion-MNIST advisor study's tables and verdicts, from the readouts.

Reads `profile.json` (the theory), the sweep database and each run's `readouts.json`
(`readouts.py`), and prints, as `preregistration.md` fixes them: per cell the gate and
both accuracies with 95 % t intervals over the trained seeds, the floors per seed, H1
(linear probe) and H2 (kNN) with their bootstrap intervals and verdicts, and the
secondary descriptions. `--figure` also draws the accuracies against the long-range share.

    .venv/bin/python docs/results/fashion_mnist_advice/table.py --db runs/fm_advice.db \
        --figure docs/results/fashion_mnist_advice/accuracy_vs_share.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from maeid.evaluate.intervals import (
    cell_means_spearman,
    distinct_values,
    mean_interval,
    welch_interval,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SWEEP = "fashion_mnist_advice_study"
PLANNED_RUNS = 18
MIN_TRAINED_SEEDS = 2
MIN_CELLS = 5
READOUTS = (("H1", "linear", "linear probe"), ("H2", "knn", "kNN"))


def theory(profile: dict) -> dict[tuple[float, int], dict]:
    """Per (ratio, unit): the long-range share and the value beyond the target, with SEs."""
    return {
        (c["ratio"], c["unit"]): {
            "share": c["beyond_target_share"]["mean"],
            "share_se": c["beyond_target_share"]["se"],
            "value": c["beyond_target"]["mean"],
        }
        for c in profile["cells"]
        if c["possible"]
    }


def fmt(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    iv = mean_interval([scale * v for v in values])
    if iv.n == 0:
        return "-"
    if iv.n < 2:
        return f"{iv.value:.{digits}f} (n=1)"
    return f"{iv.value:.{digits}f} ± {iv.halfwidth:.{digits}f}"


def load_readouts(db: Path, runs_dir: Path | None) -> tuple[list[dict], int]:
    """The readouts of every read run (in the folder the database records, or under
    `runs_dir` by the run's name), and how many runs the database holds."""
    from maeid.experiments.results_db import ResultsDB

    with ResultsDB(db, read_only=True) as results:
        runs = results.runs(SWEEP)
    read = []
    for run in runs:
        run_dir = Path(run.run_dir) if runs_dir is None else runs_dir / Path(run.run_dir).name
        path = run_dir / "readouts.json"
        if path.is_file():
            read.append({**json.loads(path.read_text()), "minutes": (run.duration_s or 0) / 60})
    return read, len(runs)


def print_cells(cells: dict, th: dict) -> None:
    print("| ratio | unit px | long-range share | trained / read | test masked loss | "
          "Gaussian bound L_G | e_G | linear probe % | kNN % | minutes per run |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(cells, key=lambda k: th[k]["share"]):
        rows = cells[key]
        trained = [r for r in rows if r["trained"]]
        print(
            f"| {key[0]} | {key[1]} | {th[key]['share']:.3f} | {len(trained)} / {len(rows)} | "
            f"{fmt([r['test_loss'] for r in rows], digits=4)} | {rows[0]['gaussian_bayes']:.4f} | "
            f"{fmt([r['e_G'] for r in rows])} | {fmt([r['linear'] for r in trained], 100, 1)} | "
            f"{fmt([r['knn'] for r in trained], 100, 1)} | "
            f"{fmt([r['minutes'] for r in rows], 1, 1)} |"
        )  # fmt: skip


def print_floors(folder: Path) -> None:
    floors = [json.loads(p.read_text()) for p in sorted(folder.glob("seed*.json"))]
    if not floors:
        print("\nFloors: not read yet")
        return
    seeds = ", ".join(str(f["seed"]) for f in floors)
    print(f"\nFloors (seeds {seeds}; 95 % t interval over seeds):\n")
    print("| features | linear probe % | kNN % |\n|---|---|---|")
    for name, key in (("encoder at initialisation, [CLS]", "untrained"),
                      ("raw pixels (1024)", "pixels")):  # fmt: skip
        print(f"| {name} | {fmt([f[key]['linear'] for f in floors], 100, 1)} | "
              f"{fmt([f[key]['knn'] for f in floors], 100, 1)} |")  # fmt: skip


def print_verdicts(entering: dict, th: dict, complete: bool, rng) -> None:
    label = "" if complete else " (interim: not every run is read)"
    n_distinct = distinct_values([(th[k]["share"], th[k]["share_se"]) for k in entering])
    for name, key, words in READOUTS:
        if len(entering) < MIN_CELLS or n_distinct < 3:
            print(f"\n{name} ({words}){label}: untestable ({len(entering)} cells enter, "
                  f"{n_distinct} distinct shares; {MIN_CELLS} cells are needed)")  # fmt: skip
            continue
        per_cell = {k: [r[key] for r in rows] for k, rows in entering.items()}
        rho, lo, hi = cell_means_spearman(per_cell, {k: th[k]["share"] for k in entering}, rng)
        verdict = "agrees" if lo > 0 else "disagrees" if rho <= 0 else "untestable"
        print(f"\n{name}{label}: Spearman rho(long-range share, {words} accuracy) over "
              f"{len(entering)} cells = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]: {verdict}")  # fmt: skip
        value = {k: th[k]["value"] for k in entering}
        rho, lo, hi = cell_means_spearman(per_cell, value, rng)
        print(f"  secondary: rho(value beyond 16 px, {words} accuracy) = "
              f"{rho:+.2f} [{lo:+.2f}, {hi:+.2f}]")  # fmt: skip


def print_exploratory(entering: dict, bounds: dict, rng) -> None:
    """Exploratory, chosen after seed 0's readouts: does the difficulty of the cell's task,
    its Gaussian Bayes loss L_G (lower: more of the masked pixels is predictable from the
    visible ones), order the accuracies better than the long-range share?"""
    if len(entering) < 3:
        return
    ease = {k: -bounds[k] for k in entering}
    print("\nExploratory (chosen after seed 0's readouts):")
    for _, key, words in READOUTS:
        per_cell = {k: [r[key] for r in rows] for k, rows in entering.items()}
        rho, lo, hi = cell_means_spearman(per_cell, ease, rng)
        print(f"  rho(-L_G, {words} accuracy) = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]")


def print_contrasts(entering: dict) -> None:
    """Secondary: unit 8 - unit 4 at each ratio, and each ratio - 0.5 at each unit."""
    print("\nSecondary contrasts, linear probe (points; Welch 95 % interval):")
    pairs = [((r, 8), (r, 4)) for r in (0.5, 0.75, 0.9)]
    pairs += [((r, u), (0.5, u)) for u in (4, 8) for r in (0.75, 0.9)]
    for a, b in pairs:
        if a in entering and b in entering and min(len(entering[a]), len(entering[b])) >= 2:
            diff, lo, hi = welch_interval([100 * r["linear"] for r in entering[a]],
                                          [100 * r["linear"] for r in entering[b]])  # fmt: skip
            print(f"  {a} - {b}: {diff:+.1f} [{lo:+.1f}, {hi:+.1f}]")


def draw(entering: dict, th: dict, floors: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from maeid.atomic import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    floor_rows = [json.loads(p.read_text()) for p in sorted(floors.glob("seed*.json"))]
    for ax, (_, key, words) in zip(axes, READOUTS, strict=True):
        for unit, marker in ((4, "o"), (8, "s")):
            keys = sorted((k for k in entering if k[1] == unit), key=lambda k: th[k]["share"])
            ivs = [mean_interval([100 * r[key] for r in entering[k]]) for k in keys]
            ax.errorbar([th[k]["share"] for k in keys], [iv.value for iv in ivs],
                        yerr=[iv.halfwidth if iv.n > 1 else 0 for iv in ivs], fmt=marker + "-",
                        capsize=3, label=f"unit {unit} px")  # fmt: skip
            for k, iv in zip(keys, ivs, strict=True):
                ax.annotate(f"{k[0]}", (th[k]["share"], iv.value), textcoords="offset points",
                            xytext=(4, 4), fontsize=8)  # fmt: skip
        for floor, style, words_floor in (("untrained", ":", "encoder at initialisation"),
                                          ("pixels", "--", "raw pixels")):  # fmt: skip
            if floor_rows:
                ax.axhline(100 * np.mean([f[floor][key] for f in floor_rows]), color="grey",
                           ls=style, label=words_floor)  # fmt: skip
        ax.set_xlabel("Gaussian long-range share (beyond 16 px)")
        ax.set_title(f"{words} accuracy, trained seeds (95 % t)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("top-1 % on the 10,000 test images")
    fig.suptitle("Fashion-MNIST: trained MAEs against the advisor's long-range share")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "fm_advice.db")
    parser.add_argument("--floors", type=Path, default=ROOT / "runs" / "fm_advice_floors")
    parser.add_argument("--runs", type=Path, help="the runs' folders (default: as recorded)")
    parser.add_argument("--figure", type=Path, help="also draw the accuracies against the share")
    args = parser.parse_args()
    th = theory(json.loads((HERE / "profile.json").read_text()))
    read, total = load_readouts(args.db, args.runs)
    cells: dict[tuple[float, int], list[dict]] = {}
    for r in read:
        cells.setdefault((r["ratio"], r["unit"]), []).append(r)
    print(f"{len(read)} of {PLANNED_RUNS} runs read ({total} in the database); the gate: "
          "e_G <= 0.25; accuracies over the trained seeds\n")  # fmt: skip
    print_cells(cells, th)
    print_floors(args.floors)
    entering = {k: [r for r in rows if r["trained"]] for k, rows in cells.items()}
    entering = {k: rows for k, rows in entering.items() if len(rows) >= MIN_TRAINED_SEEDS}
    rng = np.random.default_rng(0)
    print_verdicts(entering, th, len(read) == PLANNED_RUNS, rng)
    bounds = {k: rows[0]["gaussian_bayes"] for k, rows in cells.items()}
    print_exploratory(entering, bounds, rng)
    print_contrasts(entering)
    if args.figure:
        draw(entering, th, args.floors, args.figure)
        print(f"\nwrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
