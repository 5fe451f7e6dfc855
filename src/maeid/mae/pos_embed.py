"""Fixed 2-D sin-cos position embeddings, numerically those of the reference MAE and HF.

Each grid position gets `[sin(x w) | cos(x w) | sin(y w) | cos(y w)]` where x is the
column, y the row and `w_i = 10000^(-i / (dim/4))`, computed in float64 and cast once.
The column comes first: that is the layout the published MAE weights were trained with
(the reference code names the halves the other way round, but this is what it computes).
"""

from __future__ import annotations

import torch


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(P,) positions -> (P, dim) as `[sin | cos]`, frequencies geometric in 1/10000."""
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2)
    omega = 1.0 / 10000.0**omega
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(grid_h: int, grid_w: int, dim: int, cls_token: bool = True) -> torch.Tensor:
    """(1, [1 +] grid_h * grid_w, dim) embeddings in raster order; the [CLS] row is zero."""
    if dim % 4:
        raise ValueError(f"a 2-D sin-cos embedding needs a width divisible by 4, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w), indexing="ij")
    emb = torch.cat([sincos_1d(cols.flatten(), dim // 2), sincos_1d(rows.flatten(), dim // 2)], 1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=emb.dtype), emb], dim=0)
    return emb.float().unsqueeze(0)
