"""Heat maps of a second-order information profile (`maeid advise --data`): the share of
the Gaussian value beyond the target scale, which ranks the cells, beside the Gaussian
Bayes loss, over ratio x unit."""

from __future__ import annotations

import os

import numpy as np

from maeid.figures import plt, save_figure
from maeid.theory.gaussian_information import GaussianProfile


def plot_gaussian_profile(profile: GaussianProfile, path: str | os.PathLike) -> None:
    """Two panels over ratio x unit, impossible cells grey; written atomically as PNG."""
    ratios, units = profile.ratios, profile.units
    share = np.full((len(ratios), len(units)), np.nan)
    bayes = np.full_like(share, np.nan)
    labels = [["impossible"] * len(units) for _ in ratios]
    for c in profile.cells:
        i, j = ratios.index(c.ratio), units.index(c.unit)
        if c.possible:
            s = c.beyond_target_share
            share[i, j], bayes[i, j] = s.mean, c.bayes.mean  # type: ignore[union-attr]
            labels[i][j] = f"#{c.rank}\n{s.mean:.2f}±{s.se:.2f}"  # type: ignore[union-attr]
    fig, axes = plt.subplots(
        1, 2, figsize=(3.0 + 2.2 * len(units), 1.8 + 0.62 * len(ratios)), constrained_layout=True
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    panels = (
        (share, labels, f"share of the value beyond {profile.target_scale} px", 1.0),
        (
            bayes,
            None,
            "Gaussian Bayes loss (share of variance)",
            float(np.nanmax(bayes, initial=1.0)),
        ),
    )
    for ax, (data, text, title, vmax) in zip(axes, panels, strict=True):
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(units)), [str(u) for u in units])
        ax.set_yticks(range(len(ratios)), [f"{r:g}" for r in ratios])
        ax.set_xlabel("unit (px)")
        ax.set_ylabel("masking ratio")
        ax.set_title(title, fontsize=9)
        for i in range(len(ratios)):
            for j in range(len(units)):
                v = data[i, j]
                label = text[i][j] if text else ("n/a" if np.isnan(v) else f"{v:.3f}")
                dark = np.isfinite(v) and v / vmax < 0.6
                ax.text(j, i, label, ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")  # fmt: skip
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(
        f"second-order profile, {profile.side}x{profile.side} px, {profile.num_images} images, "
        f"{profile.num_masks} masks per cell (linear prediction, not a nonlinear MAE)",
        fontsize=9,
    )
    save_figure(fig, path)
