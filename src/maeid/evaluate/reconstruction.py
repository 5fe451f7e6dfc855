"""Reconstruction quality of an MAE on held-out images at its masking ratio.

Every image gets a mask from the MAE's own sampler (seeded). The prediction is compared
with the original in the data's own units (the loader's normalisation undone), twice:

- ``masked``: on the masked patches only, the pixels the model had to invent;
- ``composed``: on the whole image with the visible patches pasted back, as MAE figures
  show it.

With `norm_pix_loss` the model predicts standardised patches; they are de-normalised with
the visible patches' pooled statistics (`maeid.train.recon`), which is a guess and
lowers the scores a little. The paper's Fig. 5 reports the same four metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from maeid.data.transforms import denormalize
from maeid.evaluate.image_quality import image_quality, mean_quality
from maeid.theory.masking import masks_from_noise, sample_noise
from maeid.train.recon import reconstruct


@torch.no_grad()
def reconstruction_panels(
    model: nn.Module, images: torch.Tensor, ratio: float, seed: int = 0
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """(panels of `maeid.train.recon.reconstruct`, pixel mask (N, H, W) bool, True = masked)."""
    noise = sample_noise(len(images), model.layout, torch.Generator().manual_seed(seed))
    panels = reconstruct(model, images, noise.to(images.device), ratio)
    token_mask = masks_from_noise(noise, model.layout, ratio).mask
    gh, gw = model.grid_size
    p = model.patch_size
    pixels = token_mask.reshape(-1, gh, 1, gw, 1).expand(-1, gh, p, gw, p)
    return panels, pixels.reshape(-1, gh * p, gw * p).bool()


def reconstruction_quality(
    model: nn.Module,
    images: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    ratio: float,
    data_range: float | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, dict[str, float]]:
    """Mean MSE, PSNR, SSIM, FSIM over `images` (normalised as the model saw them)."""
    masked, composed = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        panels, region = reconstruction_panels(model, batch, ratio, seed + start)
        orig = denormalize(panels["original"].float().cpu(), mean, std).numpy()
        comp = denormalize(panels["prediction + visible"].float().cpu(), mean, std).numpy()
        for o, c, r in zip(orig, comp, region.cpu().numpy(), strict=True):
            span = data_range if data_range is not None else float(np.ptp(o)) or 1.0
            masked.append(image_quality(o, c, span, r))
            composed.append(image_quality(o, c, span))
    return {
        "masked": mean_quality(masked),
        "composed": mean_quality(composed),
        "images": len(images),
        "ratio": ratio,
    }
