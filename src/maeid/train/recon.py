"""Reconstructions of a fixed batch under fixed masks, drawn as a PNG grid.

Columns: the masked input, the model's prediction for every patch, the prediction with
the visible patches pasted back, and the original. Pixels are shown in the data's own
units (the loader's normalisation undone).

With `norm_pix_loss` the model predicts each masked patch standardised by that patch's
own mean and variance, which are unknown for a masked patch. We de-normalise with the
visible patches' pooled statistics (the mean of their means, the mean of their variances),
a guess, and the figure says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from maeid.atomic import save_figure
from maeid.data.transforms import denormalize
from maeid.figures import plt


def denormalize_with_visible(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Undo per-patch standardisation of `pred` (N, L, D) with the visible patches' pooled
    mean and variance per image (from `target`, the un-normalised patches; mask 1=masked)."""
    visible = (1 - mask).unsqueeze(-1)  # (N, L, 1)
    count = visible.sum(dim=1).clamp_min(1)
    means = target.mean(dim=-1, keepdim=True)
    variances = target.var(dim=-1, keepdim=True)
    pooled_mean = (means * visible).sum(dim=1, keepdim=True) / count.unsqueeze(1)
    pooled_var = (variances * visible).sum(dim=1, keepdim=True) / count.unsqueeze(1)
    return pred * (pooled_var + eps).sqrt() + pooled_mean


@torch.no_grad()
def reconstruct(
    model: nn.Module, images: torch.Tensor, noise: torch.Tensor, mask_ratio: float
) -> dict[str, torch.Tensor]:
    """Masked input, prediction, prediction + visible, original: each (N, C, H, W)."""
    was_training = model.training
    model.eval()
    _, pred, mask = model(images, mask_ratio, noise=noise)
    model.train(was_training)
    pred = pred.float()
    target = model.patchify(images)
    if model.norm_pix_loss:
        pred = denormalize_with_visible(pred, target, mask)
    keep = mask.unsqueeze(-1)
    blank = torch.full_like(target, float("nan"))  # masked patches are left blank
    return {
        "masked": model.unpatchify(torch.where(keep.bool(), blank, target)),
        "prediction": model.unpatchify(pred),
        "prediction + visible": model.unpatchify(pred * keep + target * (1 - keep)),
        "original": images,
    }


def save_reconstruction_grid(
    panels: dict[str, torch.Tensor],
    path: str | Path,
    mean: Sequence[float],
    std: Sequence[float],
    title: str,
    norm_pix: bool,
) -> plt.Figure:
    """Draw `panels` (rows = images) to a PNG at `path`, atomically; return the figure."""
    shown = {k: denormalize(v.detach().float().cpu(), mean, std) for k, v in panels.items()}
    original = shown["original"]
    n = original.shape[0]
    fig, axes = plt.subplots(n, len(shown), figsize=(1.6 * len(shown), 1.6 * n), squeeze=False)
    for col, (name, imgs) in enumerate(shown.items()):
        label = name
        if norm_pix and name.startswith("prediction"):
            label += "\n(norm-pix; de-normalised with\nvisible patches' pooled stats)"
        if name == "masked":
            label += " (blue)"
        axes[0, col].set_title(label, fontsize=7)
        for row in range(n):
            lo, hi = float(original[row].min()), float(original[row].max())
            img = imgs[row].permute(1, 2, 0).clamp(lo, hi)
            img = (img - lo) / max(hi - lo, 1e-8)  # each row on its original's scale
            ax = axes[row, col]
            ax.set_facecolor("#9ecae1")  # shows through the blank (NaN) masked patches
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img.numpy())
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, close=False, dpi=100)
    return fig
