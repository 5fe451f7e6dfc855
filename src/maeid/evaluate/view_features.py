"""The features a readout of rhm32 reads, per view, for every reader at once.

The views are `maeid.evaluate.symbols`': the full image, and the visible tokens of masks
from the training sampler at the run's ratio. Readers: each encoder given (the trained
one, the same architecture at initialisation) through one readout of `symbols.POOLS`,
and the view's standardised pixels (masked patches zeroed). The masks are the same for
every reader of a split (the test images get the masks of `seed`, the training images
those of `seed + 1`), and `seen` says which test pixels belong to the view, for belief
propagation's exact limit of the same view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from maeid.evaluate.symbols import POOLS, encoder_features, pixel_features
from maeid.theory.belief_propagation import visible_pixels

VIEWS = ("full_image", "visible_tokens")
# The views' short names in metric names (`symbols.probe_full`, `information.ce_visible`).
SHORT = {"full_image": "full", "visible_tokens": "visible"}


@dataclass(frozen=True)
class ViewFeatures:
    """Per reader, (train features, test features); `seen`: (N_test, H, W) bool pixels of
    the test view, None for the full image."""

    readers: dict[str, tuple[torch.Tensor, torch.Tensor]]
    seen: np.ndarray | None


def view_ratio(view: str, ratio: float) -> float | None:
    """The masking ratio of a view's masks; None: the full image."""
    if view not in VIEWS:
        raise ValueError(f"view {view!r}: use one of {', '.join(VIEWS)}")
    return None if view == "full_image" else ratio


def view_features(
    encoders: Mapping[str, nn.Module], train_images: torch.Tensor, test_images: torch.Tensor,
    view: str, ratio: float, pool: str, seed: int,
) -> ViewFeatures:  # fmt: skip
    """Every encoder's `pool` readout of the view, and its pixels (`readers["pixels"]`)."""
    if pool not in POOLS:
        raise ValueError(f"pool {pool!r}: use one of {', '.join(POOLS)}")
    if not encoders:
        raise ValueError("give at least one encoder to read")
    mask_ratio = view_ratio(view, ratio)
    readers: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    train_masks = test_masks = None
    for name, encoder in encoders.items():
        train, train_masks = encoder_features(encoder, train_images, mask_ratio, seed + 1)
        test, test_masks = encoder_features(encoder, test_images, mask_ratio, seed)
        readers[name] = (train[pool], test[pool])
    patch = int(next(iter(encoders.values())).patch_size)
    readers["pixels"] = (
        pixel_features(train_images, train_masks, patch),
        pixel_features(test_images, test_masks, patch),
    )
    seen = None
    if test_masks is not None:
        seen = visible_pixels(test_masks, patch, tuple(test_images.shape[2:]))
    return ViewFeatures(readers, seen)


def model_pixels(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Standardised images back in the model's own pixel units, where belief propagation
    works: (N, C, H, W) float64."""
    scale = torch.tensor(std, dtype=torch.float64)[:, None, None]
    shift = torch.tensor(mean, dtype=torch.float64)[:, None, None]
    return (images.double().cpu() * scale + shift).numpy()
