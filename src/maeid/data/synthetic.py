"""Images sampled from a hierarchical latent-variable model, with their true latents.

The latents (and noises) are kept beside the images, in the same order, so that an
evaluation can regress them from the representation of each image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maeid.data.tensor_images import TensorImages


@dataclass
class SyntheticImages:
    """A sample of an image model: the images as `TensorImages` plus the ground truth."""

    model: Any  # maeid.hlvm.HierarchicalModel
    images: TensorImages
    latents: dict[str, np.ndarray]
    noises: dict[str, np.ndarray]


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of (N, C, H, W) images, for standardising them."""
    mean = images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = images.std(axis=(0, 2, 3), dtype=np.float64)
    return tuple(float(m) for m in mean), tuple(float(max(s, 1e-8)) for s in std)


@functools.lru_cache(maxsize=8)
def cached_model(name: str, model_seed: int) -> Any:
    """`maeid.hlvm.load_model`, kept: a model calibrates its mechanisms on first use
    (seconds), and runs in one process (tests, sweeps) keep asking for the same one."""
    from maeid import hlvm

    return hlvm.load_model(name, seed=model_seed)


def load_synthetic(
    source: str | Path,
    n: int | None = None,
    seed: int = 0,
    model_seed: int = 0,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> SyntheticImages:
    """Sample `n` images of a model (a name such as "qt32", or a YAML path) with `seed`,
    or read a data set that `maeid synth` wrote (a `.npz` path; then `n` may cut it short).

    Images are standardised with `mean`/`std`, by default those of the images themselves.
    """
    from maeid import hlvm  # the model zoo is only needed here

    if str(source).endswith(".npz"):
        model, sample = hlvm.load_dataset(source)
    else:
        if n is None or n < 1:
            raise ValueError(f"n_train={n}: sampling a synthetic data set needs n_train >= 1")
        named = Path(source).suffix not in (".yaml", ".yml")  # a file may change: reread it
        model = (cached_model if named else cached_model.__wrapped__)(str(source), model_seed)
        sample = model.sample(n, seed=seed)
    if sample.images is None:
        raise ValueError(
            f"model {getattr(model, 'name', source)!r} is not an image model (its spec has no "
            "image_shape), so an MAE cannot train on it; use an image model such as qt32"
        )
    images = np.asarray(sample.images, dtype=np.float32)
    keep = slice(None) if n is None else slice(0, n)
    if n is not None and n > len(images):
        raise ValueError(f"n_train={n} exceeds the {len(images)} samples in {source}")
    images = images[keep]
    if mean is None or std is None:
        mean, std = channel_stats(images)
    return SyntheticImages(
        model=model,
        images=TensorImages(torch.from_numpy(np.ascontiguousarray(images)), mean, std),
        latents={k: np.asarray(v)[keep] for k, v in sample.latents.items()},
        noises={k: np.asarray(v)[keep] for k, v in (sample.noises or {}).items()},
    )
