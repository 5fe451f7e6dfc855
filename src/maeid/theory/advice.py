"""Which masking ratio and unit to use: rank the cells of a theory profile for a target level.

A user who wants an MAE whose representation sits at latent level `target` (0 = the
roots, the most semantic) wants c(m), what the encoder provably recovers, to lie at or
above that level. For every (ratio, unit) cell of `theory_profile`, three numbers say
how well it does:

- `share`: the mean share of c(m)'s members at a level <= target;
- `p_none_below`: P(c(m) holds no latent below the target level);
- `d_c`: the mean code dimension.

RANKING_RULE states the order. Cells that leave no visible or no masked unit are
impossible: listed with the reason, never ranked.

With `rank_by="information"` the cells are ranked first by the exact information per
level (`maeid.theory.information`): the share of the reducible masked loss whose
information lies at or above the target level (INFORMATION_RULE), and only then by
RANKING_RULE. It needs a model with its mechanisms (rhm32, or a tree such as qt32).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from maeid.atomic import write_json
from maeid.theory.profile import ProfileCell, TheoryProfile, layout_for, theory_profile
from maeid.theory.spec_like import SpecLike, as_spec
from maeid.theory.token_masks import default_patch_size, token_grid

if TYPE_CHECKING:  # information pulls in belief propagation: imported when asked for
    from maeid.theory.information import LevelInformation

PAPER_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)  # the paper's Sweep A

RANKING_RULE = (
    "cells are ranked by (1) the mean share of c(m)'s members at or above the target "
    "level, higher first; then (2) P(c(m) holds no latent below the target), higher "
    "first; then (3) the share of c(m) at or above each deeper level in turn, so that a c "
    "just below the target beats one far below it; then (4) mean d_c, larger first: "
    "among cells whose c stays at or above the target, the one that identifies the most, "
    "reaching down to the target rather than stopping above it; then (5) the larger ratio "
    "(the encoder sees fewer tokens, so training is cheaper) and the larger unit. Shares "
    "and probabilities are compared at 3 decimals and d_c at 1, as printed, so Monte "
    "Carlo noise does not split ties"
)
INFORMATION_RULE = (
    "with --rank-by information, cells are ranked by (1) the share of the reducible masked "
    "loss (plateau - Bayes) that needs information at or above the target level, the sum "
    "of share_l over the levels l <= target, higher first; then (2) that information's "
    "value in loss units, the sum of V_l over the same levels, higher first (of two cells "
    "that need only such information, the one where it is worth more); both at 3 decimals, "
    "as printed. Ties then follow the structural ranking"
)
RANK_BY = ("structure", "information")


@dataclass(frozen=True)
class CellAdvice:
    """One (ratio, unit) cell judged for the target level; `rank` is 1-based, None if
    the cell is impossible."""

    ratio: float
    unit: int
    rank: int | None
    reason: str | None  # why the cell is impossible
    share: float  # mean share of c's members at level <= target (NaN if impossible)
    p_none_below: float  # P(c holds no latent below the target)
    code_dim: float  # mean d_c
    code_dim_q05: float
    code_dim_q95: float
    p_c_empty: float
    masked_units: int | None
    num_units: int
    level_share: dict[int, float]  # mean share of c's members at each level
    # Only when the information per level was asked for (None / NaN otherwise):
    information: LevelInformation | None = None
    information_share: float = float("nan")  # sum of share_l over levels <= target
    information_value: float = float("nan")  # sum of V_l over levels <= target

    @property
    def possible(self) -> bool:
        return self.reason is None

    def to_dict(self, with_information: bool = False) -> dict[str, object]:
        """As JSON; the information keys only `with_information` (a profile without it
        reads as before)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            if key in _INFORMATION_KEYS:
                if not with_information:
                    continue
                if key == "information":
                    value = None if value is None else value.to_dict()
            if key == "level_share":
                value = {str(k): _finite(v) for k, v in value.items()}
            elif isinstance(value, float):
                value = _finite(value)
            out[key] = value
        out["possible"] = self.possible
        return out


_INFORMATION_KEYS = ("information", "information_share", "information_value")


