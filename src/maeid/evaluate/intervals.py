"""95 % intervals for the numbers a table reports: over seeds, masks, or resamples.

- `mean_interval`: the mean of independent runs and the half-width of its Student-t
  95 % interval (n - 1 degrees of freedom; none from a single run).
- `spearman_interval`: Spearman's rho between a prediction and a measurement, with a
  percentile bootstrap over whole seeds (every point of a resampled seed comes along,
  so the interval reflects seed-to-seed variation, not only point-to-point noise).
- `cell_means_spearman`: Spearman's rho between cells' mean measurement and one theory
  value per cell, with a bootstrap that resamples the seeds within each cell (the
  pre-registered studies' rank statistic).
- `welch_interval`: the difference of two cells' means and its Welch 95 % interval.
- `distinct_values`: how many theory values stand apart by more than 2 standard errors
  (a rank statistic needs at least 3).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A central value with a 95 % interval [low, high] and the number of runs behind it."""

    value: float
    low: float
    high: float
    n: int

    @property
    def halfwidth(self) -> float:
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        if self.n < 2 or math.isnan(self.halfwidth):
            return f"{self.value:.3f} (n={self.n})"
        return f"{self.value:.3f} ± {self.halfwidth:.3f}"

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and Student-t 95 % interval of finite `values` (NaN, None are left out)."""
    x = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not len(x):
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return Interval(mean, mean - half, mean + half, len(x))


def spearman_interval(
    predicted: Sequence[float],
    measured: Sequence[float],
    groups: Sequence[object],
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Spearman's rho of (predicted, measured) pairs and a bootstrap 95 % interval that
    resamples whole `groups` (seeds) with replacement."""
    if resamples < 1:
        raise ValueError(f"resamples={resamples}; a bootstrap needs at least 1 (e.g. 2000)")
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    keep = np.isfinite(p) & np.isfinite(m)
    p, m, g = p[keep], m[keep], np.asarray(groups, dtype=object)[keep]
    if len(p) < 3 or np.ptp(p) == 0 or np.ptp(m) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), len(p))
    rho = float(stats.spearmanr(p, m).statistic)
    labels = list(dict.fromkeys(g.tolist()))
    members = [np.flatnonzero(g == label) for label in labels]
    if len(labels) < 2:
        return Interval(rho, float("nan"), float("nan"), len(p))
    rng = np.random.default_rng(seed)
    resampled = [
        np.concatenate([members[i] for i in rng.integers(0, len(labels), len(labels))])
        for _ in range(resamples)
    ]
    # Resamples of one length are ranked together: scipy's per-call overhead would
    # otherwise dominate a report with dozens of intervals.
    by_length: dict[int, list[np.ndarray]] = {}
    for rows in resampled:
        by_length.setdefault(len(rows), []).append(rows)
    draws = np.concatenate([_spearman_rows(p[np.stack(r)], m[np.stack(r)])
                            for r in by_length.values()])  # fmt: skip
    draws = draws[np.isfinite(draws)]
    low, high = np.percentile(draws, [2.5, 97.5]) if len(draws) else (np.nan, np.nan)
    return Interval(rho, float(low), float(high), len(p))


def _spearman_rows(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of (draws, n) arrays; NaN where a row is constant."""
    rp = stats.rankdata(p, axis=1) - (p.shape[1] + 1) / 2
    rm = stats.rankdata(m, axis=1) - (m.shape[1] + 1) / 2
    norm = np.sqrt((rp**2).sum(1) * (rm**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (rp * rm).sum(1) / norm, np.nan)


def cell_means_spearman(
    per_cell: Mapping[Hashable, Sequence[float]],
    theory: Mapping[Hashable, float],
    rng: np.random.Generator,
    resamples: int = 10_000,
) -> tuple[float, float, float]:
    """(rho, low, high): Spearman's rho between each cell's mean of `per_cell` (one value
    per seed) and its `theory` value, with the 2.5 and 97.5 percentiles of `resamples`
    bootstraps that redraw each cell's seeds with replacement (cells sorted by key)."""
    keys = sorted(per_cell)
    x = [theory[c] for c in keys]
    rho = stats.spearmanr([np.mean(per_cell[c]) for c in keys], x).statistic
    boots = []
    for _ in range(resamples):
        means = [np.mean(rng.choice(per_cell[c], size=len(per_cell[c]))) for c in keys]
        r = stats.spearmanr(means, x).statistic
        if np.isfinite(r):
            boots.append(r)
    low, high = np.percentile(boots, [2.5, 97.5]) if boots else (np.nan, np.nan)
    return float(rho), float(low), float(high)


def welch_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high) with Welch's 95 % interval (each needs 2 values)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's interval needs 2 values on each side, got {len(a)} and {len(b)}")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * (va + vb) ** 0.5
    diff = float(a.mean() - b.mean())
    return diff, diff - half, diff + half


def distinct_values(values_with_se: Sequence[tuple[float, float]]) -> int:
    """How many values differ from every other by more than 2 standard errors (a greedy
    count over the sorted (value, se) pairs)."""
    count, last = 0, None
    for value, se in sorted(values_with_se):
        if last is None or value - last[0] > 2 * max(se, last[1]):
            count, last = count + 1, (value, se)
    return count
