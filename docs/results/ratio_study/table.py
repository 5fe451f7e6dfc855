"""The ratio study's tables and verdicts, by the rules of docs/results/preregistration.md.

Reads every run of the `rhm32_ratio_study` sweep that met its criterion and has its
readouts (`RUN/readouts/eval.json`, from readouts.py), and the matched-steps controls.
Prints, per cell: the trained seeds, the excess and steps, G per level on the full
image (trained and pixels, with the 5-SE readability rule), the class-only probe at both
budgets beside its floors, and the rules readout's share of its floor-to-Bayes gap; then
H1, H2 and H3 with their statistics and verdicts, exactly as pre-registered. Intervals
are 95 % Student-t over seeds (Welch for a difference); rho's interval is a bootstrap
over seeds within cells (10,000 resamples, seeded).

    .venv/bin/python docs/results/ratio_study/table.py --db runs/ratio_study.db
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

ROOT = Path(__file__).resolve().parents[3]
GRAMMAR = "rhm32:m=32/4/2"
READABLE_SE = 5.0
PLANNED_SEEDS = 3  # the pre-registered seeds per cell
LEVELS = (0, 1, 2, 3)


def fmt(values: list[float]) -> str:
    iv = mean_interval(values)
    return f"{iv.value:.3f}" if iv.n < 2 else f"{iv.value:.3f} ± {iv.halfwidth:.3f}"


def readouts(run_dir: Path) -> dict | None:
    path = run_dir / "readouts" / "eval.json"
    return json.loads(path.read_text()) if path.is_file() else None


def row_values(ev: dict) -> dict:
    """The pre-registered numbers of one run (full image)."""
    from maeid.evaluate.rules_share import rules_share

    info, probe, sym = (
        ev["information"]["full_image"],
        ev["class_probe"]["full_image"],
        ev["symbols"],
    )
    full = sym["full_image"]
    rules = rules_share(
        full["trained"]["tokens"]["rules"]["0"],  # the class from the level-1 probes
        full["untrained"]["tokens"]["rules"]["0"],
        full["bayes"]["0"],
        int(sym["test"]),
    )
    out = {"rules_share": rules.share, "rules_readable": rules.readable}
    for k in LEVELS:
        key = str(k)
        out[f"G{k}"] = info["gain_share"]["trained"][key]
        out[f"Gpix{k}"] = info["gain_share"]["pixels"][key]
        gap = info["gap_se"][key]
        out[f"gap{k}"] = float("inf") if gap is None else gap  # JSON keeps inf as null
    for budget in ev["class_probe"]["budgets"]:
        for who in ("trained", "untrained", "pixels"):
            out[f"probe{budget}_{who}"] = probe[who][str(budget)]["accuracy"]
    return out


def theory_values(cells: list[tuple[int, float]]) -> dict[tuple[int, float], tuple]:
    """Exact V_0, V_1 and their standard errors per cell (as the pre-registration's
    addendum computed them: 2048 images per cell, seed 0)."""
    from maeid.hlvm import load_model
    from maeid.theory.information import cell_information

    model = load_model(GRAMMAR)
    out = {}
    for unit, ratio in cells:
        info = cell_information(model, ratio, unit, num_images=2048, seed=0)
        out[(unit, ratio)] = (info.value[0], info.se[0], info.value[1], info.se[1])
    return out


def print_controls(folder: Path, cells: dict) -> None:
    """The matched-steps control per seed beside the two unit-4 runs of that seed: G_0 and
    the class probe at 4000 labels, and control minus (0.75, 4) (secondary, no verdict)."""
    by_seed = {}
    for ratio in (0.25, 0.75):
        for run, _, ev in cells.get((4, ratio), []):
            if ev is not None:
                by_seed.setdefault(run.seed, {})[ratio] = row_values(ev)
    rows = []
    for done in sorted(folder.glob("u4_r0.25_s*/train/CONTROL_DONE")):
        seed, ev = int(done.parent.parent.name.rsplit("_s", 1)[1]), readouts(done.parent.parent)
        if ev is not None and len(by_seed.get(seed, {})) == 2:
            rows.append((seed, row_values(ev), by_seed[seed][0.25], by_seed[seed][0.75]))
    if not rows:
        return
    print("  matched-steps control (secondary): (0.25, 4) continued to the (0.75, 4) run's step")
    print("  | seed | G_0: (0.25, 4) at criterion / control / (0.75, 4) | class probe 4000: same "
          "three | control - (0.75, 4): G_0, probe |")  # fmt: skip
    for seed, control, low, high in rows:
        print(f"  | {seed} | {low['G0']:.3f} / {control['G0']:.3f} / {high['G0']:.3f} | "
              f"{low['probe4000_trained']:.3f} / {control['probe4000_trained']:.3f} / "
              f"{high['probe4000_trained']:.3f} | {control['G0'] - high['G0']:+.3f}, "
              f"{control['probe4000_trained'] - high['probe4000_trained']:+.3f} |")  # fmt: skip
    if len(rows) >= 2:
        g = [c["G0"] - h["G0"] for _, c, _, h in rows]
        p = [c["probe4000_trained"] - h["probe4000_trained"] for _, c, _, h in rows]
        print(f"  mean paired difference (control - (0.75, 4)), 95 % t interval over "
              f"{len(rows)} seeds: G_0 {fmt(g)}, class probe {fmt(p)}")  # fmt: skip


def print_warm_arm(folder: Path) -> None:
    """The warm-start arm (pre-registered for a cell not trained by its cap): per seed, the
    warm run at the target cell and its matched control at (0.25, 4), each from the trained
    (0.25, 4) weights. Reported on its own rows, never pooled with the cold-start cells."""
    from progress import last_measure  # this folder's script: a run's last held-out measure

    arms = sorted(p for p in folder.glob("u*_r*_s*") if p.is_dir())
    if not arms:
        return
    print("\nWarm-start arm (secondary, own rows): from the trained (0.25, 4) weights of the "
          "same seed, cap 6000 steps")  # fmt: skip
    print("| cell | seed | run | steps | excess | met 0.25 | G_0 | G_1 | G_2 | G_3 | class probe "
          "4000 |")  # fmt: skip
    print("|---" * 11 + "|")
    paired = []
    for arm in arms:
        unit, ratio, seed = arm.name[1:].replace("_r", " ").replace("_s", " ").split()
        values = {}
        for kind in ("warm", "control"):
            train = arm / kind / "train"
            if not (train / "metrics.jsonl").is_file():
                continue
            step, excess, _ = last_measure(train)
            done = (train / "ARM_DONE").is_file()
            ev = readouts(arm / kind) if done else None
            met = "yes" if excess is not None and excess <= 0.25 else "no"
            if not done:
                met = "running"
            cell = f"({ratio}, {unit})" if kind == "warm" else "(0.25, 4)"
            text = "- | - | - | - | -"
            if ev is not None:
                values[kind] = row_values(ev)
                v = values[kind]
                text = " | ".join([*(f"{v[f'G{k}']:.3f}" for k in LEVELS),
                                   f"{v['probe4000_trained']:.3f}"])  # fmt: skip
            shown = "-" if excess is None else f"{excess:.3f}"
            print(f"| {cell} | {seed} | {kind} | {step} | {shown} | {met} | {text} |")
        if len(values) == 2:
            paired.append(values["warm"]["G0"] - values["control"]["G0"])
    if len(paired) >= 2:
        print(f"  warm - control, G_0, 95 % t interval over {len(paired)} seeds: {fmt(paired)}")


def undecided_cells(runs) -> list[tuple[int, float]]:
    """Cells whose trained/not-trained status or mean could still change: a cell with runs
    still out, unless too few of its runs can still meet the criterion for it to count as
    trained (2 seeds)."""
    out = []
    for cell in sorted({(r.mask_unit, r.mask_ratio) for r in runs}):
        mine = [r for r in runs if (r.mask_unit, r.mask_ratio) == cell]
        met = sum(bool((r.metrics or {}).get("train", {}).get("reached_target")) for r in mine
                  if r.status == "done")  # fmt: skip
        out_still = sum(r.status != "done" for r in mine)
        if out_still and met + out_still >= 2:
            out.append(cell)
    return out


def print_steps_confound(cells: dict, trained: dict, rng) -> None:
    """Exploratory (chosen after the runs): the training rule ties steps to the cell, so
    rho between a cell's mean G_0 and its mean steps to the criterion, by the same
    bootstrap, is set beside H2's."""
    steps = {c: [t["steps"] for _, t, ev in cells[c] if ev is not None] for c in trained}
    keys = sorted(trained)
    mean_steps = {c: float(np.mean(steps[c])) for c in keys}
    rho, lo, hi = cell_means_spearman({c: trained[c]["G0"] for c in keys}, mean_steps, rng)
    means = ", ".join(f"({c[1]}, {c[0]}) {np.mean(steps[c]):.0f}" for c in keys)
    print(f"\nExploratory: Spearman rho(G_0, mean steps to the criterion) over {len(keys)} cells "
          f"= {rho:+.2f} [{lo:+.2f}, {hi:+.2f}] (steps: {means})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "ratio_study.db")
    parser.add_argument("--controls", type=Path, default=ROOT / "runs" / "ratio_study_controls")
    parser.add_argument("--arms", type=Path, default=ROOT / "runs" / "ratio_study_arms")
    args = parser.parse_args()
    from maeid.experiments.results_db import ResultsDB

    with ResultsDB(args.db, read_only=True) as results:
        runs = results.runs("rhm32_ratio_study")
    cells: dict[tuple[int, float], list] = {}
    for run in runs:
        train = (run.metrics or {}).get("train", {})
        ev = readouts(Path(run.run_dir)) if train.get("reached_target") else None
        cells.setdefault((run.mask_unit, run.mask_ratio), []).append((run, train, ev))

    print("| unit | ratio | trained seeds | excess | steps | G_0 | G_1 | G_2 | G_3 | G_0 pixels | "
          "class probe 1000: trained / untrained / pixels | 4000 | rules share |")  # fmt: skip
    print("|---" * 13 + "|")
    per_cell: dict[tuple[int, float], dict[str, list]] = {}
    for key in sorted(cells):
        done = [(r, t, ev) for r, t, ev in cells[key] if ev is not None]
        vals = [row_values(ev) for _, _, ev in done]
        per_cell[key] = {k: [v[k] for v in vals] for k in (vals[0] if vals else {})}
        seeds = ",".join(str(r.seed) for r, _, _ in done) or "-"
        if not vals:
            print(f"| {key[0]} | {key[1]} | {seeds} |" + " - |" * 10)
            continue
        col = per_cell[key]
        g = [fmt(col[f"G{k}"]) + ("" if min(col[f"gap{k}"]) >= READABLE_SE else " (not readable)")
             for k in LEVELS]  # fmt: skip
        probes = [" / ".join(fmt(col[f"probe{b}_{w}"]) for w in ("trained", "untrained", "pixels"))
                  for b in (1000, 4000)]  # fmt: skip
        rules = fmt(col["rules_share"]) + ("" if all(col["rules_readable"]) else " (not readable)")
        excess = fmt([t["normalised_excess"] for _, t, _ in done])
        steps = "/".join(str(t["steps"]) for _, t, _ in done)
        print(f"| {key[0]} | {key[1]} | {seeds} | {excess} | {steps} | {' | '.join(g)} "
              f"| {fmt(col['Gpix0'])} | {probes[0]} | {probes[1]} | {rules} |")  # fmt: skip

    trained = {k: v for k, v in per_cell.items() if len(v.get("G0", [])) >= 2}
    print("\nH1 (unit 4: G_0 at ratio 0.75 exceeds G_0 at 0.25)")
    a, b = trained.get((4, 0.75)), trained.get((4, 0.25))
    if a is None or b is None:
        print("  untestable: a cell has fewer than 2 trained seeds")
    elif min(a["gap0"] + b["gap0"]) < READABLE_SE:
        print("  untestable: G_0 is not readable (gap under 5 SE) in a cell")
    else:
        diff, lo, hi = welch_interval(a["G0"], b["G0"])
        verdict = "agrees" if lo > 0 else "disagrees" if hi < 0 or hi < 0.05 else "untestable"
        seeds = min(len(a["G0"]), len(b["G0"]))
        if seeds < PLANNED_SEEDS:  # no verdict before every planned seed is in
            verdict = f"interim, {seeds} of {PLANNED_SEEDS} seeds read: no verdict yet"
        print(f"  G_0(0.75) - G_0(0.25) = {diff:+.3f} [{lo:+.3f}, {hi:+.3f}]: {verdict}")
    print_controls(args.controls, cells)
    print_warm_arm(args.arms)

    if len(trained) < 4:
        print(f"\nH2, H3: untestable ({len(trained)} trained cells; 4 are needed)")
        return 0
    theory = theory_values(list(trained))
    rng = np.random.default_rng(0)
    undecided = undecided_cells(runs)
    for name, level in (("H2", 0), ("H3", 1)):
        n = distinct_values([(theory[c][2 * level], theory[c][2 * level + 1]) for c in trained])
        if n < 3:
            print(f"\n{name}: untestable (V_{level} takes {n} distinct values over the cells)")
            continue
        values = {c: theory[c][2 * level] for c in trained}
        rho, lo, hi = cell_means_spearman(
            {c: v[f"G{level}"] for c, v in trained.items()}, values, rng
        )
        verdict = "agrees" if lo > 0 else "disagrees" if rho <= 0 else "untestable"
        if undecided:  # as for H1: no final verdict while a cell could still change
            where = ", ".join(f"({r}, {u})" for u, r in undecided)
            verdict = f"interim (cells {where} still open): {verdict} so far"
        print(f"\n{name}: Spearman rho(G_{level}, V_{level}) over {len(trained)} cells = "
              f"{rho:+.2f} [{lo:+.2f}, {hi:+.2f}]: {verdict}")  # fmt: skip
    print_steps_confound(cells, trained, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
