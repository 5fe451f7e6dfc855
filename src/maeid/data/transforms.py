"""The reference MAE augmentation, written with PIL and torch (no torchvision).

Every random choice draws from an explicit `torch.Generator`. The image-folder dataset
seeds one per (seed, epoch, index), so an augmented sample does not depend on which
loader worker produced it, nor on how many workers there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _uniform(lo: float, hi: float, generator: torch.Generator) -> float:
    return lo + (hi - lo) * torch.rand((), generator=generator).item()


def resized_crop_box(
    width: int,
    height: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    attempts: int = 10,
) -> tuple[int, int, int, int]:
    """A random (left, top, w, h) box covering `scale` of the area at aspect `ratio`.

    Area is uniform in `scale`, log aspect uniform in `ratio`; after `attempts` misses,
    fall back to the largest central box whose aspect lies inside `ratio`.
    """
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(attempts):
        target = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_lo, log_hi, generator))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            return left, top, w, h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def random_resized_crop(
    img: Image.Image,
    size: int,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Image.Image:
    """Crop a random box (see `resized_crop_box`) and resize it to size x size, bicubic."""
    left, top, w, h = resized_crop_box(img.width, img.height, scale, ratio, generator)
    return img.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + w, top + h))


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize the short side to size / 0.875 and take the central size x size square."""
    short = round(size / 0.875)
    scale = short / min(img.width, img.height)
    img = img.resize(
        (max(size, round(img.width * scale)), max(size, round(img.height * scale))),
        Image.Resampling.BICUBIC,
    )
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return img.crop((left, top, left + size, top + size))


def random_hflip(img: Image.Image, generator: torch.Generator, p: float = 0.5) -> Image.Image:
    if torch.rand((), generator=generator).item() < p:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


def to_tensor(img: Image.Image) -> torch.Tensor:
    """(C, H, W) float32 in [0, 1]."""
    array = np.asarray(img, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(x - mean) / std per channel; works on (C, H, W) and (N, C, H, W)."""
    shape = (-1, 1, 1)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
    return (x - m) / s


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    shape = (-1, 1, 1)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
    return x * s + m
