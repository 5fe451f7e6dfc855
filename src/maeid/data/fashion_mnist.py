"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package (or any folder of its IDX files).

Images stay uint8 (60k x 28 x 28 is 47 MB); `pad_to=32` adds a zero (background) border so
that patches and masking units of 2, 4, 8 and 16 pixels tile the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maeid.data.idx import IdxError, read_idx

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# Mean and std of the training pixels scaled to [0, 1] (border padding excluded).
MEAN, STD = 0.2860, 0.3530


def _find(data_dir: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (data_dir / name).is_file():
            return data_dir / name
    hint = (
        "install it with `sudo apt-get install dataset-fashion-mnist`"
        if data_dir == DEFAULT_DIR
        else "point data_dir at the folder holding the Fashion-MNIST IDX files"
    )
    raise FileNotFoundError(f"Fashion-MNIST file {stem}(.gz) not found in {data_dir}; {hint}")


def load_fashion_mnist(
    split: str = "train", data_dir: str | Path | None = None, pad_to: int | None = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64 of one split ("train" or "test")."""
    if split not in FILES:
        raise ValueError(f"Fashion-MNIST split {split!r} does not exist; use 'train' or 'test'")
    data_dir = Path(data_dir) if data_dir else DEFAULT_DIR
    image_stem, label_stem, count = FILES[split]
    images = read_idx(_find(data_dir, image_stem))
    labels = read_idx(_find(data_dir, label_stem))
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != (images.shape[0],):
        raise IdxError(
            f"{data_dir}: images {images.shape} {images.dtype} and labels {labels.shape} "
            "are not Fashion-MNIST's (N, 28, 28) uint8 and (N,)"
        )
    if images.shape[0] != count:
        raise IdxError(f"{data_dir}: {split} split has {images.shape[0]} images, expected {count}")
    if labels.max() >= len(CLASSES):
        raise IdxError(f"{data_dir}: label {labels.max()} is outside 0..{len(CLASSES) - 1}")
    if pad_to:
        h, w = images.shape[1:]
        if pad_to < max(h, w):
            raise ValueError(f"pad_to={pad_to} is smaller than the {h}x{w} images; use >= 28")
        top, left = (pad_to - h) // 2, (pad_to - w) // 2
        images = np.pad(images, ((0, 0), (top, pad_to - h - top), (left, pad_to - w - left)))
    return np.ascontiguousarray(images[:, None]), labels.astype(np.int64)
