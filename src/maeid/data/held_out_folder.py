"""A folder of images as evaluation data: its files, its labels if any, a seeded split.

With one subfolder per class (the ImageNet layout, as `ImageFolder` trains on) every
image is labelled by its subfolder; otherwise the folder is any tree of images, without
labels. The files are split once, by a seed, into a held-out test part (a fifth, at
least one image) and a part for training readouts (probes, kNN); images are read as an
evaluation reads them: resized and centre-cropped to the model's size (`center_crop`),
in [0, 1].

A model pre-trained on the same folder has seen the test part's images (without their
labels): the split keeps a readout from being scored on the images it was fitted on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from maeid.data.image_folder import IMAGE_SUFFIXES, _unreadable
from maeid.data.transforms import center_crop, to_tensor

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class FolderImages:
    """The readable images of a folder, in sorted order, and their classes if it has them."""

    root: Path
    paths: tuple[Path, ...]
    labels: tuple[int, ...] | None  # None: no class subfolders
    classes: tuple[str, ...] | None

    def __len__(self) -> int:
        return len(self.paths)


def has_class_subfolders(root: str | Path) -> bool:
    """Whether `root` holds images only under subfolders (one per class)."""
    root = Path(root)
    loose = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir())
    return not loose and any(p.is_dir() for p in root.iterdir())


def scan_folder(root: str | Path) -> FolderImages:
    """The images of `root`, labelled by class subfolder when it has them; files that are
    not readable images are named in a warning and left out."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    if has_class_subfolders(root):
        classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
        found = [(path, label) for label, name in enumerate(classes)
                 for path in _images_under(root / name)]  # fmt: skip
    else:
        classes = None
        found = [(path, 0) for path in _images_under(root)]
    unreadable = {path: why for path, _ in found if (why := _unreadable(path))}
    kept = [(path, label) for path, label in found if path not in unreadable]
    if unreadable:
        named = "; ".join(f"{p} ({why})" for p, why in list(unreadable.items())[:3])
        if not kept:
            raise ValueError(f"image folder {root} holds no readable image: {named}")
        warnings.warn(f"image folder {root}: skipped {len(unreadable)} file(s): {named}",
                      stacklevel=2)  # fmt: skip
    if len(kept) < 2:
        raise ValueError(
            f"image folder {root} holds {len(kept)} image(s) "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}); an evaluation needs at least 2, one to "
            "test on and one to fit readouts on"
        )
    paths = tuple(path for path, _ in kept)
    labels = tuple(label for _, label in kept) if classes is not None else None
    return FolderImages(root, paths, labels, classes)


def split_folder(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(readout indices, test indices) of `count` images: a permutation by `seed`, whose
    first fifth (at least one image, at most all but one) is the test part."""
    order = np.random.default_rng(seed).permutation(count)
    test = min(max(1, round(TEST_FRACTION * count)), count - 1)
    return order[test:], order[:test]


def read_folder_images(
    folder: FolderImages, indices: np.ndarray, size: int, channels: int
) -> torch.Tensor:
    """Images `indices` as (n, channels, size, size) float32 in [0, 1], centre-cropped."""
    if channels not in (1, 3):
        raise ValueError(f"the model takes {channels}-channel images; a folder gives 1 or 3")
    mode = "RGB" if channels == 3 else "L"
    out = torch.empty(len(indices), channels, size, size)
    for row, index in enumerate(indices):
        path = folder.paths[int(index)]
        try:
            with Image.open(path) as file:
                out[row] = to_tensor(center_crop(file.convert(mode), size))
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"image {path} cannot be read ({err}); remove or replace it") from None
    return out


def _images_under(folder: Path) -> list[Path]:
    return [
        p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
