"""The report's figures: small functions from rows to one PNG each.

Rows are the dicts `ResultsDB.metric_table` returns (`maeid.report.cells`); seeds are
averaged per grid cell. A section passes the metrics it reads; the figures that draw
fixed metrics (reconstruction, real-image accuracy) name them here, and their sections
declare them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker
import numpy as np

from maeid.experiments import paper_results
from maeid.figures import plt, save_figure
from maeid.report.cells import Row, cell_means, mean, ratios_of, units_of

OURS_COLOURS = {"linear": "#1f77b4", "knn": "#2ca02c", "robust": "#d62728"}
PAPER_STYLE = dict(color="0.35", linestyle="--", marker="s", markersize=4)
# The metrics the reconstruction figure draws: per score, its title and its axis' top.
RECONSTRUCTION = {
    "recon.masked.mse": ("MSE (lower is better)", None),
    "recon.masked.psnr": ("PSNR (dB)", None),
    "recon.masked.ssim": ("SSIM", 1.0),
    "recon.masked.fsim": ("FSIM", 1.0),
}
MSE_PLATEAU = "recon.masked.mean_predictor_mse"  # predicting every masked pixel by the mean
BAYES_LOSS, PLATEAU_LOSS = "train.bayes_loss", "train.plateau_loss"  # in the loss's units
# The real-image accuracies drawn against an axis: (label, metric, colour).
ACCURACIES = (
    ("linear probe", "probe.linear_top1", OURS_COLOURS["linear"]),
    ("kNN (k=20)", "probe.knn_top1", OURS_COLOURS["knn"]),
    ("robustness (mean over corruptions)", "robustness.mean_top1", OURS_COLOURS["robust"]),
)


def r2_heatmaps(
    rows: Sequence[Row], levels: Sequence[str], sources: Sequence[tuple[str, str]], path: Path
) -> Path:
    """R² per latent level over ratio (x) x unit (y): one row of panels per level, one
    column per source (`(metric prefix, title)`, e.g. predicted vs measured)."""
    return level_heatmaps(
        rows,
        levels,
        sources,
        path,
        "R²",
        "Identifiability: R² of each latent level from the encoder",
    )


def level_heatmaps(
    rows: Sequence[Row],
    levels: Sequence[str],
    sources: Sequence[tuple[str, str]],
    path: Path,
    value_label: str,
    suptitle: str,
    level_notes: dict[str, str] | None = None,
) -> Path:
    """A value in [0, 1] per latent level over ratio (x) x unit (y), mean over seeds and
    written in each cell: one row of panels per level (`level_notes` adds a line under a
    level's name, e.g. its chance), one column per source (`(metric prefix, title)`)."""
    level_notes = level_notes or {}
    ratios = ratios_of(rows)
    units = units_of(rows)
    fig, axes = plt.subplots(
        len(levels),
        len(sources),
        figsize=(
            1.0 + 0.75 * len(ratios) * len(sources) + 0.9,
            0.6 + 0.62 * len(units) * len(levels) + 0.6,
        ),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for i, level in enumerate(levels):
        for j, (prefix, title) in enumerate(sources):
            ax = axes[i][j]
            means = cell_means(rows, f"{prefix}.{level}", "mask_ratio", "mask_unit")
            grid = np.full((len(units), len(ratios)), np.nan)
            for (ratio, unit), value in means.items():
                grid[units.index(unit), ratios.index(ratio)] = value
            image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
            for (yi, xi), value in np.ndenumerate(grid):
                if not math.isnan(value):
                    colour = "black" if value > 0.6 else "white"
                    ax.text(
                        xi, yi, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=8
                    )
            ax.set_xticks(range(len(ratios)), [f"{r:g}" for r in ratios], fontsize=8)
            ax.set_yticks(range(len(units)), [str(u) for u in units], fontsize=8)
            if i == 0:
                ax.set_title(title, fontsize=10)
            if i == len(levels) - 1:
                ax.set_xlabel("masking ratio", fontsize=9)
            if j == 0:
                note = f"\n{level_notes[level]}" if level in level_notes else ""
                ax.set_ylabel(f"{level.replace('_', ' ')}{note}\nunit (px)", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label=value_label)
    fig.suptitle(suptitle, fontsize=11)
    return _save(fig, path)


def class_accuracy_vs_ratio(
    rows: Sequence[Row], measured: str, floor: str, chance: str, path: Path
) -> Path | None:
    """The class probe's accuracy against the masking ratio, one line per unit, beside its
    untrained floor and chance (left), and each unit's curve over its best value beside the
    paper's Table 1 linear probe over its best (right); None without two ratios."""
    units = units_of(rows)
    curves = {}
    for unit in units:
        means = cell_means([r for r in rows if r.get("mask_unit") == unit], measured, "mask_ratio")
        if means:
            curves[unit] = means
    if len({x for c in curves.values() for x in c}) < 2:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for i, (unit, means) in enumerate(curves.items()):
        xs = sorted(means)
        ys = np.asarray([means[x] for x in xs])
        left.plot(xs, 100 * ys, marker="o", color=f"C{i}", label=f"trained, unit {unit}px")
        floors = cell_means([r for r in rows if r.get("mask_unit") == unit], floor, "mask_ratio")
        fx = sorted(floors)
        if fx:
            left.plot(fx, [100 * floors[x] for x in fx], linestyle=":", color=f"C{i}",
                      label=f"untrained floor, unit {unit}px")  # fmt: skip
        right.plot(xs, ys / ys.max(), marker="o", color=f"C{i}", label=f"ours: unit {unit}px")
    chances = [float(r[chance]) for r in rows if r.get(chance) is not None]
    if chances:
        left.axhline(100 * mean(chances), color="0.5", linestyle="--", label="chance")
    paper = paper_results.linear_probe_vs_ratio()
    keys = sorted(paper)
    ys = np.asarray([paper[k] for k in keys])
    right.plot(keys, ys / ys.max(), **PAPER_STYLE, label="paper: linear probe (IN1K)")
    left.set(title="Class: linear-probe accuracy (%)", xlabel="masking ratio", ylabel="top-1 (%)")
    right.set(title="Trend: each series / its best value", xlabel="masking ratio",
              ylabel="relative")  # fmt: skip
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_xlim(0, 1)
    return _save(fig, path)


def sweep_slice(rows: Sequence[Row], axis: str) -> tuple[list[Row], str]:
    """The rows along one axis with the other held fixed, as the paper's sweeps do.

    Against the ratio: the unit with the most ratios (ties: the largest unit). Against the
    unit: ratio 0.75 if swept, else the ratio with the most units. Returns the rows and a
    caption naming the fixed value.
    """
    other = "mask_unit" if axis == "mask_ratio" else "mask_ratio"
    spread: dict[Any, set] = defaultdict(set)
    for row in rows:
        if row.get(axis) is not None and row.get(other) is not None:
            spread[row[other]].add(row[axis])
    if not spread:
        return [], ""
    if other == "mask_ratio" and len(spread.get(0.75, ())) >= 2:
        fixed = 0.75
    else:
        fixed = max(spread, key=lambda v: (len(spread[v]), v))
    name = "unit" if other == "mask_unit" else "ratio"
    return [r for r in rows if r.get(other) == fixed], f"{name} {fixed:g}"


def accuracy_vs_axis(rows: Sequence[Row], axis: str, path: Path) -> Path | None:
    """Linear-probe, kNN and robustness accuracy against `mask_ratio` or `mask_unit`, with
    the paper's Table 1 trend beside (both normalised to their best value)."""
    rows, fixed = sweep_slice(rows, axis)
    if axis == "mask_ratio":
        x_of = lambda row: row["mask_ratio"]  # noqa: E731
        paper_x = lambda k: k  # noqa: E731
        paper = [
            ("linear probe (IN1K)", paper_results.linear_probe_vs_ratio()),
            ("robustness (mean of 5 shifted sets)", paper_results.robustness_vs_ratio()),
        ]
        xlabel = "masking ratio"
    else:
        x_of = lambda row: row["mask_unit"] / row.get("run.patch_size", 1)  # noqa: E731
        paper_x = lambda k: k / 8  # the paper's Sweep B uses ViT patch 8  # noqa: E731
        paper = [
            ("linear probe (IN1K)", paper_results.linear_probe_vs_unit()),
            ("robustness (mean of 5 shifted sets)", paper_results.robustness_vs_unit()),
        ]
        xlabel = "masking unit (in ViT patches)"
    series = []
    for label, metric, colour in ACCURACIES:
        points = defaultdict(list)
        for row in rows:
            if row.get(metric) is not None:
                points[x_of(row)].append(row[metric])
        if points:
            xs = sorted(points)
            series.append((label, colour, xs, [mean(points[x]) for x in xs]))
    if not series or len({x for s in series for x in s[2]}) < 2:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for label, colour, xs, ys in series:
        left.plot(xs, [100 * y for y in ys], marker="o", color=colour, label=label)
        right.plot(xs, np.asarray(ys) / max(ys), marker="o", color=colour, label=f"ours: {label}")
    for (label, values), marker in zip(paper, ("s", "^"), strict=True):
        keys = sorted(values)
        ys = np.asarray([values[k] for k in keys])
        style = {**PAPER_STYLE, "marker": marker}
        right.plot([paper_x(k) for k in keys], ys / ys.max(), **style, label=f"paper: {label}")
    left.set(title=f"Ours: top-1 accuracy (%), {fixed}", xlabel=xlabel, ylabel="top-1 (%)")
    right.set(title="Trend: each series / its best value", xlabel=xlabel, ylabel="relative")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        if axis == "mask_unit":
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    fig.text(
        0.5,
        -0.01,
        "dashed grey: the paper's numbers (Kong et al. 2023, Table 1: ImageNet-1K, ViT-B, "
        "800 epochs), not ours",
        ha="center",
        va="top",
        fontsize=8,
        color="0.3",
    )
    return _save(fig, path)


def reconstruction_vs_ratio(rows: Sequence[Row], path: Path) -> Path | None:
    """MSE, PSNR, SSIM and FSIM of the masked patches' reconstruction against the ratio,
    one line per unit (the paper's Fig. 5), beside the levels that give them a scale;
    None without two ratios to compare. See `reconstruction_figure`."""
    fig = reconstruction_figure(rows)
    return None if fig is None else _save(fig, path)


def reconstruction_figure(rows: Sequence[Row]) -> plt.Figure | None:
    """The figure of `reconstruction_vs_ratio`.

    Every axis starts at its natural origin (ratio 0, MSE 0, PSNR 0 dB, SSIM and FSIM 0 to
    1), so a difference looks as large as it is. The MSE panel draws two levels:

    - predict the mean (`recon.masked.mean_predictor_mse`): the MSE of predicting every
      masked pixel by the training set's mean, the plateau a model must get below;
    - Bayes (synthetic data, where a run's metrics carry `bayes_loss`): the best masked
      MSE any model can reach at that ratio and unit. `bayes_loss` is in the training
      loss's units (standardised pixels), so it is drawn scaled by the ratio of the two
      plateaus, predict-the-mean MSE / `plateau_loss` (1 when no `plateau_loss` is given:
      predicting the mean of standardised pixels scores 1).
    """
    present = [
        (metric, title, top)
        for metric, (title, top) in RECONSTRUCTION.items()
        if any(r.get(metric) is not None for r in rows)
    ]
    ratios = ratios_of(rows)
    if not present or len(ratios) < 2:
        return None
    fig, axes = plt.subplots(
        1, len(present), figsize=(3.2 * len(present), 3.4), squeeze=False, constrained_layout=True
    )
    units = units_of(rows)
    colours = {unit: f"C{i}" for i, unit in enumerate(units)}
    for ax, (metric, title, top) in zip(axes[0], present, strict=True):
        for unit in units:
            means = cell_means(
                [r for r in rows if r.get("mask_unit") == unit], metric, "mask_ratio"
            )
            if means:
                xs = sorted(means)
                ax.plot(xs, [means[x] for x in xs], marker="o", color=colours[unit],
                        label=f"unit {unit}px")  # fmt: skip
        if metric == "recon.masked.mse":
            _draw_mse_levels(ax, rows, units, colours)
        ax.set(title=title, xlabel="masking ratio")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, top if top is not None else max(ax.get_ylim()[1], 1e-12))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        "Reconstruction of the masked patches against masking ratio (cf. paper Fig. 5)",
        fontsize=11,
    )
    return fig


