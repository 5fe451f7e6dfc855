"""Heatmaps of a theory profile: which levels c(m) holds, over ratio x masking unit, and
how the cells rank for a target level (`maeid advise`)."""

from __future__ import annotations

import os

import numpy as np

from maeid.atomic import save_figure
from maeid.figures import plt
from maeid.theory.advice import Advice
from maeid.theory.profile import TheoryProfile


def plot_level_composition(profile: TheoryProfile, path: str | os.PathLike) -> None:
    """One panel per latent level: the mean share of c(m)'s members at that level, for
    every (ratio, unit); a last panel shows mean d_c. Invalid cells are grey and
    marked n/a. Written atomically as PNG."""
    ratios, units, levels = profile.ratios, profile.units, profile.levels
    share = np.full((len(levels), len(ratios), len(units)), np.nan)
    code = np.full((len(ratios), len(units)), np.nan)
    for i, r in enumerate(ratios):
        for j, u in enumerate(units):
            cell = profile.cell(r, u)
            if cell.valid:
                share[:, i, j] = cell.c_level_share
                code[i, j] = cell.code_dim["mean"]

    panels = len(levels) + 1
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(1.0 + max(2.4, 0.9 * len(units)) * panels, 1.4 + 0.55 * len(ratios)),
        squeeze=False,
        constrained_layout=True,
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    unit_name = "unit (px)" if profile.patch_size else "unit (nodes)"
    for k, ax in enumerate(axes[0]):
        last = k == len(levels)
        data = code if last else share[k]
        vmax = np.nanmax(code) if last and np.isfinite(code).any() else 1.0
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
        ax.set_title("mean $d_c$" if last else f"level {levels[k]}", fontsize=10)
        ax.set_xticks(range(len(units)), [str(u) for u in units])
        ax.set_yticks(range(len(ratios)), [f"{r:g}" for r in ratios])
        ax.set_xlabel(unit_name)
        if k == 0:
            ax.set_ylabel("masking ratio")
        for i in range(len(ratios)):
            for j in range(len(units)):
                v = data[i, j]
                text = "n/a" if not np.isfinite(v) else _fmt(v, last)
                dark = np.isfinite(v) and v / vmax < 0.6
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
        if last:
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.colorbar(
        axes[0][len(levels) - 1].images[0],
        ax=axes[0][: len(levels)],
        shrink=0.8,
        label="share of c(m)",
    )
    patch = f", patch {profile.patch_size} px" if profile.patch_size else ""
    fig.suptitle(
        f"{profile.model}: share of c(m)'s members at each latent level, "
        f"{profile.num_masks} masks per cell"
        f"{patch}",
        fontsize=11,
    )
    _save(fig, os.fspath(path))


def plot_advice(advice: Advice, path: str | os.PathLike) -> None:
    """One heat map over ratio x unit: the share of c(m) at or above the target level,
    each cell labelled with its rank and mean d_c; impossible cells are grey. Written
    atomically as PNG."""
    p = advice.profile
    ratios, units = p.ratios, p.units
    share = np.full((len(ratios), len(units)), np.nan)
    labels = [["impossible"] * len(units) for _ in ratios]
    for c in advice.cells:
        i, j = ratios.index(c.ratio), units.index(c.unit)
        if c.possible:
            share[i, j] = c.share
            labels[i][j] = f"#{c.rank}\n{c.share:.2f}\nd_c {_fmt(c.code_dim, True)}"
    fig, ax = plt.subplots(
        figsize=(2.2 + 1.1 * len(units), 1.6 + 0.62 * len(ratios)), constrained_layout=True
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(units)), [str(u) for u in units])
    ax.set_yticks(range(len(ratios)), [f"{r:g}" for r in ratios])
    ax.set_xlabel("unit (px)" if p.patch_size else "unit (nodes)")
    ax.set_ylabel("masking ratio")
    for i in range(len(ratios)):
        for j in range(len(units)):
            v = share[i, j]
            dark = np.isfinite(v) and v < 0.6
            best = np.isfinite(v) and labels[i][j].startswith("#1\n")
            ax.text(
                j,
                i,
                labels[i][j],
                ha="center",
                va="center",
                fontsize=7,
                fontweight="bold" if best else "normal",
                color="white" if dark else "black",
            )
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"share of c(m) at level <= {advice.target_level}")
    fig.suptitle(
        f"{p.model}: masks ranked for target level {advice.target_level} "
        f"({p.num_masks} masks per cell)",
        fontsize=10,
    )
    _save(fig, os.fspath(path))


def _fmt(v: float, is_code_dim: bool) -> str:
    if not is_code_dim:
        return f"{v:.2f}"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _save(fig: plt.Figure, path: str) -> None:
    save_figure(fig, path, dpi=120, format="png")
