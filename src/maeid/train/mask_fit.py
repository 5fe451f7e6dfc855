"""Whether a config's mask fits its images, decided before any data is read or written.

A masking unit must tile the image in whole patches, and the ratio must leave at least
one unit visible and mask at least one. A sweep asks this of every grid cell before it
starts (to skip the impossible ones with a note), and `train` before it creates the run
folder.
"""

from __future__ import annotations

from pathlib import Path

from maeid.mae.model import check_geometry
from maeid.mae.presets import preset_kwargs
from maeid.theory.masking import MaskLayout
from maeid.train.config import TrainConfig


def data_image_shape(cfg: TrainConfig) -> tuple[int, int, int] | None:
    """(C, H, W) of the config's images, or None when only reading the data would tell
    (a `.npz` written by `maeid synth`)."""
    data = cfg.data
    if data.source == "fashion_mnist":
        side = data.pad_to or 28
        return (1, side, side)
    if data.source == "image_folder":
        return (data.channels, data.img_size, data.img_size)
    if data.source == "synthetic" and not str(data.model).endswith(".npz"):
        from maeid.data.synthetic import cached_model

        named = Path(data.model).suffix not in (".yaml", ".yml")
        load = cached_model if named else cached_model.__wrapped__
        shape = load(str(data.model), data.model_seed).spec.image_shape
        if shape is None:
            raise ValueError(
                f"data.model={data.model!r} is not an image model (its spec has no "
                "image_shape), so an MAE cannot train on it; use an image model such as qt32"
            )
        return tuple(shape)
    return None


def check_mask_fits(cfg: TrainConfig, image_shape: tuple[int, int, int] | None = None) -> None:
    """Raise a ValueError naming the config keys when the mask cannot work on the images."""
    shape = image_shape or data_image_shape(cfg)
    if shape is None:
        return
    _, h, w = shape
    patch = cfg.model.patch_size or preset_kwargs(cfg.model.preset)["patch_size"]
    unit = cfg.mask.unit or patch
    where = f"mask.ratio={cfg.mask.ratio} with mask.unit={unit} (patch {patch}) on {h}x{w} images"
    try:
        check_geometry((h, w), patch, unit)
        MaskLayout(h // patch, w // patch, unit // patch).num_kept_units(cfg.mask.ratio)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
