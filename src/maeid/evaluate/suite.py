"""`maeid evaluate`: every measurement of a checkpoint, one JSON of numbers plus figures.

Measurements (each optional):

- ``probe``: linear probe (BatchNorm without affine + linear) on frozen [CLS] or
  mean-pooled features of the full image; top-1 on the test split.
- ``knn``: cosine k-NN (k = 20, DINO's weighted vote) top-1 on the same features.
- ``tsne``: t-SNE of ten classes of test features (``tsne.png``).
- ``recon``: MSE, PSNR, SSIM, FSIM of reconstructions at the checkpoint's masking ratio,
  on masked patches and on the composed image, plus a grid (``reconstructions.png``).
- ``attention``: mean attention distance per layer and head, and last-layer [CLS]
  attention overlaid on test images (``attention_distance.png``, ``cls_attention.png``).
- ``robustness``: the clean-trained probe on corrupted test images, 5 severities each.
- ``identify``: synthetic data only, the practical regime: R² per latent level of the
  masked and the full-image representation beside the theory's profile.

Labelled data (Fashion-MNIST) supports probe, knn, tsne and robustness; synthetic data
(with true latents) supports identify; every data set supports recon and attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from maeid.evaluate.artifacts import write_json

MEASURES = ("probe", "knn", "tsne", "recon", "attention", "robustness", "identify")
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

    @property
    def labelled(self) -> bool:
        return self.test_labels is not None and self.train_labels is not None


@dataclass(frozen=True)
class EvalOptions:
    pool: str = "cls"  # features for probe / kNN / t-SNE: cls | mean
    max_train: int = 10000
    max_test: int = 2000
    recon_images: int = 256
    robust_images: int = 1000
    probe_epochs: int = 30
    seed: int = 0
    progress: bool = True


def default_measures(data: EvalData) -> list[str]:
    if data.labelled:
        return ["probe", "knn", "tsne", "recon", "attention", "robustness"]
    return ["recon", "attention"] + (["identify"] if data.latents else [])


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
    if pool not in ("cls", "mean"):
        raise ValueError(f"--pool {pool!r}: use cls or mean")
    return torch.cat([getattr(model.encode(b), pool).float().cpu() for b in images.split(batch)])


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
    out = Path(out_dir)
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
    model.eval()
    ratio = float(cfg.mask.ratio)
    result: dict[str, object] = {
        "checkpoint": checkpoint,
        "data": data.name,
        "mask_ratio": ratio,
        "mask_unit": int(model.mask_unit),
        "patch_size": int(model.patch_size),
        "options": opts.__dict__,
        "figures": [],
    }
    figures: list[str] = result["figures"]  # type: ignore[assignment]
    bar = tqdm(measures, disable=not opts.progress, desc="evaluate")
    feats: dict[str, torch.Tensor] = {}
    head = None
    for name in bar:
        bar.set_postfix(measure=name)
        if name in ("probe", "knn", "tsne", "robustness") and not feats:
            feats = {
                "train": frozen_features(model, data.train_images, opts.pool),
                "test": frozen_features(model, data.test_images, opts.pool),
            }
        if name in ("probe", "robustness") and head is None:
            from maeid.evaluate.probe import ProbeConfig, linear_probe

            acc, head = linear_probe(
                feats["train"],
                data.train_labels,
                feats["test"],
                data.test_labels,
                ProbeConfig(opts.probe_epochs, seed=opts.seed),
            )
            result["probe"] = {
                "top1": acc,
                "pool": opts.pool,
                "optimizer": "AdamW",
                "epochs": opts.probe_epochs,
                "train": len(feats["train"]),
                "test": len(feats["test"]),
            }
        if name == "knn":
            from maeid.evaluate.knn import knn_top1

            result["knn"] = {
                "top1": knn_top1(
                    feats["train"], data.train_labels, feats["test"], data.test_labels
                ),
                "k": 20,
                "pool": opts.pool,
            }
        elif name == "tsne":
            from maeid.evaluate.tsne import plot_tsne, tsne_embedding

            emb, labels = tsne_embedding(
                feats["test"].numpy(), data.test_labels.numpy(), seed=opts.seed
            )
            figures.append(
                str(
                    plot_tsne(
                        emb,
                        labels,
                        out / "tsne.png",
                        data.class_names,
                        f"t-SNE of {opts.pool} features, {data.name} test",
                    )
                )
            )
        elif name == "recon":
            result["recon"] = _recon(model, data, ratio, opts, out, figures)
        elif name == "attention":
            result["attention"] = _attention(model, data, opts, out, figures)
        elif name == "robustness":
            from maeid.evaluate.robustness import corruption_accuracy

            n = min(opts.robust_images, len(data.test_images))
            images01 = _to_unit_range(data, data.test_images[:n])
            result["robustness"] = corruption_accuracy(
                lambda x: frozen_features(model, x, opts.pool),
                head,
                images01,
                data.test_labels[:n],
                data.mean,
                data.std,
                seed=opts.seed,
                progress=opts.progress,
            )
        elif name == "identify":
            from maeid.evaluate.practical import practical_identifiability

            result["identify"] = practical_identifiability(
                model, data.spec, data.test_images, data.latents, ratio, seed=opts.seed
            )
    write_json(out / "eval.json", result)
    return result


def _to_unit_range(data: EvalData, images: torch.Tensor) -> torch.Tensor:
    from maeid.data.transforms import denormalize

    return denormalize(images, data.mean, data.std).clamp(0.0, 1.0)


def _recon(model, data: EvalData, ratio, opts: EvalOptions, out: Path, figures) -> dict:
    from maeid.evaluate.reconstruction import reconstruction_panels, reconstruction_quality
    from maeid.train.recon import save_reconstruction_grid

    imgs = data.test_images[: opts.recon_images]
    quality = reconstruction_quality(
        model, imgs, data.mean, data.std, ratio, data.data_range, opts.seed
    )
    panels, _ = reconstruction_panels(model, imgs[:8], ratio, opts.seed)
    fig = save_reconstruction_grid(
        panels,
        out / "reconstructions.png",
        data.mean,
        data.std,
        f"{data.name}, mask ratio {ratio}, unit {model.mask_unit}px",
        model.norm_pix_loss,
    )
    from maeid.evaluate.artifacts import plt

    plt.close(fig)
    figures.append(str(out / "reconstructions.png"))
    return quality


def _attention(model, data: EvalData, opts: EvalOptions, out: Path, figures) -> dict:
    from maeid.data.transforms import denormalize
    from maeid.evaluate.attention import (
        cls_attention_maps,
        mean_attention_distance,
        plot_attention_distance,
        plot_cls_attention,
    )

    imgs = data.test_images[: min(256, len(data.test_images))]
    dist = mean_attention_distance(model, imgs)
    maps = cls_attention_maps(model, imgs[:8]).numpy()
    shown = denormalize(imgs[:8].float(), data.mean, data.std).numpy()
    figures.append(str(plot_cls_attention(shown, maps, out / "cls_attention.png")))
    figures.append(str(plot_attention_distance(dist, out / "attention_distance.png")))
    return {
        "mean_distance_per_layer": [float(np.mean(h)) for h in dist],
        "mean_distance_per_head": dist,
        "images": len(imgs),
    }
