"""How much of the observed variance each latent level carries.

For a level `l`, let `A_l` be the exogenous noise of every latent at level <= l. Since
mechanisms are invertible, the latents of levels <= l and `A_l` determine each other
(when every parent sits on a lower level, as with depth-based levels), so

    R2(<= l) = 1 - E[Var(x | A_l)] / Var(x)

is the best R² any regressor could reach predicting the observations from the true
latents of levels <= l. We estimate it without a regressor, by "pick-freeze" Monte
Carlo (Jansen's estimator): draw the noise twice, keep `A_l` from the first draw,
redraw the rest, and use `E[Var(x | A_l)] = E[(x - x')^2] / 2`. Variances are summed
over all observed coordinates (a variance-weighted average over pixels).

The share of level `l` is `R2(<= l) - R2(<= l-1)`; what no latent explains is the
observed nodes' own noise. Estimates carry Monte-Carlo error of order 1/sqrt(n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maeid.hlvm.model import HierarchicalModel


@dataclass(frozen=True)
class LevelShare:
    """One row of the table: `level` is None for the observed nodes' own noise."""

    level: int | None
    num_nodes: int
    share: float  # fraction of observed variance this level adds
    cumulative: float  # R2 of the observations from all latents up to this level

    @property
    def label(self) -> str:
        return "observed noise" if self.level is None else f"level {self.level}"


def variance_by_level(model: HierarchicalModel, n: int = 2048, seed: int = 0) -> list[LevelShare]:
    """Share of the observed variance explained by each latent level (see module doc)."""
    if n < 2:
        raise ValueError(f"variance_by_level needs n >= 2 samples, got {n}")
    spec = model.spec
    rng = np.random.default_rng(seed)
    base = model.draw_noise(n, rng)
    fresh = model.draw_noise(n, rng)
    observed = spec.observed

    def stack(values: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([values[k] for k in observed], axis=1)

    x = stack(model.generate(base))
    total = float(x.var(axis=0).sum())
    if total <= 0:
        raise ValueError(f"model {model.name!r} has constant observations; nothing to explain")

    rows: list[LevelShare] = []
    previous = 0.0
    for level, names in spec.levels.items():
        kept = {v for lv, vs in spec.levels.items() if lv <= level for v in vs}
        mixed = {k: (base[k] if k in kept else fresh[k]) for k in base}
        x_mixed = stack(model.generate(mixed))
        unexplained = float(0.5 * ((x - x_mixed) ** 2).mean(axis=0).sum())
        cumulative = 1.0 - unexplained / total
        rows.append(LevelShare(level, len(names), cumulative - previous, cumulative))
        previous = cumulative
    rows.append(LevelShare(None, len(observed), 1.0 - previous, 1.0))
    return rows


def format_variance_table(rows: list[LevelShare]) -> str:
    """A plain-text table of `variance_by_level`'s rows."""
    lines = [f"{'':16s} {'nodes':>6s} {'share':>7s} {'R2(<=)':>7s}"]
    for r in rows:
        lines.append(f"{r.label:16s} {r.num_nodes:6d} {r.share:7.1%} {r.cumulative:7.1%}")
    return "\n".join(lines)
