"""From a `DataConfig` to the images a run trains on, with the normalisation resolved."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from maeid.data import ImageFolder, TensorImages, load_fashion_mnist, load_synthetic
from maeid.data import fashion_mnist as fmnist
from maeid.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from maeid.train.config import DataConfig


@dataclass
class TrainingData:
    data: TensorImages | Dataset
    image_shape: tuple[int, int, int]  # (C, H, W)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    ground_truth: object | None = None  # SyntheticImages for synthetic sources


def build_dataset(
    cfg: DataConfig, device: torch.device | str = "cpu", split: str = "train", seed: int = 0
) -> TrainingData:
    """The data `cfg` describes. `split` selects Fashion-MNIST's test set, or centre crops
    instead of augmentation for an image folder; `seed` seeds image-folder augmentation."""
    mean, std = tuple(cfg.mean) or None, tuple(cfg.std) or None
    if cfg.source == "synthetic":
        synth = load_synthetic(cfg.model, cfg.n_train, cfg.seed, cfg.model_seed, mean, std)
        images = synth.images.to(device) if cfg.on_device else synth.images
        return TrainingData(images, images.image_shape, images.mean, images.std, synth)
    if cfg.source == "fashion_mnist":
        raw, labels = load_fashion_mnist(split, cfg.data_dir or None, cfg.pad_to or None)
        images = TensorImages(
            torch.from_numpy(raw),
            mean or (fmnist.MEAN,),
            std or (fmnist.STD,),
            torch.from_numpy(labels),
        )
        images = images.to(device) if cfg.on_device else images
        return TrainingData(images, images.image_shape, images.mean, images.std)
    if cfg.source == "image_folder":
        if not cfg.data_dir:
            raise ValueError("data.source=image_folder needs data.data_dir, the folder's root")
        grey = cfg.channels == 1
        mean = mean or ((0.5,) if grey else IMAGENET_MEAN)
        std = std or ((0.5,) if grey else IMAGENET_STD)
        folder = ImageFolder(
            cfg.data_dir, cfg.img_size, split == "train", tuple(cfg.crop_scale), cfg.hflip,
            mean, std, cfg.channels, seed,
        )  # fmt: skip
        return TrainingData(folder, (cfg.channels, cfg.img_size, cfg.img_size), mean, std)
    raise ValueError(
        f"data.source={cfg.source!r} is unknown; use synthetic, fashion_mnist or image_folder"
    )
