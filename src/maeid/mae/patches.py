"""Images <-> per-patch pixel vectors, and the reconstruction loss on masked patches.

A patch vector is laid out (row in patch, column in patch, channel), as in the reference
MAE and HF, so predictions and targets of the three implementations line up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, p*p*C), patches in raster order."""
    n, c, h, w = imgs.shape
    p = patch_size
    x = imgs.reshape(n, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int]) -> torch.Tensor:
    """(N, L, p*p*C) -> (N, C, H, W) for a (grid_h, grid_w) patch grid."""
    n, num, dim = patches.shape
    gh, gw = grid
    p = patch_size
    if num != gh * gw or dim % (p * p):
        raise ValueError(
            f"patches of shape {tuple(patches.shape)} do not fit a {gh}x{gw} grid of "
            f"{p}x{p} patches"
        )
    c = dim // (p * p)
    x = patches.reshape(n, gh, gw, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(n, c, gh * p, gw * p)


def normalize_patches(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-patch standardisation (`norm_pix_loss`): unbiased variance, as the reference."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return (target - mean) / (var + eps) ** 0.5


def far_from_visible(
    mask: torch.Tensor, grid: tuple[int, int], patch_size: int, width: int
) -> torch.Tensor:
    """(N, L, p*p) 1 for pixels of masked patches more than `width` pixels (in the max-norm)
    from every visible pixel, else 0. These are the pixels boundary exclusion keeps.

    Pixels next to a visible patch can be filled in by interpolating its edge, which is
    low-level work; dropping them from the loss pushes the model towards content that
    needs the shared high-level latents.
    """
    n = mask.shape[0]
    gh, gw = grid
    p = patch_size
    visible = (1 - mask).reshape(n, 1, gh, gw)
    visible = visible.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
    near = F.max_pool2d(visible, kernel_size=2 * width + 1, stride=1, padding=width)
    keep = patchify(1 - near, p)  # visible pixels are near themselves, so masked-only
    return keep


def masked_patch_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    pixel_keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error over masked patches only (visible ones do not count).

    Without `pixel_keep` this is the reference MAE's loss: per-patch mean, then the mean
    over masked patches. With `pixel_keep` (N, L, p*p), the mean runs over the kept
    pixels of masked patches (all channels of a kept pixel count).
    """
    err = (pred - target) ** 2
    if pixel_keep is None:
        return (err.mean(dim=-1) * mask).sum() / mask.sum()
    n, num, dim = err.shape
    err = err.reshape(n, num, pixel_keep.shape[-1], -1)
    weight = pixel_keep.unsqueeze(-1) * mask[:, :, None, None]
    total = weight.sum() * err.shape[-1]
    return (err * weight).sum() / total.clamp_min(1.0)
