"""Where the encoder looks: [CLS] attention maps and mean attention distance per layer.

- The [CLS] map is the last encoder block's attention from [CLS] to every patch token,
  averaged over heads, on the unmasked image (the paper's Fig. 6).
- The mean attention distance of a head is the attention-weighted distance, in pixels,
  between a query patch and the patches it attends to, averaged over query patches and
  images (Dosovitskiy et al. 2021, Fig. 7). It is a receptive-field size: small for local
  heads, near the mean patch distance for global ones. [CLS] is left out as both query
  and key, since it has no position.
- On images of an object on an empty dark background (Fashion-MNIST), the share of the
  [CLS] attention that falls on the object's patches, against the object's share of the
  patches (what uniform attention would give): the paper's Figs. 6-7 ask whether
  attention covers the object or drifts to the background.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from maeid.figures import plt, save_figure


@torch.no_grad()
def attention_per_layer(model: nn.Module, imgs: torch.Tensor) -> list[torch.Tensor]:
    """Attention probabilities of every encoder block, each (N, heads, 1 + L, 1 + L)."""
    model.check_images(imgs)
    x = model.patch_embed(imgs) + model.pos_embed[:, 1:]
    cls = (model.cls_token + model.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1)
    maps = []
    for block in model.blocks:
        maps.append(block.attention_probabilities(x).float())
        x = block(x)
    return maps


def patch_distances(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(L, L) Euclidean distances in pixels between patch centres, raster order."""
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).float() * patch_size
    return torch.cdist(centres, centres)


@torch.no_grad()
def mean_attention_distance(model: nn.Module, imgs: torch.Tensor) -> list[list[float]]:
    """[layer][head] mean attention distance in pixels over patch-to-patch attention."""
    dist = patch_distances(model.grid_size, model.patch_size)
    out = []
    for attn in attention_per_layer(model, imgs):
        patch = attn[:, :, 1:, 1:]
        patch = patch / patch.sum(dim=-1, keepdim=True).clamp_min(1e-12)  # renormalise w/o CLS
        per_head = (patch * dist).sum(dim=-1).mean(dim=(0, 2))  # (heads,)
        out.append([float(v) for v in per_head])
    return out


@torch.no_grad()
def cls_attention_maps(model: nn.Module, imgs: torch.Tensor) -> torch.Tensor:
    """(N, grid_h, grid_w) last-layer [CLS] -> patch attention, mean over heads."""
    attn = model.last_attention(imgs).float()
    cls_row = attn[:, :, 0, 1:].mean(dim=1)
    return cls_row.reshape(-1, *model.grid_size)


@torch.no_grad()
def attention_on_object(
    maps: torch.Tensor, images: torch.Tensor, patch_size: int, threshold: float = 0.1
) -> dict[str, float]:
    """Mean share of [CLS] attention on object patches, and the object's share of patches.

    `maps` (N, grid_h, grid_w) from `cls_attention_maps`; `images` (N, C, H, W) in [0, 1]
    on a dark background. A patch is object when its mean pixel exceeds `threshold`.
    """
    if images.ndim != 4 or maps.shape[0] != images.shape[0]:
        raise ValueError(
            f"images {tuple(images.shape)} and maps {tuple(maps.shape)}: expected (N, C, H, W) "
            "and (N, grid_h, grid_w) with the same N"
        )
    patch_means = torch.nn.functional.avg_pool2d(images.float().mean(1, keepdim=True), patch_size)
    obj = (patch_means[:, 0] > threshold).float()
    if obj.shape != maps.shape:
        raise ValueError(f"a {patch_size}-px patch grid {tuple(obj.shape[1:])} does not match "
                         f"the maps' grid {tuple(maps.shape[1:])}")  # fmt: skip
    weights = maps.float()
    on_object = (weights * obj).sum(dim=(1, 2)) / weights.sum(dim=(1, 2)).clamp_min(1e-12)
    return {
        "cls_attention_on_object": float(on_object.mean()),
        "object_area": float(obj.mean()),
    }


def plot_cls_attention(
    images: np.ndarray, maps: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """Each image (N, C, H, W, display scale) beside its [CLS] map overlaid in colour.

    Each map is scaled to its own peak (the colour bar: 1 = the patch the [CLS] token
    attends to most in that image), so maps compare where attention goes, not how much.
    """
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.2), squeeze=False)
    for i in range(n):
        img = images[i].transpose(1, 2, 0)
        img = (img - img.min()) / max(float(img.max() - img.min()), 1e-8)
        gray = img[..., 0] if img.shape[-1] == 1 else img
        h, w = gray.shape[:2]
        heat = maps[i] / max(float(maps[i].max()), 1e-12)
        axes[0, i].imshow(gray, cmap="gray" if gray.ndim == 2 else None)
        axes[1, i].imshow(gray, cmap="gray" if gray.ndim == 2 else None)
        overlay = axes[1, i].imshow(
            heat,
            cmap="inferno",
            vmin=0.0,
            vmax=1.0,
            alpha=0.6,
            extent=(-0.5, w - 0.5, h - 0.5, -0.5),
            interpolation="nearest",
        )
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image", fontsize=8)
    axes[1, 0].set_ylabel("[CLS] attention", fontsize=8)
    fig.suptitle(title or "last-layer [CLS] attention, mean over heads", fontsize=9)
    fig.tight_layout()
    bar = fig.colorbar(overlay, ax=axes.ravel().tolist(), shrink=0.45, pad=0.02)
    bar.set_label("attention / image's peak", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    return save_figure(fig, path)


def plot_attention_distance(
    distances: list[list[float]], path: str | Path, title: str = ""
) -> Path:
    """Mean attention distance of every head against its layer (`title`: none by default)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for layer, heads in enumerate(distances):
        ax.scatter([layer] * len(heads), heads, color="tab:blue", s=14)
    ax.plot(
        range(len(distances)),
        [np.mean(h) for h in distances],
        color="tab:orange",
        label="mean over heads",
    )
    ax.set_xlabel("encoder layer")
    ax.set_ylabel("mean attention distance (pixels)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
