"""Image -> sequence of patch tokens: a strided convolution, one token per patch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbed(nn.Module):
    """(N, C, H, W) -> (N, L, dim), tokens in raster order over the (H/p, W/p) grid."""

    def __init__(self, img_size: tuple[int, int], patch_size: int, in_chans: int, dim: int):
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid_size = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, K, p*p*C) patch vectors (see `patches.patchify`) -> (N, K, dim).

        The same map as `forward`, applied to chosen patches only: the MAE embeds just
        its visible patches instead of all of them.
        """
        w = self.proj.weight  # (dim, C, p, p)
        n, k, _ = patches.shape
        p, c = self.patch_size, w.shape[1]
        # Reorder the patches' (p, p, C) vectors to the kernel's (C, p, p) rather than
        # permuting the weight: a permuted weight view gets a gradient with permuted
        # strides, which DDP's gradient buckets warn about and copy at every step.
        patches = patches.view(n, k, p, p, c).permute(0, 1, 4, 2, 3).reshape(n, k, c * p * p)
        return F.linear(patches, w.flatten(1), self.proj.bias)
