"""What an evaluation's data offers (labels, latents, the rhm32 grammar), known from its
source's name or a training config before any image is loaded."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class Needs(enum.Enum):
    """What a measure needs of the data it reads."""

    ANY = "any images"
    LABELS = "class labels (Fashion-MNIST, or an image folder with class subfolders)"
    LATENTS = "synthetic data with known latents"
    RHM = "the rhm32 model's symbols"


@dataclass(frozen=True)
class DataKind:
    """What an evaluation's data offers, known before any image is loaded."""

    name: str
    labelled: bool = False
    latents: bool = False
    rhm: bool = False

    def offers(self, needs: Needs) -> bool:
        return {
            Needs.ANY: True,
            Needs.LABELS: self.labelled,
            Needs.LATENTS: self.latents,
            Needs.RHM: self.rhm,
        }[needs]


def labelled_source(source: str) -> bool:
    """Fashion-MNIST, by name or as a folder of its IDX files."""
    return source == "fashion_mnist" or any(Path(source).glob("t10k-images*"))


def describe_source(source: str, trained_on: DataKind | None = None) -> DataKind:
    """The `DataKind` of a data source name: fashion_mnist or a folder of its IDX files
    (labelled), synthetic (the checkpoint's own model: `trained_on`), a .npz of
    `maeid synth` (latents; rhm32 if written from it, known once loaded), or a folder of
    images (labelled when its images sit in class subfolders)."""
    if labelled_source(source):
        return DataKind("fashion_mnist", labelled=True)
    if Path(source).is_dir():
        from maeid.data.held_out_folder import has_class_subfolders

        return DataKind(source, labelled=has_class_subfolders(source))
    if source == "synthetic":
        if trained_on is None or not trained_on.latents:
            raise ValueError(
                "--data synthetic reuses the checkpoint's synthetic model, but it was trained "
                f"on {trained_on.name if trained_on else 'other data'}; pass a .npz from "
                "`maeid synth` instead"
            )
        return trained_on
    if source.endswith(".npz"):
        return DataKind(source, latents=True)
    raise ValueError(
        f"--data {source!r}: use fashion_mnist, synthetic, a .npz written by `maeid synth`, "
        "a folder of images (labelled by class subfolders) or a folder holding "
        "Fashion-MNIST's IDX files"
    )


def trained_kind(data: dict[str, Any]) -> DataKind:
    """The `DataKind` of a training config's `data` section (before training)."""
    from maeid.hlvm.random_hierarchy import is_rhm

    source = str(data.get("source", ""))
    if source == "synthetic":
        model = str(data.get("model", ""))
        return DataKind(model, latents=True, rhm=is_rhm(model))
    if source == "fashion_mnist":
        return DataKind("fashion_mnist", labelled=True)
    folder = data.get("data_dir")
    if source == "image_folder" and folder and Path(str(folder)).is_dir():
        return describe_source(str(folder))  # labelled when it has class subfolders
    return DataKind(source or "unknown data")
