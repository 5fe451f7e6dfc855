"""The second-order information profile of an image set: what an ideal *linear* predictor
of the masked pixels gains from visible pixels at each distance.

Model the pixels as Gaussian with the set's covariance Sigma (scikit-learn's Ledoit-Wolf
estimate: shrunk towards a scaled identity by the amount its formula picks, so that it
is well conditioned even with fewer images than pixels). For a mask m and a block side s
that tiles the image, L_s(m) is the mean, over the masked values, of the conditional
variance of a masked value given the visible values *inside its own s x s block only*,

    Var(x_i | x_v(B)) = [Sigma_mm - Sigma_mv Sigma_vv^-1 Sigma_vm]_ii   (per block B),

each divided by the variance of its channel's values pooled over the image, around the
channel's mean (the MAE's loss units on images standardised per channel, as in
`maeid.data` and `maeid.theory.exact_limits`). The block sides of a cell with masking unit u are the
*scales*: the image side, then halved while it is even (else divided by its smallest
prime factor) while it stays above u, then u itself. At the image side L is the Gaussian
Bayes masked loss; at u a masked value's block holds no visible value, so L is the
predict-the-mean plateau: each masked value predicted by its own mean. Its mean over
masks is 1 less the share of the channel's variance that lies in the pixels' means (on
Fashion-MNIST at 28 px it is 0.70: the border is nearly always dark); with the per-pixel
variance as the unit it would be 1. Shares of plateau - Bayes do not depend on the unit.

V_s = L_s - L_s' (s' the next larger scale) is the value of the evidence that lies
outside a masked value's s-block but inside its s'-block: the loss the objective pays
when that evidence is cut. The V telescope to plateau - Bayes, and their shares of it
sum to 1. For a target scale t (any side that tiles the image), the value from beyond t
is L_t - Bayes, its share (L_t - Bayes) / (plateau - Bayes).

Under the true covariance every L_s bounds the Bayes loss under the same confinement
from above (the best linear predictor is never better than the best predictor), and V_s
is what *linear* prediction gains from each distance: a second-order profile, not what a
nonlinear MAE will learn.

The losses are in-sample: the conditional variances of the covariance fitted to the
same images, which a linear fit with many predictors makes too low, by a bias that falls
as 1/N. Each cell therefore also carries its half-sample shift, the number from all the
images minus the same from half of them: about how far the estimate still is below its
infinite-sample value (on 10,000 Fashion-MNIST images, at most 0.008 for the Bayes loss).

Masks are the MAE's (`maeid.theory.masking`, the unit grid of the cell): the standard
error over masks comes from one value per mask; the one over images from bootstrap
resamples of the images, the covariance re-estimated each time, on a fixed subset of the
cell's masks (common masks, so that only the covariance varies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from maeid.theory.masking import MaskLayout, sample_masks

PAPER_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
DEFAULT_MASKS = 64
DEFAULT_BOOTSTRAP = 8
DEFAULT_BOOTSTRAP_MASKS = 16
# Gathered sub-matrices of one batched solve stay under this many bytes.
_BATCH_BYTES = 1 << 27

RANKING_RULE = (
    "cells are ranked by (1) the share of the Gaussian value that lies beyond the target "
    "scale t, (L_t - Bayes) / (plateau - Bayes), higher first: how much of what an ideal "
    "linear predictor gains from the visible pixels comes from outside each masked "
    "pixel's t x t block; then (2) that value itself, L_t - Bayes in shares of the pixel "
    "variance, larger first; then (3) the larger ratio and (4) the larger unit. Shares and "
    "values are compared at 3 decimals, as printed, so that Monte Carlo noise does not "
    "split ties"
)
BOUND_NOTE = (
    "a second-order (Gaussian) profile: what an ideal linear predictor of the masked "
    "pixels gains from visible pixels at each distance, from the images' covariance. "
    "With the true covariance its losses would bound the Bayes losses from above (the "
    "estimate from finitely many images is biased low: see its half-sample shift); it "
    "does not say what a nonlinear MAE will learn"
)


# ------------------------------------------------------------------------- covariance
@dataclass(frozen=True)
class PixelCovariance:
    """The Ledoit-Wolf covariance of (N, C, side, side) images, values in (C, y, x) order."""

    matrix: np.ndarray  # (D, D) float64
    channels: int
    side: int
    shrinkage: float
    num_images: int
    means: np.ndarray | None = None  # (D,); None: every value has mean 0

    @property
    def dim(self) -> int:
        return self.channels * self.side * self.side

    @property
    def value_weights(self) -> np.ndarray:
        """(D,) 1 / the variance of each value's channel, pooled over the image around the
        channel's mean: the within-pixel variances plus the spread of the pixel means."""
        within = np.diag(self.matrix).reshape(self.channels, -1)
        means = np.zeros_like(within) if self.means is None else self.means.reshape(within.shape)
        pooled = within.mean(1) + means.var(1)
        return np.repeat(1.0 / pooled, self.side * self.side)


