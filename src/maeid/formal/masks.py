"""The fixed masks of the formal regime: named by their observed nodes, or drawn by the
MAE's own sampler at a (ratio, unit)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import torch

from maeid.hlvm.spec import GraphSpec
from maeid.theory.identification import identify
from maeid.theory.profile import cell_masks
from maeid.theory.token_masks import default_patch_size, masked_nodes


@dataclass(frozen=True)
class FixedMask:
    """One mask of the formal regime: the observed nodes it hides, and how it was drawn."""

    id: int
    masked: frozenset[str]
    token_mask: torch.Tensor | None = None  # (tokens,) 1 = masked, for image models
    ratio: float | None = None
    unit: int | None = None  # pixels for image models

    def describe(self) -> str:
        how = f"ratio {self.ratio:g}, unit {self.unit}" if self.ratio is not None else "named"
        return f"mask {self.id} ({how})"


def named_mask(spec: GraphSpec, names: Collection[str], mask_id: int = 0) -> FixedMask:
    """A mask hiding the observed nodes `names` (validated by the theory)."""
    theory = identify(spec, names)
    return FixedMask(id=mask_id, masked=theory.masked)


def drawn_masks(
    spec: GraphSpec, ratio: float, unit: int, count: int = 1, seed: int = 0
) -> list[FixedMask]:
    """`count` masks from the MAE's own sampler at (ratio, unit); unit in pixels for images."""
    if count < 1:
        raise ValueError(f"--masks {count}: draw at least one mask")
    tokens = cell_masks(spec, ratio, unit, count, seed)
    out = []
    for i, row in enumerate(tokens):
        if spec.image_shape is not None:
            names = masked_nodes(spec, row, default_patch_size(spec))
        else:
            names = frozenset(x for x, m in zip(spec.observed, row.tolist(), strict=True) if m)
        out.append(FixedMask(i, frozenset(names), row.clone(), float(ratio), int(unit)))
    return out