def _draw_mse_levels(ax: plt.Axes, rows: Sequence[Row], units: Sequence, colours: dict) -> None:
    """Predict-the-mean and Bayes levels on the MSE panel (see `reconstruction_figure`)."""
    plateaus = [float(r[MSE_PLATEAU]) for r in rows if r.get(MSE_PLATEAU) is not None]
    if not plateaus:
        return
    plateau = mean(plateaus)
    ax.axhline(plateau, color="0.3", linestyle=":", label="predict the mean")
    for unit in units:
        cell = [r for r in rows if r.get("mask_unit") == unit and r.get(BAYES_LOSS) is not None]
        scaled = defaultdict(list)
        for r in cell:
            to_mse = plateau / float(r.get(PLATEAU_LOSS) or 1.0)
            scaled[r["mask_ratio"]].append(float(r[BAYES_LOSS]) * to_mse)
        if scaled:
            xs = sorted(scaled)
            ax.plot(xs, [mean(scaled[x]) for x in xs], linestyle="--", color=colours[unit],
                    label=f"Bayes, unit {unit}px")  # fmt: skip


def _save(fig: plt.Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=110)


def shape_bias_vs_ratio(
    trained: dict[Any, dict[float, Any]], untrained: dict[Any, dict[float, float]],
    pixels: float | None, path: Path,
) -> Path | None:  # fmt: skip
    """The trained encoder's shape bias against the ratio per unit (`Interval`s: mean and
    95 % interval over trained seeds), its untrained floor, the pixel probe and the Bayes
    reference (1), beside the paper's Table 2; None without two ratios."""
    if len({ratio for curve in trained.values() for ratio in curve}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for i, (unit, curve) in enumerate(trained.items()):
        xs = sorted(curve)
        ys = [curve[x].value for x in xs]
        errors = [0.0 if math.isnan(curve[x].halfwidth) else curve[x].halfwidth for x in xs]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, color=f"C{i}",
                    label=f"trained, unit {unit}px")  # fmt: skip
        floor = untrained.get(unit, {})
        if floor:
            fx = sorted(floor)
            ax.plot(fx, [floor[x] for x in fx], linestyle=":", color=f"C{i}",
                    label=f"untrained, unit {unit}px")  # fmt: skip
    if pixels is not None:
        ax.axhline(pixels, color="0.6", linestyle="-.", label="pixel probe")
    ax.axhline(1.0, color="0.2", linewidth=0.8, label="Bayes (reads only the tree)")
    paper = paper_results.shape_bias_vs_ratio()
    keys = sorted(paper)
    ax.plot(keys, [paper[k] for k in keys], **PAPER_STYLE, label="paper: Table 2 (ImageNet)")
    ax.set(title="Shape bias on cue-conflict images", xlabel="masking ratio",
           ylabel="shape bias", xlim=(0, 1), ylim=(-0.02, 1.05))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)
