"""Monte Carlo profiles: how the masking ratio and the masking unit set the level of c(m).

For every (ratio, unit) cell, N masks are drawn with `maeid.theory.masking.sample_masks`,
the very sampler the MAE trains with, and the theory is evaluated for all of them at once
(`maeid.theory.batch`). Each cell reports, over its masks:

- per latent and per level: the probability of being in S(m) and in c(m);
- the distribution of d_c (mean, spread, quantiles, histogram);
- the level of c: the mean share of c's members at each level, the probability that c
  holds no latent below level l (for l = 0: c is the root alone), and the distribution
  of the lowest (deepest) level present in c.

"Below" means deeper in the hierarchy: level 0 holds the roots, larger levels are closer
to the pixels. A cell whose ratio leaves no masked or no visible unit is kept and marked
invalid (`valid=False`, NaN numbers, `reason`), so a sweep grid never crashes halfway.

Image models are masked over the ViT token grid, units in pixels (a multiple of the
patch; the patch defaults to the leaf block). Other models are masked one observed node
at a time: each observed node is a token and the only unit is 1.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from maeid.atomic import write_json
from maeid.hlvm.spec import GraphSpec, SpecError
from maeid.memory_budget import check_fits, free_memory
from maeid.progress import tqdm
from maeid.theory.batch import GraphMatrices
from maeid.theory.masking import MaskLayout, check_ratio, sample_masks
from maeid.theory.spec_like import SpecLike, takes_spec
from maeid.theory.token_masks import default_patch_size, token_grid, token_incidence
from maeid.threads import torch_threads

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_HIST_BINS = 32
CHUNK = 4096  # masks drawn and evaluated at once; fixes the stream of masks per seed


@dataclass
class ProfileCell:
    """The theory's statistics for one (ratio, unit) over the profile's masks."""

    ratio: float
    unit: int  # pixels for image models, observed nodes otherwise
    unit_tokens: int  # tokens per side of one masking unit
    num_units: int
    num_masked_units: int | None  # None when invalid
    valid: bool
    reason: str | None
    p_shared: np.ndarray  # (latents,) P(z in S)
    p_identified: np.ndarray  # (latents,) P(z in c)
    p_level_shared: np.ndarray  # (levels,) P(S holds a latent of level l)
    p_level_identified: np.ndarray  # (levels,) P(c holds a latent of level l)
    c_level_share: np.ndarray  # (levels,) mean share of c's members at level l
    p_c_within_level: np.ndarray  # (levels,) P(c holds no latent below level l)
    p_lowest_level: np.ndarray  # (levels,) P(the deepest level in c is l)
    p_c_empty: float
    code_dim: dict[str, object] = field(default_factory=dict)  # d_c statistics

    @classmethod
    def invalid(
        cls, ratio: float, unit: int, layout: MaskLayout, reason: str, n_lat: int, n_lev: int
    ) -> ProfileCell:
        """A cell the ratio leaves with no masked or no visible unit: NaN everywhere."""
        arrays = {
            k: np.full(n_lat if k in _LATENT_FIELDS else n_lev, np.nan) for k in _ARRAY_FIELDS
        }
        return cls(
            ratio=ratio,
            unit=unit,
            unit_tokens=layout.unit,
            num_units=layout.num_units,
            num_masked_units=None,
            valid=False,
            reason=reason,
            p_c_empty=float("nan"),
            **arrays,
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = _jsonable(value)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ProfileCell:
        arrays = {
            k: np.array([np.nan if v is None else v for v in d[k]], dtype=float)
            for k in _ARRAY_FIELDS
        }
        scalars = {k: d[k] for k in d if k not in _ARRAY_FIELDS}
        p_empty = scalars.pop("p_c_empty")
        return cls(**scalars, **arrays, p_c_empty=np.nan if p_empty is None else p_empty)


_LATENT_FIELDS = ("p_shared", "p_identified")
_ARRAY_FIELDS = (
    "p_shared",
    "p_identified",
    "p_level_shared",
    "p_level_identified",
    "c_level_share",
    "p_c_within_level",
    "p_lowest_level",
)


@dataclass
class TheoryProfile:
    """Profiles of one model over a grid of ratios x units; cells are ratio-major."""

    model: str
    patch_size: int | None  # None for models without an image
    num_masks: int
    seed: int
    ratios: list[float]
    units: list[int]
    latents: list[str]
    latent_levels: list[int]
    levels: list[int]
    cells: list[ProfileCell]

    def cell(self, ratio: float, unit: int) -> ProfileCell:
        for c in self.cells:
            if math.isclose(c.ratio, ratio) and c.unit == unit:
                return c
        raise KeyError(
            f"no cell for ratio {ratio} and unit {unit}; have {self.ratios} x {self.units}"
        )

    def to_dict(self) -> dict[str, object]:
        head = {k: v for k, v in self.__dict__.items() if k != "cells"}
        return {**head, "cells": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TheoryProfile:
        head = {k: v for k, v in d.items() if k != "cells"}
        return cls(**head, cells=[ProfileCell.from_dict(c) for c in d["cells"]])

    def save(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TheoryProfile:
        with open(path) as f:
            return cls.from_dict(json.load(f))


@takes_spec
def theory_profile(
    spec: SpecLike,
    ratios: Sequence[float],
    units: Sequence[int],
    num_masks: int = 2000,
    seed: int = 0,
    patch_size: int | None = None,
    progress: bool = False,
    num_threads: int | None = 1,
) -> TheoryProfile:
    """Profile `spec` over `ratios` x `units` with `num_masks` masks per cell.

    Each cell draws its masks from its own generator seeded with `seed` (see
    `cell_masks`), so a cell's numbers do not depend on which other cells are asked for,
    and cells share their random numbers, which makes neighbouring cells comparable.

    `num_threads` caps torch's intra-op threads while profiling (restored afterwards;
    None leaves them alone). One is the default because a profile is many mid-sized
    ops: on a busy 2-core machine torch's thread pool spent far longer waiting than
    computing (the qt32 grid took 1.2 s on one thread and 34 s on two).
    """
    with torch_threads(num_threads):
        return _theory_profile(spec, ratios, units, num_masks, seed, patch_size, progress)


def _theory_profile(
    spec: GraphSpec,
    ratios: Sequence[float],
    units: Sequence[int],
    num_masks: int,
    seed: int,
    patch_size: int | None,
    progress: bool,
) -> TheoryProfile:
    if num_masks < 1:
        raise ValueError(f"num_masks is {num_masks}; profile at least one mask")
    ratios = [float(r) for r in ratios]
    units = [int(u) for u in units]
    if not ratios or not units:
        raise ValueError("give at least one ratio and one unit")
    for r in ratios:
        check_ratio(r)
    patch_size, grid = _grid(spec, patch_size)
    layouts = [_layout(spec, grid, patch_size, u) for u in units]  # bad units fail here
    matrices = GraphMatrices(spec)
    asked = f"a profile of {num_masks} masks a cell"
    check_fits(num_masks, _bytes_per_mask(len(matrices.levels)), asked, "profile", free_memory())
    incidence = _source_incidence(spec, patch_size)

    cells = []
    jobs = [(r, u, layout) for r in ratios for u, layout in zip(units, layouts, strict=True)]
    # Counted in masks, not cells: a long cell still shows its rate and time left.
    bar = tqdm(total=len(jobs) * num_masks, desc="theory profile", unit="mask",
               unit_scale=True, disable=not progress)  # fmt: skip
    for ratio, unit, layout in jobs:
        cells.append(
            _profile_cell(matrices, incidence, layout, ratio, unit, num_masks, seed, bar.update)
        )
    bar.close()
    return TheoryProfile(
        model=str(spec.meta.get("name", "model")),
        patch_size=patch_size,
        num_masks=num_masks,
        seed=seed,
        ratios=ratios,
        units=units,
        latents=list(matrices.latents),
        latent_levels=[int(v) for v in matrices.latent_levels],
        levels=list(matrices.levels),
        cells=cells,
    )


@takes_spec
def cell_masks(
    spec: SpecLike,
    ratio: float,
    unit: int,
    num_masks: int,
    seed: int = 0,
    patch_size: int | None = None,
) -> torch.Tensor:
    """The (num_masks, tokens) token masks, 1 = masked, that a profile cell evaluates."""
    patch_size, grid = _grid(spec, patch_size)
    layout = _layout(spec, grid, patch_size, unit)
    return torch.cat([chunk for chunk in _mask_chunks(layout, ratio, num_masks, seed)])


@takes_spec
def layout_for(spec: SpecLike, unit: int, patch_size: int | None = None) -> MaskLayout:
    """The token grid and masking unit a profile uses for `unit` (pixels or nodes)."""
    patch_size, grid = _grid(spec, patch_size)
    return _layout(spec, grid, patch_size, unit)


# ---------------------------------------------------------------------------- internals
def _grid(spec: GraphSpec, patch_size: int | None) -> tuple[int | None, tuple[int, int]]:
    if spec.image_shape is None:
        if patch_size is not None:
            raise SpecError("a patch size only applies to image models")
        return None, (1, len(spec.observed))  # one token per observed node
    patch_size = default_patch_size(spec) if patch_size is None else patch_size
    return patch_size, token_grid(spec, patch_size)


def _layout(spec: GraphSpec, grid: tuple[int, int], patch: int | None, unit: int) -> MaskLayout:
    if patch is None:
        if unit != 1:
            raise SpecError(
                f"masking unit {unit}: model {spec.meta.get('name', '?')!r} has no image, so "
                "each observed node is masked on its own; the only unit is 1"
            )
        return MaskLayout(*grid, 1)
    if unit < 1:
        raise SpecError(
            f"masking unit {unit} px: a unit is a positive number of pixels, a multiple of "
            f"the {patch} px patch, e.g. {patch}, {2 * patch}, {4 * patch}"
        )
    if unit < patch or unit % patch:
        raise SpecError(
            f"masking unit {unit} px is not a multiple of the {patch} px patch; use e.g. "
            f"{patch}, {2 * patch}, {4 * patch}"
        )
    return MaskLayout(*grid, unit // patch)  # raises if the unit does not tile the grid


def _source_incidence(spec: GraphSpec, patch: int | None) -> torch.Tensor:
    if patch is None:
        return torch.eye(len(spec.observed), dtype=torch.bool)
    return token_incidence(spec, patch)


def _mask_chunks(layout: MaskLayout, ratio: float, num_masks: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, num_masks, CHUNK):
        yield sample_masks(min(CHUNK, num_masks - start), layout, ratio, generator).mask


def _profile_cell(
    matrices: GraphMatrices,
    incidence: torch.Tensor,
    layout: MaskLayout,
    ratio: float,
    unit: int,
    num_masks: int,
    seed: int,
    advance: Callable[[int], object] = lambda n: None,
) -> ProfileCell:
    n_lat, n_lev = len(matrices.latents), len(matrices.levels)
    try:
        kept = layout.num_kept_units(ratio)
    except ValueError as err:
        advance(num_masks)
        return ProfileCell.invalid(ratio, unit, layout, str(err), n_lat, n_lev)

    # Work in unit space: all tokens of a unit share its fate, so one row per unit is
    # exact and cuts the matmuls by unit^2.
    first_token = layout.unit_tokens[:, 0]
    unit_incidence = incidence[layout.unit_tokens].any(dim=1)
    reach = matrices.reach(unit_incidence)

    shared_sum = torch.zeros(n_lat)
    identified_sum = torch.zeros(n_lat)
    codes, c_counts, s_counts = [], [], []
    for token_masks in _mask_chunks(layout, ratio, num_masks, seed):
        batch = matrices.identify_partition(token_masks[:, first_token], reach)
        shared_sum += batch.shared.sum(0)
        identified_sum += batch.identified.sum(0)
        codes.append(batch.code_dim)
        c_counts.append(batch.identified.float() @ matrices.level_onehot)
        s_counts.append(batch.shared.float() @ matrices.level_onehot)
        advance(len(token_masks))
    code = torch.cat(codes).numpy()
    c_lev = torch.cat(c_counts).numpy()
    s_lev = torch.cat(s_counts).numpy()

    c_size = c_lev.sum(1)
    nonempty = c_size > 0
    share = c_lev[nonempty] / c_size[nonempty, None]
    present = c_lev > 0
    # Deepest level index present in c, -1 when c is empty.
    deepest = np.where(nonempty, n_lev - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    lowest = np.array([(deepest == j).mean() for j in range(n_lev)])
    return ProfileCell(
        ratio=ratio,
        unit=unit,
        unit_tokens=layout.unit,
        num_units=layout.num_units,
        num_masked_units=layout.num_units - kept,
        valid=True,
        reason=None,
        p_shared=shared_sum.double().numpy() / num_masks,
        p_identified=identified_sum.double().numpy() / num_masks,
        p_level_shared=(s_lev > 0).mean(0),
        p_level_identified=present.mean(0),
        c_level_share=share.mean(0) if len(share) else np.full(n_lev, np.nan),
        p_c_within_level=np.cumsum(lowest) + (~nonempty).mean(),
        p_lowest_level=lowest,
        p_c_empty=float((~nonempty).mean()),
        code_dim=_code_dim_stats(code),
    )


def _bytes_per_mask(num_levels: int) -> int:
    # A cell keeps each mask's d_c (int64) and its c and S counts per level (float32),
    # concatenated and then summarised: peak growth measured 150-210 B a mask on qt32.
    return 64 + 48 * num_levels


def _code_dim_stats(code: np.ndarray) -> dict[str, object]:
    lo, hi = int(code.min()), int(code.max())
    width = max(1, math.ceil((hi - lo + 1) / MAX_HIST_BINS))  # integer-aligned bins
    edges = np.arange(lo, hi + width + 1, width)
    counts, _ = np.histogram(code, bins=edges)
    return {
        "mean": float(code.mean()),
        "std": float(code.std()),
        "min": lo,
        "max": hi,
        "quantiles": {str(q): float(np.quantile(code, q)) for q in QUANTILES},
        "hist_edges": edges.tolist(),
        "hist_counts": counts.tolist(),
    }


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return [None if not math.isfinite(v) else float(v) for v in value.tolist()]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