@dataclass(frozen=True)
class Advice:
    """The ranked cells (best first), then the impossible ones, and the profile behind them."""

    target_level: int
    cells: list[CellAdvice]
    profile: TheoryProfile
    rank_by: str = "structure"
    with_information: bool = False  # the cells carry the information per level

    @property
    def ranked(self) -> list[CellAdvice]:
        return [c for c in self.cells if c.possible]

    @property
    def impossible(self) -> list[CellAdvice]:
        return [c for c in self.cells if not c.possible]

    @property
    def best(self) -> CellAdvice:
        if not self.ranked:
            raise ValueError(
                "every (ratio, unit) cell is impossible (nothing left visible or nothing "
                "masked); use smaller ratios or smaller units"
            )
        return self.ranked[0]

    def save(self, path: str | os.PathLike) -> None:
        """Write `to_dict()` as JSON atomically."""
        write_json(path, self.to_dict())

    @property
    def rule(self) -> str:
        if self.rank_by == "information":
            return f"{INFORMATION_RULE}: {RANKING_RULE}"
        return RANKING_RULE

    def to_dict(self) -> dict[str, object]:
        p = self.profile
        out: dict[str, object] = {
            "model": p.model,
            "target_level": self.target_level,
            "levels": p.levels,
            "patch_size": p.patch_size,
            "ratios": p.ratios,
            "units": p.units,
            "num_masks": p.num_masks,
            "seed": p.seed,
            "rule": self.rule,
            "cells": [c.to_dict(self.with_information) for c in self.cells],
        }
        if self.with_information:
            out["rank_by"] = self.rank_by
        return out


def tiling_units(spec: SpecLike, patch_size: int | None = None) -> list[int]:
    """The masking units (pixels) that tile the image into at least two units: every
    multiple k of the patch such that k patches divide both sides of the token grid.
    A model without an image masks one observed node at a time: [1]."""
    spec = as_spec(spec)
    if spec.image_shape is None:
        return [1]
    patch = default_patch_size(spec) if patch_size is None else patch_size
    gh, gw = token_grid(spec, patch)
    sides = range(1, min(gh, gw) + 1)  # unit side in tokens
    return [k * patch for k in sides if not gh % k and not gw % k and gh * gw >= 2 * k * k]


def check_target_level(spec: SpecLike, target_level: int) -> None:
    levels = sorted(as_spec(spec).levels)
    if target_level not in levels:
        raise ValueError(
            f"target level {target_level} is not a latent level of this model; use one of "
            f"{', '.join(map(str, levels))} (0 = the roots, larger = closer to the pixels)"
        )


def check_units(spec: SpecLike, units: Sequence[int], patch_size: int | None = None) -> None:
    """Refuse, in pixels and with the units that would work, a unit that does not tile."""
    spec = as_spec(spec)
    good = tiling_units(spec, patch_size)
    for unit in units:
        try:
            layout_for(spec, unit, patch_size)
        except ValueError:
            where = "this model" if spec.image_shape is None else _image_words(spec, patch_size)
            raise ValueError(
                f"masking unit {unit} does not tile {where}; use one of {', '.join(map(str, good))}"
            ) from None


