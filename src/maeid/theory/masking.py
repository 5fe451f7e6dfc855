"""The one mask sampler: the MAE trains on these masks and the theory predicts for them.

Semantics are those of the reference MAE (`random_masking`) and HF ViTMAE: draw uniform
noise per masking unit, keep the `int(U * (1 - ratio))` units with the smallest noise,
mask the rest. A masking unit is a k x k block of tokens (k = 1 is the plain MAE;
k > 1 masks blocks of patches together, as long-sequence MAE does).

Token order is raster order over the (grid_h, grid_w) token grid. `mask` is 1 for a
removed (masked) token and 0 for a visible one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MaskLayout:
    """How masking units tile a token grid."""

    grid_h: int
    grid_w: int
    unit: int  # tokens per side of one masking unit

    def __post_init__(self) -> None:
        if self.grid_h < 1 or self.grid_w < 1:
            raise ValueError(f"token grid {self.grid_h}x{self.grid_w} is empty")
        if self.unit < 1 or self.grid_h % self.unit or self.grid_w % self.unit:
            raise ValueError(
                f"a masking unit of {self.unit}x{self.unit} tokens does not tile the "
                f"{self.grid_h}x{self.grid_w} token grid; pick a unit that divides both sides"
            )

    @property
    def num_tokens(self) -> int:
        return self.grid_h * self.grid_w

    @property
    def num_units(self) -> int:
        return (self.grid_h // self.unit) * (self.grid_w // self.unit)

    def num_kept_units(self, ratio: float) -> int:
        """Units left visible at `ratio`: the reference MAE's `int(L * (1 - ratio))`."""
        check_ratio(ratio)
        keep = int(self.num_units * (1 - ratio))
        if keep < 1:
            raise ValueError(
                f"masking ratio {ratio} leaves no visible unit out of {self.num_units}; "
                "use a smaller ratio or a smaller masking unit"
            )
        if keep >= self.num_units:
            raise ValueError(
                f"masking ratio {ratio} masks no unit out of {self.num_units}; "
                "use a larger ratio or a smaller masking unit"
            )
        return keep

    @property
    def unit_tokens(self) -> torch.Tensor:
        """(U, k*k) token indices of each unit, units in raster order over the unit grid."""
        k = self.unit
        ids = torch.arange(self.num_tokens).reshape(self.grid_h // k, k, self.grid_w // k, k)
        return ids.permute(0, 2, 1, 3).reshape(self.num_units, k * k)


@dataclass(frozen=True)
class MaskBatch:
    """Masks for a batch, in the reference MAE's index form.

    `ids_shuffle[:, :num_visible]` are the visible tokens, in the order the encoder sees
    them; `ids_restore` undoes the shuffle; `mask` is (N, L), 1 = masked.
    """

    mask: torch.Tensor
    ids_shuffle: torch.Tensor
    ids_restore: torch.Tensor
    num_visible: int

    @property
    def ids_keep(self) -> torch.Tensor:
        return self.ids_shuffle[:, : self.num_visible]


def check_ratio(ratio: float) -> None:
    if not 0.0 < float(ratio) < 1.0:
        raise ValueError(f"masking ratio {ratio} is outside (0, 1); use e.g. 0.75")


def sample_noise(
    batch: int,
    layout: MaskLayout,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Uniform noise of shape (batch, num_units), the input of `masks_from_noise`."""
    return torch.rand(batch, layout.num_units, generator=generator, device=device)


def masks_from_noise(
    noise: torch.Tensor, layout: MaskLayout, ratio: float, unit_tokens: torch.Tensor | None = None
) -> MaskBatch:
    """Masks from per-unit noise by argsort, exactly as the reference MAE does for unit 1.

    `unit_tokens` is `layout.unit_tokens` already on the noise's device (the MAE keeps it
    as a buffer, so a training step builds and copies nothing)."""
    if noise.ndim != 2 or noise.shape[1] != layout.num_units:
        raise ValueError(
            f"noise has shape {tuple(noise.shape)}; expected (batch, {layout.num_units}), "
            "one value per masking unit"
        )
    keep_units = layout.num_kept_units(ratio)
    n = noise.shape[0]
    unit_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise is kept
    k2 = layout.unit * layout.unit
    tokens = layout.unit_tokens.to(noise.device) if unit_tokens is None else unit_tokens
    ids_shuffle = tokens[unit_shuffle].reshape(n, layout.num_tokens)
    # ids_restore is the inverse permutation (what argsort(ids_shuffle) gives), built by a
    # scatter in O(L) rather than a second O(L log L) sort.
    positions = torch.arange(layout.num_tokens, device=noise.device).expand(n, -1)
    ids_restore = torch.empty_like(ids_shuffle).scatter_(1, ids_shuffle, positions)
    num_visible = keep_units * k2
    mask = torch.ones(n, layout.num_tokens, device=noise.device)
    mask.scatter_(1, ids_shuffle[:, :num_visible], 0.0)
    return MaskBatch(
        mask=mask, ids_shuffle=ids_shuffle, ids_restore=ids_restore, num_visible=num_visible
    )


def sample_masks(
    batch: int,
    layout: MaskLayout,
    ratio: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> MaskBatch:
    """Draw `batch` masks at `ratio` from `generator` (seeded for reproducibility)."""
    return masks_from_noise(sample_noise(batch, layout, generator, device), layout, ratio)