def estimate_covariance(images: np.ndarray) -> PixelCovariance:
    """Ledoit-Wolf covariance of `images` (N, C, side, side)."""
    from sklearn.covariance import LedoitWolf  # only here: it is slow to import

    n, c, h, w = images.shape
    if h != w:
        raise ValueError(f"images are {h}x{w}; the profile needs square images")
    if n < 2:
        raise ValueError(f"{n} image(s): a covariance needs at least 2")
    x = images.reshape(n, -1).astype(np.float64)
    # store_precision=False: sklearn would otherwise invert the D x D estimate by an
    # eigendecomposition (about 7x the cost of the fit); the blocks' precisions are built
    # where they are needed.
    fit = LedoitWolf(store_precision=False, assume_centered=False).fit(x)
    matrix = np.asarray(fit.covariance_, dtype=np.float64)
    if not np.all(np.diag(matrix).reshape(c, -1).mean(1) > 0):
        raise ValueError("a channel is constant over every image: it has no variance to explain")
    return PixelCovariance(matrix, c, h, float(fit.shrinkage_), n, np.asarray(fit.location_))


def covariance_bytes(channels: int, side: int, num_images: int) -> int:
    """Peak memory of the estimate and the profile: the images in float64, and about four
    D x D float64 matrices (the estimate, its workspace, the block precision, the solves)."""
    dim = channels * side * side
    return 8 * (num_images * dim + 4 * dim * dim) + _BATCH_BYTES


def largest_side_within(channels: int, num_images: int, budget: int) -> int:
    """The largest side whose `covariance_bytes` stays within `budget` (0 if none)."""
    side = 0
    while covariance_bytes(channels, side + 1, num_images) <= budget:
        side += 1
    return side


# --------------------------------------------------------------------------- scales
def scale_chain(side: int, unit: int) -> list[int]:
    """Block sides from the image side down to the unit: halved while even (else divided
    by the smallest prime factor) while above `unit`, then `unit`."""
    if side % unit or unit >= side:
        raise ValueError(f"unit {unit} does not tile a {side} px image into several units")
    chain = [side]
    while True:
        s = chain[-1]
        factor = next(p for p in range(2, s + 1) if s % p == 0) if s > 1 else 1
        nxt = s // factor
        if factor == 1 or nxt <= unit:
            break
        chain.append(nxt)
    return [*chain, unit]


