"""Image corruptions at 5 severities: maeid's own shifted test sets.

In the spirit of the paper's shifted test sets (and of ImageNet-C), a classifier trained
on clean features is tested on corrupted images. Every corruption maps a batch
(N, C, H, W) of images with values in [0, 1] to a batch of the same shape, clipped to
[0, 1]. Severity 0 is the identity; 1 to 5 corrupt more and more. The random ones draw
from a `torch.Generator`, so that the same seed gives the same corrupted test set.
Parameters are chosen for small images (28 to 32 pixels a side).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

SEVERITIES = (1, 2, 3, 4, 5)
Corruption = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]


def gaussian_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    sigma = (0.0, 0.04, 0.08, 0.12, 0.18, 0.26)[severity]
    return x + sigma * torch.randn(x.shape, generator=gen)


def shot_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Photon noise: Poisson counts at a light level that drops with severity."""
    photons = (0.0, 60.0, 25.0, 12.0, 5.0, 3.0)[severity]
    return torch.poisson(x.clamp(0, 1) * photons, generator=gen) / photons


def impulse_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Salt and pepper: a fraction of pixels set to 0 or 1 at random."""
    amount = (0.0, 0.01, 0.03, 0.06, 0.1, 0.17)[severity]
    u = torch.rand(x.shape, generator=gen)
    salt = torch.rand(x.shape, generator=gen) < 0.5
    hit = u < amount
    return torch.where(hit, salt.to(x.dtype), x)


def speckle_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Multiplicative noise: bright pixels fluctuate more."""
    sigma = (0.0, 0.1, 0.2, 0.3, 0.45, 0.6)[severity]
    return x + x * sigma * torch.randn(x.shape, generator=gen)


def gaussian_blur(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    del gen  # deterministic
    sigma = (0.0, 0.5, 0.75, 1.0, 1.4, 2.0)[severity]
    radius = max(1, int(round(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    pad = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(pad, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def contrast(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    del gen
    factor = (1.0, 0.6, 0.45, 0.3, 0.2, 0.1)[severity]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor + mean


def brightness(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    del gen
    return x + (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)[severity]


def pixelate(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """Replace every b x b block by its mean; the block side b grows with severity."""
    del gen
    b = (1, 2, 3, 4, 5, 6)[severity]
    h, w = x.shape[-2:]
    padded = F.pad(x, (0, -w % b, 0, -h % b), mode="replicate")
    blocks = F.avg_pool2d(padded, b)
    return blocks.repeat_interleave(b, dim=-2).repeat_interleave(b, dim=-1)[..., :h, :w]


def occlusion(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    """A gray square at a random place in every image; its side grows with severity."""
    frac = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)[severity]
    n, _, h, w = x.shape
    side_h, side_w = int(round(h * frac)), int(round(w * frac))
    top = torch.randint(0, h - side_h + 1, (n,), generator=gen)
    left = torch.randint(0, w - side_w + 1, (n,), generator=gen)
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    inside = (
        (rows >= top[:, None, None])
        & (rows < (top + side_h)[:, None, None])
        & (cols >= left[:, None, None])
        & (cols < (left + side_w)[:, None, None])
    )
    return torch.where(inside[:, None], torch.full_like(x, 0.5), x)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur,
    "contrast": contrast,
    "brightness": brightness,
    "pixelate": pixelate,
    "occlusion": occlusion,
}


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """Apply corruption `name` at `severity` (0 = identity, 1..5) to (N, C, H, W) images."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {sorted(CORRUPTIONS)}")
    if severity not in (0, *SEVERITIES):
        raise ValueError(f"severity {severity} is out of range; use 0 (none) to 5")
    if images.ndim != 4:
        raise ValueError(f"images have shape {tuple(images.shape)}; expected (N, C, H, W)")
    if severity == 0:
        return images.clone()
    gen = torch.Generator().manual_seed(seed)
    out = CORRUPTIONS[name](images.float().cpu(), severity, gen)
    return out.clamp(0.0, 1.0).to(images.dtype)