def advise(
    spec: SpecLike,
    target_level: int,
    ratios: Sequence[float] = PAPER_RATIOS,
    units: Sequence[int] | None = None,
    num_masks: int = 2000,
    seed: int = 0,
    patch_size: int | None = None,
    num_threads: int | None = 1,
    *,
    information: bool = False,
    rank_by: str = "structure",
    num_images: int | None = None,
    progress: bool = False,
) -> Advice:
    """Profile `spec` over ratios x units (default: the paper's ratios and every unit
    that tiles the image) and rank the cells for `target_level` (see RANKING_RULE).

    `information` (implied by `rank_by="information"`, see INFORMATION_RULE) adds each
    cell's information per level over `num_images` images; `spec` must then be the
    model itself (`maeid.hlvm.load_model`), whose mechanisms it needs.
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by={rank_by!r} is unknown; use one of {', '.join(RANK_BY)}")
    model = spec
    spec = as_spec(spec)
    check_target_level(spec, target_level)
    units = tiling_units(spec, patch_size) if units is None else [int(u) for u in units]
    check_units(spec, units, patch_size)
    valued = None
    if information or rank_by == "information":
        from maeid.theory.information import default_images, profile_information

        default_images(model)  # refuses a model it cannot value before any work
    profile = theory_profile(
        spec, ratios, units, num_masks, seed, patch_size, progress, num_threads=num_threads
    )
    if information or rank_by == "information":
        from maeid.threads import torch_threads

        with torch_threads(num_threads):  # the slow part: belief propagation per image
            valued = profile_information(model, profile, num_images, progress=progress)
    return rank_cells(profile, target_level, valued, rank_by)


def rank_cells(
    profile: TheoryProfile,
    target_level: int,
    information: list[LevelInformation | None] | None = None,
    rank_by: str = "structure",
) -> Advice:
    """The cells of `profile` judged and ordered for `target_level`; `information`, one
    per cell (None where impossible), is needed to rank by it."""
    if target_level not in profile.levels:
        raise ValueError(
            f"target level {target_level} is not one of the profile's levels {profile.levels}"
        )
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by={rank_by!r} is unknown; use one of {', '.join(RANK_BY)}")
    if rank_by == "information" and information is None:
        raise ValueError("ranking by information needs the cells' information per level")
    upto = profile.levels.index(target_level) + 1
    values = information or [None] * len(profile.cells)
    judged = [
        _with_information(_judge(cell, profile.levels, upto), info, target_level)
        for cell, info in zip(profile.cells, values, strict=True)
    ]
    key = _information_key if rank_by == "information" else _sort_key
    possible = sorted((c for c in judged if c.possible), key=lambda c: key(c, upto))
    ranked = [_with_rank(c, i + 1) for i, c in enumerate(possible)]
    impossible = [c for c in judged if not c.possible]
    return Advice(target_level, ranked + impossible, profile, rank_by, information is not None)


def _with_information(
    c: CellAdvice, info: LevelInformation | None, target_level: int
) -> CellAdvice:
    if info is None:
        return c
    value = sum(v for level, v in info.value.items() if level <= target_level)
    return CellAdvice(**{**c.__dict__, "information": info,
                         "information_share": info.share_at_or_above(target_level),
                         "information_value": float(value)})  # fmt: skip


def _information_key(c: CellAdvice, upto: int) -> tuple[float, ...]:
    def rounded(v: float) -> float:
        return -round(v, 3) if math.isfinite(v) else 0.0

    return (rounded(c.information_share), rounded(c.information_value), *_sort_key(c, upto))


def _judge(cell: ProfileCell, levels: list[int], upto: int) -> CellAdvice:
    common = dict(
        ratio=cell.ratio, unit=cell.unit, rank=None, num_units=cell.num_units,
        masked_units=cell.num_masked_units,
    )  # fmt: skip
    if not cell.valid:
        nan = float("nan")
        return CellAdvice(
            **common, reason=cell.reason, share=nan, p_none_below=nan, code_dim=nan,
            code_dim_q05=nan, code_dim_q95=nan, p_c_empty=nan, level_share={},
        )  # fmt: skip
    q = cell.code_dim["quantiles"]
    share = float(cell.c_level_share[:upto].sum())  # NaN when c is always empty
    return CellAdvice(
        **common,
        reason=None,
        share=share if math.isfinite(share) else 0.0,
        p_none_below=float(cell.p_c_within_level[upto - 1]),
        code_dim=float(cell.code_dim["mean"]),
        code_dim_q05=float(q["0.05"]),
        code_dim_q95=float(q["0.95"]),
        p_c_empty=float(cell.p_c_empty),
        level_share={lv: float(s) for lv, s in zip(levels, cell.c_level_share, strict=True)},
    )


def _sort_key(c: CellAdvice, upto: int) -> tuple[float, ...]:
    shares = [0.0 if math.isnan(s) else s for s in c.level_share.values()]
    deeper = [-round(sum(shares[:k]), 3) for k in range(upto + 1, len(shares) + 1)]
    head = (-round(c.share, 3), -round(c.p_none_below, 3))
    return (*head, *deeper, -round(c.code_dim, 1), -c.ratio, -c.unit)


def _with_rank(c: CellAdvice, rank: int) -> CellAdvice:
    return CellAdvice(**{**c.__dict__, "rank": rank})


def _image_words(spec, patch_size: int | None) -> str:
    _, h, w = spec.image_shape
    patch = default_patch_size(spec) if patch_size is None else patch_size
    return f"the {h}x{w} image in {patch} px patches"


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