def tiling_units(side: int) -> list[int]:
    """The masking units (px) that tile the image into at least four units, larger than 1
    px: the divisors of `side` from 2 to side / 2."""
    return [u for u in range(2, side // 2 + 1) if side % u == 0]


def divisors(side: int) -> list[int]:
    return [s for s in range(1, side + 1) if side % s == 0]


def default_target_scale(side: int) -> int:
    """The chain's third block side: a quarter of the image when the side divides by 4."""
    chain = scale_chain(side, 1)
    return chain[min(2, len(chain) - 2)]


# ----------------------------------------------------------------------------- masks
def pixel_masks(
    ratio: float, unit: int, side: int, channels: int, num_masks: int, generator: torch.Generator
) -> np.ndarray:
    """(num_masks, D) bool, True = masked: the MAE's masks of `unit` px units, every channel
    of a masked pixel masked."""
    layout = MaskLayout(side // unit, side // unit, 1)  # one token per unit: same draws
    units = sample_masks(num_masks, layout, ratio, generator).mask.numpy().astype(bool)
    grid = units.reshape(num_masks, side // unit, side // unit)
    pixels = grid.repeat(unit, axis=1).repeat(unit, axis=2)
    return np.tile(pixels.reshape(num_masks, 1, -1), (1, channels, 1)).reshape(num_masks, -1)


def cell_generator(seed: int, ratio: float, unit: int) -> torch.Generator:
    """The cell's own mask stream: its masks do not depend on which other cells run."""
    state = np.random.SeedSequence([seed, unit, round(ratio * 1_000_000)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


# ------------------------------------------------------------------ confined losses
class ConfinedLoss:
    """L_s(m) for many masks: Gaussian conditional variances confined to s x s blocks.

    Per block, masks that leave the same pattern are solved once; patterns with the same
    numbers of visible and masked values are solved together, by batched Cholesky, through
    whichever is cheaper: the visible covariance (Sigma_vv, v^3/3 + v^2 m flops) or the
    block's precision (the masked values' conditional covariance is (P_mm)^-1, 2 m^3/3
    flops), the precision of each block side factorised once and reused.
    """

    def __init__(self, covariance: PixelCovariance) -> None:
        self.cov = covariance
        self.weights = covariance.value_weights
        self._sigma = torch.from_numpy(covariance.matrix)
        self._blocks: dict[int, tuple[np.ndarray, torch.Tensor]] = {}
        self._precision: dict[int, torch.Tensor] = {}

    def __call__(self, masked: np.ndarray, block: int) -> np.ndarray:
        """(M,) L_block of each mask row of `masked` (M, D), True = masked."""
        side = self.cov.side
        if side % block:
            raise ValueError(f"block side {block} does not tile the {side} px image")
        masked = np.asarray(masked, dtype=bool)
        count = masked.sum(1)
        if (count == 0).any():
            raise ValueError("a mask hides nothing: its masked loss is undefined")
        ids, _ = self._block(block)
        nb, size = ids.shape
        patterns = masked[:, ids].reshape(-1, size)  # (M * nb, size), block-major per mask
        which = np.tile(np.arange(nb), len(masked))
        keyed = np.concatenate([which[:, None], patterns], axis=1).astype(np.int64)
        unique, inverse = np.unique(keyed, axis=0, return_inverse=True)
        values = self._pattern_sums(block, unique[:, 0], unique[:, 1:].astype(bool))
        per_mask = values[inverse.reshape(-1)].reshape(len(masked), nb).sum(1)
        return per_mask / count

    def _block(self, block: int) -> tuple[np.ndarray, torch.Tensor]:
        """Value indices of each block (nb, C*block^2) and the blocks' covariances."""
        if block not in self._blocks:
            c, side = self.cov.channels, self.cov.side
            grid = np.arange(self.cov.dim).reshape(c, side // block, block, side // block, block)
            ids = grid.transpose(1, 3, 0, 2, 4).reshape((side // block) ** 2, -1)
            t = torch.from_numpy(ids)
            self._blocks[block] = (ids, self._sigma[t[:, :, None], t[:, None, :]])
        return self._blocks[block]

    def _block_precision(self, block: int) -> torch.Tensor:
        if block not in self._precision:
            sigma = self._block(block)[1]
            self._precision[block] = torch.cholesky_inverse(torch.linalg.cholesky(sigma))
        return self._precision[block]

    def _pattern_sums(self, block: int, which: np.ndarray, masked: np.ndarray) -> np.ndarray:
        """Per (block index, masked pattern): the sum over its masked values of weight x
        conditional variance given the block's visible values."""
        ids, sigma = self._block(block)
        weights = self.weights[ids]  # (nb, size)
        diag = np.diagonal(sigma.numpy(), axis1=1, axis2=2)  # (nb, size)
        out = np.zeros(len(which))
        nm = masked.sum(1)
        nv = masked.shape[1] - nm
        for m, v in sorted(set(zip(nm.tolist(), nv.tolist(), strict=True))):
            rows = np.flatnonzero((nm == m) & (nv == v))
            if m == 0:
                continue
            if v == 0:  # nothing visible in the block: the plateau
                out[rows] = (weights[which[rows]] * diag[which[rows]] * masked[rows]).sum(1)
                continue
            per = 8 * (v * v + v * m + m * m)
            for chunk in np.array_split(rows, math.ceil(len(rows) * per / _BATCH_BYTES)):
                out[chunk] = self._solve(block, which[chunk], masked[chunk], m, v)
        return out

    def _solve(self, block: int, which: np.ndarray, masked: np.ndarray, m: int, v: int):
        ids, sigma = self._block(block)
        g = len(which)
        mas = torch.from_numpy(np.nonzero(masked)[1].reshape(g, m))
        vis = torch.from_numpy(np.nonzero(~masked)[1].reshape(g, v))
        b = torch.from_numpy(which)[:, None, None]
        w = torch.from_numpy(self.weights[ids[which[:, None], mas.numpy()]])
        if 2 * m**3 / 3 < v**3 / 3 + v * v * m:  # precision route
            p_mm = self._block_precision(block)[b, mas[:, :, None], mas[:, None, :]]
            inv_l = torch.linalg.solve_triangular(
                torch.linalg.cholesky(p_mm), torch.eye(m, dtype=p_mm.dtype), upper=False
            )
            conditional = (inv_l**2).sum(1)  # diag of (L L^T)^-1 = column norms of L^-1
        else:  # covariance route
            s_vv = sigma[b, vis[:, :, None], vis[:, None, :]]
            s_vm = sigma[b, vis[:, :, None], mas[:, None, :]]
            a = torch.linalg.solve_triangular(torch.linalg.cholesky(s_vv), s_vm, upper=False)
            s_mm = sigma[b[:, :, 0], mas, mas]
            conditional = s_mm - (a**2).sum(1)
        return (w * conditional.clamp_min(0.0)).sum(1).numpy()


# -------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Estimate:
    """A mean over masks, its standard error over masks and over bootstrap images."""

    mean: float
    se_masks: float
    se_images: float = float("nan")

    @property
    def se(self) -> float:
        """Both errors together (over masks alone when there is no bootstrap)."""
        if math.isnan(self.se_images):
            return self.se_masks
        return math.hypot(self.se_masks, self.se_images)

    def to_dict(self) -> dict[str, float | None]:
        pairs = (("mean", self.mean), ("se_masks", self.se_masks),
                 ("se_images", self.se_images), ("se", self.se))  # fmt: skip
        return {k: _finite(v) for k, v in pairs}


@dataclass(frozen=True)
class GaussianCell:
    """One (ratio, unit) cell; `rank` is 1-based, None if the cell is impossible."""

    ratio: float
    unit: int
    reason: str | None
    num_units: int
    masked_units: int | None
    scales: list[int] = field(default_factory=list)  # descending: image side ... unit
    loss: dict[int, Estimate] = field(default_factory=dict)  # L_s per scale
    value: dict[int, Estimate] = field(default_factory=dict)  # V_s, s below the image side
    value_share: dict[int, Estimate] = field(default_factory=dict)
    beyond_target: Estimate | None = None  # L_t - Bayes
    beyond_target_share: Estimate | None = None  # its share of plateau - Bayes
    # Each number minus its value from half the images (on the bootstrap masks): the
    # in-sample fit's bias falls as 1/N, so this is about how far the estimate still is
    # from its infinite-sample value (Richardson); keys "bayes", "beyond_target_share".
    half_sample_shift: dict[str, float] = field(default_factory=dict)
    rank: int | None = None

    @property
    def possible(self) -> bool:
        return self.reason is None

    @property
    def bayes(self) -> Estimate:
        return self.loss[self.scales[0]]

    @property
    def plateau(self) -> Estimate:
        return self.loss[self.scales[-1]]

    def to_dict(self) -> dict[str, object]:
        def table(d: dict[int, Estimate]) -> dict[str, object]:
            return {str(k): e.to_dict() for k, e in d.items()}

        out: dict[str, object] = {
            "ratio": self.ratio, "unit": self.unit, "rank": self.rank,
            "possible": self.possible, "reason": self.reason, "num_units": self.num_units,
            "masked_units": self.masked_units, "scales": self.scales,
        }  # fmt: skip
        if self.possible:
            out.update(
                bayes=self.bayes.to_dict(),
                plateau=self.plateau.to_dict(),
                loss=table(self.loss),
                value=table(self.value),
                value_share=table(self.value_share),
                beyond_target=self.beyond_target.to_dict(),  # type: ignore[union-attr]
                beyond_target_share=self.beyond_target_share.to_dict(),  # type: ignore[union-attr]
                half_sample_shift={k: _finite(v) for k, v in self.half_sample_shift.items()},
            )
        return out


@dataclass(frozen=True)
class GaussianProfile:
    """Every cell of ratios x units, ranked for `target_scale` (RANKING_RULE)."""

    source: str
    side: int
    channels: int
    num_images: int
    shrinkage: float
    ratios: list[float]
    units: list[int]
    target_scale: int
    num_masks: int
    bootstrap: int
    bootstrap_masks: int
    seed: int
    cells: list[GaussianCell]

    @property
    def ranked(self) -> list[GaussianCell]:
        return sorted((c for c in self.cells if c.possible), key=lambda c: c.rank or 0)

    @property
    def impossible(self) -> list[GaussianCell]:
        return [c for c in self.cells if not c.possible]

    def cell(self, ratio: float, unit: int) -> GaussianCell:
        for c in self.cells:
            if c.ratio == ratio and c.unit == unit:
                return c
        raise KeyError(f"no cell at ratio {ratio}, unit {unit}")

    def to_dict(self) -> dict[str, object]:
        head = {k: getattr(self, k) for k in (
            "source", "side", "channels", "num_images", "shrinkage", "ratios", "units",
            "target_scale", "num_masks", "bootstrap", "bootstrap_masks", "seed",
        )}  # fmt: skip
        cells = [*self.ranked, *self.impossible]
        return {**head, "note": BOUND_NOTE, "rule": RANKING_RULE,
                "cells": [c.to_dict() for c in cells]}  # fmt: skip


# ---------------------------------------------------------------------------- profile
def gaussian_profile(
    images: np.ndarray,
    ratios: Sequence[float] = PAPER_RATIOS,
    units: Sequence[int] | None = None,
    target_scale: int | None = None,
    num_masks: int = DEFAULT_MASKS,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    bootstrap_masks: int = DEFAULT_BOOTSTRAP_MASKS,
    seed: int = 0,
    source: str = "images",
) -> GaussianProfile:
    """The profile of `images` (N, C, side, side) over ratios x units (default: the paper's
    ratios, every unit of `tiling_units`), ranked for `target_scale` (default
    `default_target_scale`). The same arguments give the same numbers."""
    n, c, side, _ = images.shape
    units = tiling_units(side) if units is None else [int(u) for u in units]
    target = default_target_scale(side) if target_scale is None else int(target_scale)
    check_grid(side, ratios, units, target, num_masks, bootstrap, bootstrap_masks)
    covariance = estimate_covariance(images)
    solver = ConfinedLoss(covariance)
    per_mask, masks = {}, {}
    cells: list[GaussianCell] = []
    for ratio in ratios:
        for unit in units:
            layout = MaskLayout(side // unit, side // unit, 1)
            try:
                kept = layout.num_kept_units(ratio)
            except ValueError as err:
                cells.append(GaussianCell(ratio, unit, str(err), layout.num_units, None))
                continue
            key = (ratio, unit)
            masks[key] = pixel_masks(
                ratio, unit, side, c, num_masks, cell_generator(seed, ratio, unit)
            )
            per_mask[key] = _cell_losses(solver, masks[key], scale_chain(side, unit), target)
            cells.append(GaussianCell(ratio, unit, None, layout.num_units, layout.num_units - kept))
    replicates: dict[tuple[float, int], list[dict[str, np.ndarray]]] = {k: [] for k in masks}
    rng = np.random.default_rng([seed, 0xB007])
    for _ in range(bootstrap):
        resampled = ConfinedLoss(estimate_covariance(images[rng.integers(0, n, n)]))
        for key, m in masks.items():
            losses = _cell_losses(resampled, m[:bootstrap_masks], scale_chain(side, key[1]), target)
            replicates[key].append(_statistics(losses))
    shifts = _half_sample_shifts(images, solver, masks, bootstrap_masks, target, seed)
    summarised = [
        _replace(_summarise(cell, scale_chain(side, cell.unit), per_mask[(cell.ratio, cell.unit)],
                            replicates[(cell.ratio, cell.unit)]),
                 half_sample_shift=shifts[(cell.ratio, cell.unit)])
        if cell.possible else cell
        for cell in cells
    ]  # fmt: skip
    ranked = sorted((x for x in summarised if x.possible), key=_sort_key)
    order = {(x.ratio, x.unit): i + 1 for i, x in enumerate(ranked)}
    final = [_replace(x, rank=order.get((x.ratio, x.unit))) for x in summarised]
    return GaussianProfile(
        source, side, c, n, covariance.shrinkage, [float(r) for r in ratios], units, target,
        num_masks, bootstrap, min(bootstrap_masks, num_masks), seed, final,
    )  # fmt: skip


def check_grid(
    side: int,
    ratios: Sequence[float],
    units: Sequence[int],
    target: int,
    num_masks: int,
    bootstrap: int,
    bootstrap_masks: int,
) -> None:
    """Refuse, with the fix, a grid the profile cannot compute."""
    from maeid.theory.masking import check_ratio

    good = tiling_units(side)
    for ratio in ratios:
        check_ratio(ratio)
    for unit in units:
        if unit < 1 or side % unit or unit >= side:
            raise ValueError(
                f"masking unit {unit} does not tile the {side} px image into several units; "
                f"use one of {', '.join(map(str, good)) or 'none: pick another resolution'}"
            )
    sides = [s for s in divisors(side) if s < side]
    if target not in sides:
        raise ValueError(
            f"target scale {target} px is not a block side that tiles the {side} px image "
            f"(smaller than it); use one of {', '.join(map(str, sides))}"
        )
    if num_masks < 2:
        raise ValueError(f"--masks {num_masks}: use at least 2 (the standard error needs 2)")
    if bootstrap < 0 or bootstrap == 1:
        raise ValueError(f"--bootstrap {bootstrap}: use 0 (none) or at least 2 resamples")
    if bootstrap_masks < 1:
        raise ValueError(f"bootstrap masks {bootstrap_masks}: use at least 1")


def _half_sample_shifts(
    images: np.ndarray,
    solver: ConfinedLoss,
    masks: dict[tuple[float, int], np.ndarray],
    num_masks: int,
    target: int,
    seed: int,
) -> dict[tuple[float, int], dict[str, float]]:
    """Per cell: the Bayes loss and the share beyond the target from all the images minus
    the same from a seeded half of them, on the cell's first `num_masks` masks."""
    n, side = len(images), images.shape[-1]
    if n < 4:
        return {key: {"bayes": math.nan, "beyond_target_share": math.nan} for key in masks}
    half = np.random.default_rng([seed, 0x4A1F]).permutation(n)[: n // 2]
    half_solver = ConfinedLoss(estimate_covariance(images[np.sort(half)]))
    out = {}
    for key, m in masks.items():
        chain = scale_chain(side, key[1])
        full, part = (_statistics(_cell_losses(s, m[:num_masks], chain, target))
                      for s in (solver, half_solver))  # fmt: skip
        out[key] = {
            "bayes": float(full["loss"][0] - part["loss"][0]),
            "beyond_target_share": float(full["beyond_share"] - part["beyond_share"]),
        }
    return out


def _cell_losses(
    solver: ConfinedLoss, masks: np.ndarray, chain: list[int], target: int
) -> dict[str, np.ndarray]:
    """Per mask: L at each scale of the chain (S, M) and at the target scale (M,)."""
    losses = {s: solver(masks, s) for s in {*chain, target}}
    return {"chain": np.stack([losses[s] for s in chain]), "target": losses[target]}


def _statistics(losses: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The cell's numbers as means over its masks (shares: ratios of means)."""
    chain = losses["chain"].mean(1)
    gap = chain[-1] - chain[0]
    values = chain[1:] - chain[:-1]
    beyond = losses["target"].mean() - chain[0]
    return {"loss": chain, "value": values, "value_share": values / gap,
            "beyond": np.array(beyond), "beyond_share": np.array(beyond / gap)}  # fmt: skip


def _summarise(
    cell: GaussianCell,
    chain: list[int],
    losses: dict[str, np.ndarray],
    replicates: list[dict[str, np.ndarray]],
) -> GaussianCell:
    stats = _statistics(losses)
    m = losses["chain"].shape[1]
    per_loss = losses["chain"]  # (S, M)
    per_value = per_loss[1:] - per_loss[:-1]
    per_gap = per_loss[-1] - per_loss[0]
    per_beyond = losses["target"] - per_loss[0]

    def spread(key: str) -> np.ndarray:
        if len(replicates) < 2:
            return np.full(np.shape(stats[key]), np.nan)
        return np.stack([r[key] for r in replicates]).std(0, ddof=1)

    def est(mean: float, se_masks: float, se_images: float) -> Estimate:
        return Estimate(float(mean), float(se_masks), float(se_images))

    se = {k: spread(k) for k in stats}
    sem = per_loss.std(1, ddof=1) / math.sqrt(m)
    sev = per_value.std(1, ddof=1) / math.sqrt(m)
    ses = np.array([_ratio_se(v, per_gap) for v in per_value])
    return _replace(
        cell,
        scales=chain,
        loss={s: est(stats["loss"][i], sem[i], se["loss"][i]) for i, s in enumerate(chain)},
        value={s: est(stats["value"][i - 1], sev[i - 1], se["value"][i - 1])
               for i, s in enumerate(chain) if i},
        value_share={s: est(stats["value_share"][i - 1], ses[i - 1], se["value_share"][i - 1])
                     for i, s in enumerate(chain) if i},
        beyond_target=est(stats["beyond"], per_beyond.std(ddof=1) / math.sqrt(m), se["beyond"]),
        beyond_target_share=est(stats["beyond_share"], _ratio_se(per_beyond, per_gap),
                                se["beyond_share"]),
    )  # fmt: skip


def _ratio_se(a: np.ndarray, b: np.ndarray) -> float:
    """Delta-method standard error of mean(a) / mean(b) over paired samples."""
    n = len(a)
    ma, mb = a.mean(), b.mean()
    if mb == 0:
        return float("nan")
    r = ma / mb
    resid = a - r * b
    return float(resid.std(ddof=1) / math.sqrt(n) / abs(mb))


def _sort_key(c: GaussianCell) -> tuple[float, ...]:
    share = c.beyond_target_share.mean  # type: ignore[union-attr]
    value = c.beyond_target.mean  # type: ignore[union-attr]
    return (-round(_nan_low(share), 3), -round(_nan_low(value), 3), -c.ratio, -c.unit)


def _nan_low(v: float) -> float:
    return v if math.isfinite(v) else -math.inf


def _replace(cell: GaussianCell, **changes: object) -> GaussianCell:
    return GaussianCell(**{**cell.__dict__, **changes})


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
