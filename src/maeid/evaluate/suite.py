"""`maeid evaluate`: every measurement of a checkpoint, one JSON of numbers plus figures.

Measurements (each optional):

- ``probe``: linear probe (BatchNorm without affine + linear) on frozen features of the
  full image ([CLS], mean-pooled, or all tokens side by side: ``--pool``); top-1 on the
  test split.
- ``knn``: cosine k-NN (k = 20, DINO's weighted vote) top-1 on the same features.
- ``tsne``: t-SNE of ten classes of test features (``tsne.png``).
- ``recon``: MSE, PSNR, SSIM, FSIM of reconstructions at the checkpoint's masking ratio,
  on masked patches and on the composed image, plus a grid (``reconstructions.png``).
- ``attention``: mean attention distance per layer and head, and last-layer [CLS]
  attention overlaid on test images (``attention_distance.png``, ``cls_attention.png``).
- ``robustness``: the clean-trained probe on corrupted test images, 5 severities each.
- ``identify``: synthetic data only, the practical regime: R² per latent level of the
  masked and the full-image representation beside the theory's profile.
- ``symbols``: the random-hierarchy model (rhm32) only: linear-probe and kNN accuracy per
  level from the ``--pool`` readout to every symbol, and the class through the root's
  rules from the level-1 probes (and climbed through the rules from each deeper level's
  probes), full image and visible tokens, beside the untrained
  encoder, the same view's pixels and the Bayes limit (`maeid.evaluate.symbols`);
  and the held-out masked loss beside its Bayes limit and plateau (`maeid.evaluate.excess`).
- ``shape_bias``, ``rendition``: rhm32 only, cue-conflict shape bias and accuracy under
  rendition shifts, beside their references (`maeid.evaluate.texture_measures`).
- ``information``: rhm32 only, per level and view the linear probes' cross-entropy of the
  ``--pool`` readout, the untrained encoder and the pixels, beside H_Bayes, and G, the
  share of the floor-to-Bayes gap closed (`maeid.evaluate.information_probes`).
- ``class_probe``: rhm32 only, a one-hidden-layer probe trained on class labels alone at
  each label budget (``class_budgets``), beside the untrained encoder, the pixels and the
  Bayes classifier of each view (`maeid.evaluate.class_probe`).

Labelled data (Fashion-MNIST) supports probe, knn, tsne and robustness; synthetic data
(with true latents) supports identify, or for rhm32 symbols, shape_bias, rendition,
information and class_probe (the last four only when asked for); every data set supports
recon and attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maeid.evaluate.artifacts import write_json
from maeid.evaluate.symbols import POOLS
from maeid.evaluate.texture_measures import MEASURES as TEXTURE_MEASURES
from maeid.mae.model import untrained_copy
from maeid.progress import tqdm

MEASURES = ("probe", "knn", "tsne", "recon", "attention", "robustness", "identify", "symbols")
MEASURES += TEXTURE_MEASURES  # rhm32 only, never by default
MEASURES += ("information", "class_probe")  # rhm32 only, never by default
RHM_MEASURES = ("symbols", *TEXTURE_MEASURES, "information", "class_probe")
LABELLED = frozenset({"probe", "knn", "tsne", "robustness"})


@dataclass
class EvalData:
    """Held-out images, normalised as the checkpoint was trained, and what we know of them."""

    name: str
    test_images: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_images: torch.Tensor | None = None
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    data_range: float | None = None  # pixel span of valid values; None = per image
    class_names: Sequence[str] | None = None
    spec: object | None = None  # GraphSpec of synthetic data
    latents: dict[str, np.ndarray] = field(default_factory=dict)
    source_model: object | None = None  # the hlvm model of synthetic data

    @property
    def labelled(self) -> bool:
        return self.test_labels is not None and self.train_labels is not None


@dataclass(frozen=True)
class EvalOptions:
    pool: str = "cls"  # features for probe / kNN / t-SNE / symbols: cls | mean | tokens
    max_train: int = 10000
    max_test: int = 2000
    recon_images: int = 256
    robust_images: int = 1000
    probe_epochs: int = 30
    class_budgets: tuple[int, ...] = (1000, 8000)  # labelled images of the class-only probe
    seed: int = 0
    progress: bool = True
    threads: int | None = None  # torch intra-op threads; None = torch's choice


def default_measures(data: EvalData) -> list[str]:
    if data.labelled:
        return ["probe", "knn", "tsne", "recon", "attention", "robustness"]
    if _is_rhm(data):  # symbols, not identify: an R² of symbol ids means nothing
        return ["recon", "attention", "symbols"]
    return ["recon", "attention"] + (["identify"] if data.latents else [])


def _is_rhm(data: EvalData) -> bool:
    from maeid.hlvm.random_hierarchy import RandomHierarchy

    return isinstance(data.source_model, RandomHierarchy)


# ------------------------------------------------------------------------------ data
def load_eval_data(source: str, cfg, model: nn.Module, opts: EvalOptions) -> EvalData:
    """`source`: fashion_mnist, synthetic (the checkpoint's model), a .npz of `maeid synth`,
    or a folder of Fashion-MNIST IDX files."""
    from maeid.data import fashion_mnist as fmnist
    from maeid.data import load_fashion_mnist, load_synthetic

    c, h, w = model.in_chans, *model.img_size
    path = Path(source)
    if source == "fashion_mnist" or (path.is_dir() and any(path.glob("t10k-images*"))):
        data_dir = None if source == "fashion_mnist" else path
        pad = h if (h, w) != (28, 28) else None
        if c != 1:
            raise ValueError(f"the checkpoint takes {c}-channel images; Fashion-MNIST has 1")
        same = cfg.data.source == "fashion_mnist" and cfg.data.mean
        mean = tuple(cfg.data.mean) if same else (fmnist.MEAN,)
        std = tuple(cfg.data.std) if same else (fmnist.STD,)
        splits = {}
        for split, limit in (("train", opts.max_train), ("test", opts.max_test)):
            raw, labels = load_fashion_mnist(split, data_dir, pad)
            keep = np.random.default_rng(opts.seed).permutation(len(raw))[:limit]
            splits[split] = (
                torch.from_numpy(raw[keep]).float() / 255.0,
                torch.from_numpy(labels[keep]),
            )
        norm = _normalizer(mean, std)
        return EvalData(
            name="fashion_mnist",
            test_images=norm(splits["test"][0]),
            mean=mean,
            std=std,
            train_images=norm(splits["train"][0]),
            train_labels=splits["train"][1],
            test_labels=splits["test"][1],
            data_range=1.0,
            class_names=fmnist.CLASSES,
        )
    if source == "synthetic" or source.endswith(".npz"):
        if source == "synthetic" and cfg.data.source != "synthetic":
            raise ValueError(
                "--data synthetic reuses the checkpoint's synthetic model, but it was trained "
                f"on {cfg.data.source}; pass a .npz from `maeid synth` instead"
            )
        mean = tuple(cfg.data.mean) or None
        std = tuple(cfg.data.std) or None
        if source == "synthetic":  # held-out: a sampling seed the training run did not use
            synth = load_synthetic(
                cfg.data.model,
                opts.max_test,
                cfg.data.seed + 104729,
                cfg.data.model_seed,
                mean,
                std,
            )
        else:
            synth = load_synthetic(source, None, mean=mean, std=std)
        imgs = synth.images
        n = min(len(imgs), opts.max_test)
        test = imgs.batch(torch.arange(n))
        if tuple(test.shape[1:]) != (c, h, w):
            raise ValueError(
                f"data images are {tuple(test.shape[1:])}; the checkpoint takes {(c, h, w)}"
            )
        return EvalData(
            name=str(source),
            test_images=test,
            mean=imgs.mean,
            std=imgs.std,
            spec=synth.model.spec,
            latents={k: v[:n] for k, v in synth.latents.items()},
            source_model=synth.model,
        )
    raise ValueError(
        f"--data {source!r}: use fashion_mnist, synthetic, a .npz written by `maeid synth`, "
        "or a folder holding Fashion-MNIST's IDX files"
    )


def _normalizer(mean, std):
    from maeid.data.transforms import normalize

    return lambda x: normalize(x, mean, std)


# ----------------------------------------------------------------------- the measures
@torch.no_grad()
def frozen_features(model: nn.Module, images: torch.Tensor, pool: str, batch: int = 512):
    if pool not in POOLS:
        raise ValueError(f"--pool {pool!r}: use one of {', '.join(POOLS)}")

    def read(feats) -> torch.Tensor:
        return feats.tokens.flatten(1) if pool == "tokens" else getattr(feats, pool)

    return torch.cat([read(model.encode(b)).float().cpu() for b in images.split(batch)])


def evaluate_checkpoint(
    model: nn.Module,
    cfg,
    data: EvalData,
    measures: Sequence[str] | None,
    out_dir: str | Path,
    opts: EvalOptions | None = None,
    checkpoint: str = "",
) -> dict[str, object]:
    """Run `measures` (default: all that `data` supports); write eval.json and figures."""
    opts = opts or EvalOptions()
    measures = list(measures or default_measures(data))
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown measures {unknown}; choose from {', '.join(MEASURES)}")
    if LABELLED & set(measures) and not data.labelled:
        raise ValueError(
            f"{sorted(LABELLED & set(measures))} need class labels; {data.name} has none "
            "(use --data fashion_mnist, or measure recon,attention,identify)"
        )
    if "identify" in measures and not data.latents:
        raise ValueError(f"identify needs true latents; {data.name} has none (use synthetic)")
    for name in RHM_MEASURES:
        if name in measures and not _is_rhm(data):
            raise ValueError(f"{name} needs the rhm32 model's symbols; {data.name} is not rhm32")
    model.eval()
    threads = torch.get_num_threads()
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    try:
        return _evaluate(model, cfg, data, measures, Path(out_dir), opts, checkpoint)
    finally:
        torch.set_num_threads(threads)


def _evaluate(model, cfg, data, measures, out_dir: Path, opts, checkpoint) -> dict[str, object]:
    run = _Run(model, data, opts, out_dir, float(cfg.mask.ratio))
    result: dict[str, object] = {
        "checkpoint": checkpoint,
        "data": data.name,
        "mask_ratio": run.ratio,
        "mask_unit": int(model.mask_unit),
        "patch_size": int(model.patch_size),
        "options": opts.__dict__,
    }
    bar = tqdm(measures, disable=not opts.progress, desc="evaluate")
    for name in bar:
        bar.set_postfix(measure=name)
        value = getattr(run, name)()
        if value is not None:
            result[name] = value
    if run.head is not None and "probe" not in result:  # robustness trained the probe
        result["probe"] = run.probe()
    result["figures"] = run.figures
    write_json(run.out / "eval.json", result)
    return result


class _Run:
    """One evaluation: each measure is a method returning its numbers (None: figure only).

    Frozen features and the probe are computed once and shared between measures.
    """

    def __init__(self, model, data: EvalData, opts: EvalOptions, out: Path, ratio: float):
        self.model, self.data, self.opts, self.out, self.ratio = model, data, opts, out, ratio
        self.figures: list[str] = []
        self._feats: dict[str, torch.Tensor] | None = None
        self.head: nn.Module | None = None
        self._probe: dict[str, object] | None = None

    def features(self) -> dict[str, torch.Tensor]:
        if self._feats is None:
            self._feats = {
                split: frozen_features(self.model, images, self.opts.pool)
                for split, images in (("train", self.data.train_images),
                                      ("test", self.data.test_images))
            }  # fmt: skip
        return self._feats

    def probe(self) -> dict[str, object]:
        from maeid.evaluate.probe import ProbeConfig, linear_probe

        if self._probe is None:
            f, d = self.features(), self.data
            config = ProbeConfig(self.opts.probe_epochs, seed=self.opts.seed)
            acc, self.head = linear_probe(f["train"], d.train_labels, f["test"], d.test_labels,
                                          config)  # fmt: skip
            self._probe = {"top1": acc, "pool": self.opts.pool, "optimizer": "AdamW",
                           "epochs": self.opts.probe_epochs, "train": len(f["train"]),
                           "test": len(f["test"])}  # fmt: skip
        return self._probe

    def knn(self) -> dict[str, object]:
        from maeid.evaluate.knn import knn_top1

        f, d = self.features(), self.data
        top1 = knn_top1(f["train"], d.train_labels, f["test"], d.test_labels, k=20)
        return {"top1": top1, "k": 20, "pool": self.opts.pool}

    def tsne(self) -> None:
        from maeid.evaluate.tsne import plot_tsne, tsne_embedding

        test = self.features()["test"].numpy()
        emb, labels = tsne_embedding(test, self.data.test_labels.numpy(), seed=self.opts.seed)
        title = f"t-SNE of {self.opts.pool} features, {self.data.name} test"
        path = plot_tsne(emb, labels, self.out / "tsne.png", self.data.class_names, title)
        self.figures.append(str(path))

    def recon(self) -> dict[str, object]:
        from maeid.evaluate.reconstruction import reconstruction_panels, reconstruction_quality
        from maeid.figures import plt
        from maeid.train.recon import save_reconstruction_grid

        d, model = self.data, self.model
        imgs = d.test_images[: self.opts.recon_images]
        quality = reconstruction_quality(model, imgs, d.mean, d.std, self.ratio, d.data_range,
                                         self.opts.seed)  # fmt: skip
        panels, _ = reconstruction_panels(model, imgs[:8], self.ratio, self.opts.seed)
        path = self.out / "reconstructions.png"
        title = f"{d.name}, mask ratio {self.ratio}, unit {model.mask_unit}px"
        plt.close(save_reconstruction_grid(panels, path, d.mean, d.std, title,
                                           model.norm_pix_loss))  # fmt: skip
        self.figures.append(str(path))
        return quality

    def attention(self) -> dict[str, object]:
        from maeid.data.transforms import denormalize
        from maeid.evaluate.attention import (
            attention_on_object,
            cls_attention_maps,
            mean_attention_distance,
            plot_attention_distance,
            plot_cls_attention,
        )

        imgs = self.data.test_images[:256]
        dist = mean_attention_distance(self.model, imgs)
        maps = cls_attention_maps(self.model, imgs)
        shown = denormalize(imgs[:8].float(), self.data.mean, self.data.std).numpy()
        cls_png = plot_cls_attention(shown, maps[:8].numpy(), self.out / "cls_attention.png")
        self.figures.append(str(cls_png))
        self.figures.append(str(plot_attention_distance(dist, self.out / "attention_distance.png")))
        result = {"mean_distance_per_layer": [float(np.mean(h)) for h in dist],
                  "mean_distance_per_head": dist, "images": len(imgs)}  # fmt: skip
        if self.data.name == "fashion_mnist":  # objects on an empty black background
            unit = _to_unit_range(self.data, imgs)
            result.update(attention_on_object(maps, unit, self.model.patch_size))
        return result

    def robustness(self) -> dict[str, object]:
        from maeid.evaluate.robustness import corruption_accuracy

        self.probe()
        d = self.data
        n = min(self.opts.robust_images, len(d.test_images))
        return corruption_accuracy(
            lambda x: frozen_features(self.model, x, self.opts.pool), self.head,
            _to_unit_range(d, d.test_images[:n]), d.test_labels[:n], d.mean, d.std,
            seed=self.opts.seed, progress=self.opts.progress,
        )  # fmt: skip

    def identify(self) -> dict[str, object]:
        from maeid.evaluate.practical import practical_identifiability

        d = self.data
        untrained = untrained_copy(self.model, self.opts.seed)  # the floor
        return practical_identifiability(self.model, d.source_model, d.test_images, d.latents,
                                         self.ratio, seed=self.opts.seed,
                                         untrained=untrained)  # fmt: skip

    def symbols(self) -> dict[str, object]:
        from maeid.evaluate.probe import ProbeConfig
        from maeid.evaluate.symbols import evaluate_symbols

        d, model = self.data, self.model
        # A training split from a sampling seed apart from the training run's and the test's.
        train = d.source_model.sample(self.opts.max_train, seed=self.opts.seed + 7919)
        norm = _normalizer(d.mean, d.std)
        untrained = untrained_copy(model, self.opts.seed)  # the floor
        result = evaluate_symbols(
            model, d.source_model, norm(torch.from_numpy(train.images)), train.latents,
            d.test_images, d.latents, d.mean, d.std, self.ratio, untrained=untrained,
            config=ProbeConfig(self.opts.probe_epochs, seed=self.opts.seed), seed=self.opts.seed,
            pools=(self.opts.pool,),
        )  # fmt: skip
        if not model.norm_pix_loss and not model.boundary_exclude:
            from maeid.evaluate.excess import masked_loss_excess

            result["masked_loss"] = masked_loss_excess(
                model, d.source_model, d.test_images, d.mean, d.std, self.ratio, self.opts.seed
            )
        return result

    def _rhm_train(self, n: int):
        """`n` training images and their latents, from a sampling seed apart from the
        training run's and the test's (the `symbols` split's)."""
        d = self.data
        train = d.source_model.sample(n, seed=self.opts.seed + 7919)
        return _normalizer(d.mean, d.std)(torch.from_numpy(train.images)), train.latents

    def information(self) -> dict[str, object]:
        from maeid.evaluate.information_probes import evaluate_information
        from maeid.evaluate.probe import ProbeConfig

        d, o = self.data, self.opts
        images, latents = self._rhm_train(o.max_train)
        return evaluate_information(
            self.model, d.source_model, images, latents, d.test_images, d.latents, d.mean,
            d.std, self.ratio, untrained_copy(self.model, o.seed),
            ProbeConfig(o.probe_epochs, seed=o.seed), seed=o.seed, pool=o.pool,
        )  # fmt: skip

    def class_probe(self) -> dict[str, object]:
        from maeid.evaluate.class_probe import MLPProbeConfig, check_budgets, evaluate_class_probe

        d, o = self.data, self.opts
        budgets = check_budgets(o.class_budgets)
        images, latents = self._rhm_train(max(budgets))
        return evaluate_class_probe(
            self.model, d.source_model, images, latents, d.test_images, d.latents, d.mean,
            d.std, self.ratio, untrained_copy(self.model, o.seed), budgets,
            MLPProbeConfig(seed=o.seed), seed=o.seed, pool=o.pool,
        )  # fmt: skip

    def shape_bias(self) -> dict[str, float]:
        from maeid.evaluate.texture_measures import shape_bias_metrics

        untrained = untrained_copy(self.model, self.opts.seed)  # the floor
        return shape_bias_metrics(self.model, self.data.source_model, self.data.mean,
                                  self.data.std, untrained, **self._texture_sizes())  # fmt: skip

    def rendition(self) -> dict[str, float]:
        from maeid.evaluate.texture_measures import rendition_metrics

        return rendition_metrics(self.model, self.data.source_model, self.data.mean,
                                 self.data.std, **self._texture_sizes())  # fmt: skip

    def _texture_sizes(self) -> dict[str, object]:
        o = self.opts
        return {"pool": o.pool, "train": o.max_train, "test": o.max_test, "seed": o.seed,
                "probe_epochs": o.probe_epochs}  # fmt: skip


def _to_unit_range(data: EvalData, images: torch.Tensor) -> torch.Tensor:
    """Back to pixel values in [0, 1], where corruptions are defined (labelled data is
    Fashion-MNIST, which lives there)."""
    from maeid.data.transforms import denormalize

    return denormalize(images, data.mean, data.std).clamp(0.0, 1.0)
