"""A small MLP bottleneck autoencoder for the formal regime (Theorem 2): fast on CPU.

One mask `m` is fixed, at the level of observed nodes. The encoder reads the visible
observed vectors `x_{m^c}` (concatenated) and outputs a code `c_hat` of dimension `d_c`;
the decoder predicts the masked observed vectors `x_m` from `c_hat` alone. The mask is
fixed, so the decoder needs no mask tokens or positions: its output layout *is* `m`.

This is the same estimator as `maeid.mae.BottleneckMAE` with MLPs in place of ViTs. On
the synthetic models, whose observed nodes are unstructured vectors, it trains an order
of magnitude faster, which is what lets the theory be checked in minutes.
"""

from __future__ import annotations

import torch
from torch import nn


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class MLPBottleneck(nn.Module):
    """Encoder (visible_dim -> code_dim) and decoder (code_dim -> masked_dim), `depth` layers each.

    The code is left unnormalised: a LayerNorm or bounded activation on it would remove
    dimensions of `c` that Theorem 2 says the code must carry.
    """

    def __init__(
        self, visible_dim: int, code_dim: int, masked_dim: int, hidden: int = 512, depth: int = 3
    ):
        super().__init__()
        sizes = {"visible_dim": visible_dim, "code_dim": code_dim, "masked_dim": masked_dim,
                 "hidden": hidden, "depth": depth}  # fmt: skip
        for name, v in sizes.items():
            if int(v) < 1:
                raise ValueError(f"{name} = {v}; it must be a positive integer")
        self.code_dim = code_dim
        self.encoder = _mlp([visible_dim] + [hidden] * (depth - 1) + [code_dim])
        self.decoder = _mlp([code_dim] + [hidden] * (depth - 1) + [masked_dim])

    def encode(self, visible: torch.Tensor) -> torch.Tensor:
        return self.encoder(visible)

    def forward(self, visible: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Mean squared error of predicting the masked vectors through the code."""
        return ((self.decoder(self.encoder(visible)) - masked) ** 2).mean()
