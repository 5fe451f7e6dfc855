"""One evaluation's shared state: the model, its data splits, cached features and the floor.

Every measure of one `run_measures` call reads the same `EvalContext`, so a split, the
frozen features of a split, a linear probe or the untrained encoder is computed once
however many measures use it. Splits are drawn from the named seed streams of
`maeid.seeds`; sizes are the measures' options, so the same options give the same images
in `maeid evaluate` and in a sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maeid.measures.data_kind import DataKind, describe_source, labelled_source, trained_kind
from maeid.seeds import stream_seed


@dataclass
class Split:
    """Images normalised as the checkpoint was trained, and what is known of them."""

    name: str
    images: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: torch.Tensor | None = None
    latents: dict[str, np.ndarray] = field(default_factory=dict)
    source_model: Any = None  # the hlvm model of synthetic data
    data_range: float | None = None  # pixel span of valid values; None = per image
    class_names: Sequence[str] | None = None


class EvalContext:
    """The model under evaluation, its training config, where figures go, the evaluation
    seed (default: the run's `run.seed`, so the floor is the run's own initialisation),
    the data source (default: the one the model trained on) and where the model was read
    from (`model_path`, with `maeid.train.load_any`'s `origin`), which names it in the
    figures' titles."""

    def __init__(
        self,
        model: nn.Module,
        cfg: Any,
        out_dir: str | Path,
        *,
        source: str | None = None,
        seed: int | None = None,
        progress: bool = False,
        model_path: str | Path | None = None,
        origin: str = "run",
    ) -> None:
        self.model, self.cfg, self.out = model.eval(), cfg, Path(out_dir)
        self.model_path, self.origin = model_path, origin
        self.seed = int(cfg.run.seed if seed is None else seed)
        self.source = source or str(cfg.data.source)
        if self.source == "image_folder" and cfg.data.data_dir:  # the run's own folder
            self.source = str(cfg.data.data_dir)
        self.progress = progress
        self.ratio = float(cfg.mask.ratio)
        self._cache: dict[tuple, Any] = {}

    # --------------------------------------------------------------- what the model is
    @property
    def run_label(self) -> str:
        """The model's run and whether it is trained (`maeid.train.run_label`), e.g.
        "98cad4d6a5dbe78b · trained (excess 0.21)"; "" when `model_path` is not given."""
        if self.model_path is None:
            return ""
        from maeid.train.run_label import model_label

        return self._cached(("run_label",), lambda: model_label(self.model_path, self.origin))

    def figure_title(self, title: str) -> str:
        """`title` under the run label, so that a figure seen alone names its model."""
        return "\n".join(line for line in (self.run_label, title) if line)

    # ------------------------------------------------------------------ what the data is
    def kind(self, source: str | None = None) -> DataKind:
        """What the data `source` (default: the context's) offers; for a .npz, known once
        read (rhm32 or not)."""
        source = source or self.source
        return self._cached(("kind", source), lambda: self._kind(source))

    def _kind(self, source: str) -> DataKind:
        if source == "image_folder":
            raise ValueError(
                "the images this model trained on are unknown (an imported model, or a run "
                "without data.data_dir); pass --data: a folder of images, fashion_mnist or a .npz"
            )
        data = self.cfg.data
        kind = describe_source(source, trained_kind({"source": data.source, "model": data.model}))
        if source.endswith(".npz"):
            from maeid.hlvm.random_hierarchy import is_rhm

            kind = DataKind(source, latents=True, rhm=is_rhm(self.test(source, 1).source_model))
        elif Path(source).is_dir() and not labelled_source(source):  # images: scan them now
            self._folder_images(source)  # so that one with no readable image fails first
        return kind

    # ------------------------------------------------------------------------ the splits
    def test(self, source: str | None, n: int) -> Split:
        """The first `n` held-out images of `source` (default: the context's)."""
        source = source or self.source
        return self._cached(("test", source, n), lambda: self._load(source, "test", n))

    def train(self, source: str | None, n: int) -> Split:
        """`n` images for training probes: Fashion-MNIST's training split, or fresh samples
        of the synthetic model from the `probe_train` stream, normalised as the test's."""
        source = source or self.source
        return self._cached(("train", source, n), lambda: self._load(source, "train", n))

    def _load(self, source: str, split: str, n: int) -> Split:
        if labelled_source(source):
            return self._fashion_mnist(source, split, n)
        if Path(source).is_dir():
            return self._folder(source, split, n)
        if split == "train":
            test = self.test(source, 1)
            seed = stream_seed(
                "probe_train", data_seed=int(self.cfg.data.seed), evaluation_seed=self.seed
            )
            sample = test.source_model.sample(n, seed=seed)
            from maeid.data.transforms import normalize

            images = normalize(
                torch.from_numpy(np.asarray(sample.images, np.float32)), test.mean, test.std
            )
            return Split(
                test.name,
                images,
                test.mean,
                test.std,
                latents=dict(sample.latents),
                source_model=test.source_model,
            )
        return self._synthetic_test(source, n)

    def _synthetic_test(self, source: str, n: int) -> Split:
        from maeid.data import load_synthetic

        cfg = self.cfg
        mean, std = tuple(cfg.data.mean) or None, tuple(cfg.data.std) or None
        if source == "synthetic":
            seed = stream_seed("test", data_seed=int(cfg.data.seed), evaluation_seed=self.seed)
            synth = load_synthetic(cfg.data.model, n, seed, cfg.data.model_seed, mean, std)
        else:  # a file: read once, whatever sizes the measures (and `kind`) ask of it
            synth = self._cached(
                ("file", source), lambda: load_synthetic(source, None, mean=mean, std=std)
            )
        n = min(n, len(synth.images))
        images = synth.images.batch(torch.arange(n))
        self._check_shape(images)
        return Split(
            str(source),
            images,
            synth.images.mean,
            synth.images.std,
            latents={k: v[:n] for k, v in synth.latents.items()},
            source_model=synth.model,
        )

    def _fashion_mnist(self, source: str, split: str, n: int) -> Split:
        from maeid.data import fashion_mnist as fmnist
        from maeid.data import load_fashion_mnist
        from maeid.data.transforms import normalize

        model, cfg = self.model, self.cfg
        c, h, w = model.in_chans, *model.img_size
        if c != 1:
            raise ValueError(f"the checkpoint takes {c}-channel images; Fashion-MNIST has 1")
        same = cfg.data.source == "fashion_mnist" and cfg.data.mean
        mean = tuple(cfg.data.mean) if same else (fmnist.MEAN,)
        std = tuple(cfg.data.std) if same else (fmnist.STD,)
        raw, labels = load_fashion_mnist(
            split, None if source == "fashion_mnist" else source, h if (h, w) != (28, 28) else None
        )
        # a subset of the fixed split, drawn with the evaluation seed
        keep = np.random.default_rng(self.seed).permutation(len(raw))[:n]
        images = normalize(torch.from_numpy(raw[keep]).float() / 255.0, mean, std)
        return Split(
            "fashion_mnist",
            images,
            mean,
            std,
            labels=torch.from_numpy(labels[keep]),
            data_range=1.0,
            class_names=fmnist.CLASSES,
        )

    def _folder(self, source: str, split: str, n: int) -> Split:
        """`n` images of a folder's test or readout part (`maeid.data.held_out_folder`),
        normalised as the model was trained (else ImageNet's, or 0.5 for grey)."""
        from maeid.data.held_out_folder import read_folder_images, split_folder
        from maeid.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize

        model, data = self.model, self.cfg.data
        h, w = model.img_size
        if h != w:
            raise ValueError(f"the checkpoint takes {h}x{w} images; a folder is read square")
        folder = self._folder_images(source)
        seeds = {"data_seed": int(data.seed), "evaluation_seed": self.seed}
        readout, test = split_folder(len(folder), stream_seed("folder_split", **seeds))
        if split == "train":
            rng = np.random.default_rng(stream_seed("probe_train", **seeds))
            chosen = rng.permutation(readout)[:n]
        else:
            chosen = test[:n]
        grey = model.in_chans == 1
        mean = tuple(data.mean) or ((0.5,) if grey else IMAGENET_MEAN)
        std = tuple(data.std) or ((0.5,) if grey else IMAGENET_STD)
        images = read_folder_images(folder, chosen, h, model.in_chans)
        labels = folder.labels
        return Split(
            str(source),
            normalize(images, mean, std),
            mean,
            std,
            labels=None if labels is None else torch.tensor([labels[i] for i in chosen]),
            data_range=1.0,
            class_names=folder.classes,
        )

    def _folder_images(self, source: str):
        from maeid.data.held_out_folder import scan_folder

        return self._cached(("folder", source), lambda: scan_folder(source))

    def _check_shape(self, images: torch.Tensor) -> None:
        want = (self.model.in_chans, *self.model.img_size)
        if tuple(images.shape[1:]) != want:
            raise ValueError(
                f"data images are {tuple(images.shape[1:])}; the checkpoint takes {want}"
            )

    # ------------------------------------------------------------- shared computations
    def untrained(self) -> nn.Module:
        """The same architecture at initialisation, seeded by the evaluation seed: the floor."""
        from maeid.mae.model import untrained_copy

        return self._cached(("untrained",), lambda: untrained_copy(self.model, self.seed))

    def features(self, split: Split, pool: str) -> torch.Tensor:
        """Frozen features of `split` (the `pool` readout of the full image), cached."""
        return self._cached(
            ("features", id(split), pool), lambda: frozen_features(self.model, split.images, pool)
        )

    def cached(self, key: tuple, compute) -> Any:
        """`compute()` once per `key` in this evaluation (for measures sharing a result)."""
        return self._cached(key, compute)

    def _cached(self, key: tuple, compute) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


@torch.no_grad()
def frozen_features(model: nn.Module, images: torch.Tensor, pool: str, batch: int = 512):
    """The encoder's full-image features: [CLS], the mean of the patch tokens, or all
    tokens side by side (`tokens`)."""
    from maeid.evaluate.symbols import POOLS

    if pool not in POOLS:
        raise ValueError(f"--pool {pool!r}: use one of {', '.join(POOLS)}")

    def read(feats) -> torch.Tensor:
        return feats.tokens.flatten(1) if pool == "tokens" else getattr(feats, pool)

    return torch.cat([read(model.encode(b)).float().cpu() for b in images.split(batch)])
