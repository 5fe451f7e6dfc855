"""One image file read as a model's input: a PNG/JPEG (any file PIL reads) or a `.npy`.

A picture file is converted to the model's channels (grey or RGB), its short side
resized to the model's side (bicubic) and its centre square taken, in [0, 1] units. A
`.npy` is taken as it is: an (H, W) or (C, H, W) array already at the model's size, in
the pixel units the model trained on (the generator's own for synthetic data, [0, 1] for
8-bit images; a uint8 array is divided by 255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from maeid.data.transforms import to_tensor


def read_image_file(path: str | Path, side: int, channels: int) -> torch.Tensor:
    """`path` as a (channels, side, side) float32 tensor (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    if path.suffix.lower() == ".npy":
        return _from_array(path, side, channels)
    if channels not in (1, 3):
        raise ValueError(
            f"the model takes {channels}-channel images; a picture file gives 1 or 3 (give a "
            f".npy of shape ({channels}, {side}, {side}) instead of {path.name})"
        )
    try:
        with Image.open(path) as file:
            image = file.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError) as err:
        reason = "not an image PIL can read" if isinstance(err, UnidentifiedImageError) else err
        raise ValueError(
            f"image {path} cannot be read ({reason}); give a PNG, JPEG or .npy"
        ) from None
    scale = side / min(image.width, image.height)
    size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return to_tensor(image.crop((left, top, left + side, top + side)))


def _from_array(path: Path, side: int, channels: int) -> torch.Tensor:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"image {path} is not a readable .npy array ({err})") from None
    if array.ndim == 2:
        array = array[None]
    if array.shape != (channels, side, side):
        raise ValueError(
            f"image {path} holds an array of shape {array.shape}; the model takes "
            f"({channels}, {side}, {side}) (or ({side}, {side}) for one channel)"
        )
    values = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    if not np.isfinite(values).all():
        raise ValueError(f"image {path} holds NaN or infinite values; repair it")
    return torch.from_numpy(values)
