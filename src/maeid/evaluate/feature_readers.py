"""Feature readers: what a probe reads from images in the data model's own pixel units.

The cue-conflict and rendition measures draw their own images (a signature stamped on a
tree, a shifted patch dictionary), in the hlvm model's units; a reader turns a batch of
them, `(N, 1, H, W)` float arrays, into `(N, D)` features:

- `pixel_reader`: the raw pixels, flattened (the floor every representation is set beside);
- `encoder_reader`: a frozen MAE encoder's [CLS], mean-pooled or all-token features
  (`maeid.evaluate.symbols.POOLS`) on the full image, after standardising the pixels as
  the encoder was trained (`mean`, `std`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from maeid.evaluate.symbols import POOLS, encoder_features

FeatureReader = Callable[[np.ndarray], torch.Tensor]


def pixel_reader(images: np.ndarray) -> torch.Tensor:
    """The raw pixels as (N, H * W * C) features."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32)).flatten(1)


def encoder_reader(
    encoder: nn.Module, mean: Sequence[float], std: Sequence[float], pool: str = "mean"
) -> FeatureReader:
    """A reader of `encoder`'s `pool` ([CLS], mean-pooled or all-token) full-image features."""
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}; use one of {', '.join(POOLS)}")
    if len(mean) != len(std) or min(std) <= 0:
        raise ValueError(f"mean {tuple(mean)} and std {tuple(std)} must pair up, std > 0")
    shift = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    scale = torch.tensor(std, dtype=torch.float32)[:, None, None]
    device = next(encoder.parameters()).device

    def read(images: np.ndarray) -> torch.Tensor:
        x = (torch.from_numpy(np.asarray(images, dtype=np.float32)) - shift) / scale
        return encoder_features(encoder, x.to(device), None)[0][pool]

    return read
