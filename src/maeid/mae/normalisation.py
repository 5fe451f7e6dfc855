"""The pixel normalisation a model expects, and its form in an HF `preprocessor_config.json`.

A model sees `(pixels * scale - mean) / std` per channel. For image files (Fashion-MNIST,
image folders) the pixels are 8-bit and `scale` is 1/255, so `mean` and `std` are in
[0, 1] units; for synthetic data the pixels are the generator's own real values and
`scale` is 1 (`rescale=False`). HF's `ViTImageProcessor` does the same steps with
`do_rescale` / `rescale_factor` and `do_normalize` / `image_mean` / `image_std`, so a
processor loaded from the file gives the model the pixel values maeid gave it. Image
files are first resized whole to the model's size (`do_resize`); real-valued synthetic
arrays are not (HF resizes through 8-bit PIL images, which would round them; they are
the model's size already).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EIGHT_BIT = 1 / 255


@dataclass(frozen=True)
class PixelNormalisation:
    """Per-channel mean and std, and whether pixels are 8-bit values scaled by 1/255 first."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    rescale: bool = True

    def __post_init__(self) -> None:
        if not self.mean or len(self.mean) != len(self.std):
            raise ValueError(
                f"normalisation mean {self.mean} and std {self.std} need one value per channel"
            )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"normalisation std {self.std} must be positive")

    def for_channels(self, channels: int, source: object) -> PixelNormalisation:
        """One value per channel of a `channels`-channel model (a single value repeated);
        `source` names where the values came from in the error."""
        if len(self.mean) == channels:
            return self
        if len(self.mean) == 1:
            return PixelNormalisation(self.mean * channels, self.std * channels, self.rescale)
        raise ValueError(
            f"{source}: normalisation mean {list(self.mean)} has {len(self.mean)} values; the "
            f"model takes {channels}-channel images"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for a checkpoint or JSON)."""
        return {"mean": list(self.mean), "std": list(self.std), "rescale": self.rescale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PixelNormalisation:
        return cls(
            tuple(float(v) for v in data["mean"]),
            tuple(float(v) for v in data["std"]),
            bool(data.get("rescale", True)),
        )


def preprocessor_config(norm: PixelNormalisation, size: int) -> dict[str, Any]:
    """The `ViTImageProcessor` settings that feed a `size` x `size` model as maeid did.

    8-bit images are resized whole to the model's size (bicubic), not centre-cropped as
    maeid evaluates an image folder; images already at that size pass unchanged.
    """
    return {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": norm.rescale,
        "size": {"height": int(size), "width": int(size)},
        "resample": 3,  # PIL bicubic, as maeid's crops
        "do_rescale": norm.rescale,
        "rescale_factor": EIGHT_BIT,
        "do_normalize": True,
        "image_mean": list(norm.mean),
        "image_std": list(norm.std),
    }


def from_preprocessor_config(config: Mapping[str, Any], path: Path) -> PixelNormalisation:
    """The normalisation an HF `preprocessor_config.json` (read as `config`) applies."""

    def per_channel(key: str, default: float) -> tuple[float, ...]:
        value = config.get(key, default)
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        try:
            return tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {key} {value!r} is not a list of numbers") from None

    rescale = bool(config.get("do_rescale", True))
    factor = float(config.get("rescale_factor", EIGHT_BIT))
    if rescale and abs(factor - EIGHT_BIT) > 1e-9:
        raise ValueError(
            f"{path}: rescale_factor {factor} is not 1/255; maeid reads 8-bit images only, "
            "so set it to 1/255 or do_rescale to false"
        )
    if not config.get("do_normalize", True):
        return PixelNormalisation((0.0,), (1.0,), rescale)
    return PixelNormalisation(
        per_channel("image_mean", 0.5), per_channel("image_std", 0.5), rescale
    )
