"""Data for MAE pre-training: synthetic hierarchies, Fashion-MNIST, image folders.

In-memory data sets (`TensorImages`) are indexed on the training device; folders of files go
through a seeded DataLoader. `EpochBatches` gives both the same seeded, shardable order.
"""

from maeid.data.fashion_mnist import load_fashion_mnist
from maeid.data.idx import IdxError, parse_idx, read_idx
from maeid.data.image_folder import ImageFolder
from maeid.data.loader import EpochBatches, seed_worker
from maeid.data.synthetic import SyntheticImages, load_synthetic
from maeid.data.tensor_images import TensorImages

__all__ = [
    "EpochBatches",
    "IdxError",
    "ImageFolder",
    "SyntheticImages",
    "TensorImages",
    "load_fashion_mnist",
    "load_synthetic",
    "parse_idx",
    "read_idx",
    "seed_worker",
]
