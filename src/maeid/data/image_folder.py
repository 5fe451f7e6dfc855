"""A folder of images, one subfolder per class (the ImageNet layout), read with PIL.

    root/
      n01440764/ a.JPEG b.JPEG ...
      n01443537/ ...

Training samples get the reference MAE recipe: random resized crop (scale 0.2 to 1,
bicubic), horizontal flip, per-channel normalisation. Evaluation samples are resized and
centre-cropped.

Every file with an image suffix is opened once at construction (PIL reads only the
header): files that are not images are named in a warning and left out, and a folder
with no readable image is refused, before any training starts.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from maeid.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    center_crop,
    normalize,
    random_hflip,
    random_resized_crop,
    to_tensor,
)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"})


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one sample's augmentation, well mixed across its three inputs."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class ImageFolder(Dataset):
    """(image (C, size, size) float32, class index) pairs from a class-per-subfolder tree."""

    def __init__(
        self,
        root: str | Path,
        size: int = 224,
        train: bool = True,
        scale: tuple[float, float] = (0.2, 1.0),
        hflip: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        channels: int = 3,
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if not self.classes:
            raise ValueError(
                f"image folder {self.root} has no class subfolders; expected root/<class>/<image>"
            )
        found = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in sorted((self.root / name).rglob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        ]
        unreadable = {path: why for path, _ in found if (why := _unreadable(path))}
        self.samples = [(path, label) for path, label in found if path not in unreadable]
        if unreadable and self.samples:
            named = "; ".join(f"{p} ({why})" for p, why in list(unreadable.items())[:3])
            more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
            warnings.warn(
                f"image folder {self.root}: skipped {len(unreadable)} file(s) that are not "
                f"readable images: {named}{more}",
                stacklevel=2,
            )
        if not self.samples:
            if unreadable:
                named = ", ".join(str(p) for p in list(unreadable)[:3])
                raise ValueError(
                    f"image folder {self.root} holds no readable image: {named} "
                    f"({next(iter(unreadable.values()))}); put real images under root/<class>/"
                )
            raise ValueError(f"image folder {self.root} holds no images ({sorted(IMAGE_SUFFIXES)})")
        if channels not in (1, 3):
            raise ValueError(f"channels={channels} is not supported; use 1 (grey) or 3 (RGB)")
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean {mean} and std {std} need {channels} values, one per channel")
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"crop scale {scale} must satisfy 0 < lo <= hi <= 1")
        self.size, self.train, self.scale, self.hflip = size, train, scale, hflip
        self.mean, self.std, self.mode = tuple(mean), tuple(std), "RGB" if channels == 3 else "L"
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw fresh augmentations for a new epoch (call before building the loader)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        try:
            with Image.open(path) as file:
                img = file.convert(self.mode)
        except (UnidentifiedImageError, OSError) as err:  # a header that lied about the rest
            raise ValueError(f"image {path} cannot be read ({err}); remove or replace it") from None
        if self.train:
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))
            img = random_resized_crop(img, self.size, g, self.scale)
            if self.hflip:
                img = random_hflip(img, g)
        else:
            img = center_crop(img, self.size)
        return normalize(to_tensor(img), self.mean, self.std), label


def _unreadable(path: Path) -> str | None:
    """Why PIL cannot open `path` as an image (from its header alone), or None."""
    try:
        with Image.open(path):
            return None
    except UnidentifiedImageError:
        return "not an image PIL can read"
    except OSError as err:
        return str(err)
