"""The bottleneck MAE of the formal regime (Theorem 2 of the paper; docs/theory.md).

One mask `m` is fixed. The encoder sees the visible tokens of `m` only, and its pooled
output is projected to a code `c_hat` of dimension `code_dim` (the theory's `d_c`).
The decoder sees nothing else of the image: each of its tokens is a masked position,
`mask_token + position + W c_hat`, so whatever it reconstructs must pass through the
code. The loss is on the masked patches, as in the MAE.
"""

from __future__ import annotations

import torch
from torch import nn

from maeid.mae.block import Block
from maeid.mae.model import check_geometry, image_size_pair, init_linear_and_norm, visible_ids
from maeid.mae.patch_embed import PatchEmbed
from maeid.mae.patches import masked_patch_loss, normalize_patches, patchify
from maeid.mae.pos_embed import sincos_2d


class BottleneckMAE(nn.Module):
    """`mask` is the fixed (L,) token mask, 1 = masked (e.g. `sample_masks(1, ...).mask[0]`)."""

    def __init__(
        self,
        mask: torch.Tensor,
        code_dim: int,
        img_size: int | tuple[int, int] = 32,
        patch_size: int = 4,
        in_chans: int = 1,
        embed_dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        decoder_embed_dim: int = 64,
        decoder_depth: int = 2,
        decoder_num_heads: int = 4,
        mlp_ratio: float = 4.0,
        norm_pix_loss: bool = False,
        norm_eps: float = 1e-6,
    ):
        super().__init__()
        img_size = image_size_pair(img_size)
        check_geometry(img_size, patch_size, patch_size)
        grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        mask = torch.as_tensor(mask).flatten().float()
        num_tokens = grid[0] * grid[1]
        if mask.shape != (num_tokens,) or not ((mask == 0) | (mask == 1)).all():
            raise ValueError(
                f"mask must hold {num_tokens} zeros and ones (one per token, 1 = masked), "
                f"got shape {tuple(mask.shape)}"
            )
        if int(mask.sum()) in (0, num_tokens):
            raise ValueError("the mask must leave at least one token visible and one masked")
        if code_dim < 1:
            raise ValueError(f"code_dim {code_dim} must be positive")
        self.img_size, self.patch_size, self.in_chans = img_size, patch_size, in_chans
        self.grid_size = grid
        self.code_dim = code_dim
        self.norm_pix_loss = norm_pix_loss
        self.register_buffer("mask", mask)
        self.register_buffer("ids_visible", visible_ids(mask[None], num_tokens)[0])
        self.register_buffer("ids_masked", visible_ids(1 - mask[None], num_tokens)[0])

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.pos_embed = nn.Parameter(sincos_2d(*grid, embed_dim, cls_token=False), False)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, norm_eps) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.to_code = nn.Linear(embed_dim, code_dim)

        self.from_code = nn.Linear(code_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_2d(*grid, decoder_embed_dim, cls_token=False), False
        )
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, norm_eps)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=norm_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * in_chans)

        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(init_linear_and_norm)

    def encode(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> the code (N, code_dim), from the visible tokens only."""
        expected = (self.in_chans, *self.img_size)
        if imgs.ndim != 4 or tuple(imgs.shape[1:]) != expected:
            raise ValueError(f"images of shape {tuple(imgs.shape)}; expected (N, *{expected})")
        x = self.patch_embed(imgs) + self.pos_embed
        x = x[:, self.ids_visible]
        for block in self.blocks:
            x = block(x)
        return self.to_code(self.norm(x).mean(dim=1))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """(N, code_dim) -> (N, M, p*p*C) predictions of the M masked patches, raster order."""
        pos = self.decoder_pos_embed[:, self.ids_masked]
        x = self.mask_token + pos + self.from_code(code)[:, None]
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))

    def forward(self, imgs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (loss, pred (N, L, p*p*C) with zeros at visible patches, mask (N, L))."""
        code = self.encode(imgs)
        pred_masked = self.decode(code)
        target = patchify(imgs, self.patch_size)
        if self.norm_pix_loss:
            target = normalize_patches(target)
        n = imgs.shape[0]
        pred = pred_masked.new_zeros(n, *target.shape[1:])
        pred[:, self.ids_masked] = pred_masked
        mask = self.mask.expand(n, -1)
        return masked_patch_loss(pred, target, mask), pred, mask
