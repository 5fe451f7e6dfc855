"""The measurements a sweep point can run after training, by name.

Each takes the trained model, its resolved training config, the run folder and its own
options, and returns `(metrics, artefacts)`: nested dicts of numbers (names as
`maeid.experiments.report` reads them) and PNG/JSON paths.

- `identifiability` (synthetic data): the practical regime of design.md. The encoder's
  mean-pooled features, on the visible tokens of masks drawn by the training sampler at
  the run's (ratio, unit), and on the full image; R² per latent level on held-out samples
  (kernel ridge). Beside it the theory's prediction for the same sampler: per latent, 1
  inside S(m) and otherwise the ceiling that S(m)'s true values reach, averaged over
  `pred_masks` masks; and P(level in S(m)) from a Monte Carlo profile.
- `probe`, `knn`, `robustness`, `reconstruction`, `attention`, `tsne` (labelled image data
  such as Fashion-MNIST): the paper's real-image measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maeid.train.config import TrainConfig

Metrics = dict[str, Any]
Artefacts = dict[str, str]
Evaluation = Callable[[nn.Module, TrainConfig, Path, Mapping[str, Any]], tuple[Metrics, Artefacts]]

HELD_OUT_SEED_OFFSET = 1_000_003  # held-out synthetic samples never overlap training ones


@torch.no_grad()
def _features(model: nn.Module, images: torch.Tensor, mask: torch.Tensor | None, batch=512):
    """Mean-pooled encoder features, in batches (masks row-aligned with images)."""
    out = []
    for start in range(0, len(images), batch):
        part = None if mask is None else mask[start : start + batch]
        out.append(model.encode(images[start : start + batch], mask=part).mean)
    return torch.cat(out).float().cpu().numpy()


def identifiability(
    model: nn.Module, cfg: TrainConfig, run_dir: Path, options: Mapping[str, Any]
) -> tuple[Metrics, Artefacts]:
    """Measured and predicted R² per latent level (see the module docstring)."""
    from maeid.data import load_synthetic
    from maeid.evaluate.identifiability import predicted_r2, summarise_r2
    from maeid.evaluate.regression import RegressorConfig, latent_r2
    from maeid.theory import identify_token_mask, sample_masks, theory_profile

    if cfg.data.source != "synthetic":
        raise ValueError(
            f"identifiability needs synthetic data with known latents, not data.source="
            f"{cfg.data.source!r}; drop it from `evaluate` or use probe/knn/robustness"
        )
    n = int(options.get("samples", 2000))
    pred_masks = int(options.get("pred_masks", 8))
    seed = cfg.data.seed + HELD_OUT_SEED_OFFSET
    held_out = load_synthetic(
        cfg.data.model, n, seed, cfg.data.model_seed, tuple(cfg.data.mean), tuple(cfg.data.std)
    )
    spec = held_out.model.spec
    images = held_out.images.batch(torch.arange(n))
    regressor = RegressorConfig(
        n_landmarks=int(options.get("landmarks", 300)),
        max_train=int(options.get("max_train", 1500)),
        seed=cfg.run.seed,
    )
    gen = torch.Generator().manual_seed(seed)
    masks = sample_masks(n, model.layout, cfg.mask.ratio, gen).mask
    latents = held_out.latents
    measured = {
        "measured": latent_r2(_features(model, images, masks), latents, regressor),
        "measured_full": latent_r2(_features(model, images, None), latents, regressor),
    }
    # The theory's prediction, for masks from the very sampler the model trained with.
    per_mask = []
    for mask in masks[:pred_masks]:
        shared = identify_token_mask(spec, mask, model.patch_size).shared
        per_mask.append(predicted_r2(spec, shared, latents, regressor))
    predicted = {z: float(np.mean([p[z] for p in per_mask])) for z in spec.latents}
    profile = theory_profile(
        spec, [cfg.mask.ratio], [_unit_px(model)], num_masks=1000, seed=cfg.run.seed,
        patch_size=model.patch_size,
    )  # fmt: skip
    cell = profile.cells[0]
    metrics: Metrics = {
        name: _per_level(spec, summarise_r2(spec, r2)["per_level"])
        for name, r2 in {"predicted": predicted, **measured}.items()
    }
    metrics["p_shared"] = {
        f"level_{lv}": float(p) for lv, p in zip(profile.levels, cell.p_level_shared, strict=True)
    }
    metrics["latent"] = {
        z: {"predicted": predicted[z], "measured": measured["measured"][z]} for z in spec.latents
    }
    return {"identifiability": metrics}, {}


def _per_level(spec, per_level: Mapping[int, float | None]) -> dict[str, float | None]:
    return {f"level_{lv}": per_level.get(lv) for lv in sorted(spec.levels)}


def _unit_px(model: nn.Module) -> int:
    return model.layout.unit * model.patch_size


EVALUATIONS: dict[str, Evaluation] = {
    "identifiability": identifiability,
}


def run_evaluations(
    names: Mapping[str, Mapping[str, Any]], model: nn.Module, cfg: TrainConfig, run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """Run the named evaluations in order; merged metrics and artefacts."""
    unknown = sorted(set(names) - set(EVALUATIONS))
    if unknown:
        raise ValueError(f"unknown evaluation(s) {unknown}; available: {sorted(EVALUATIONS)}")
    metrics: Metrics = {}
    artefacts: Artefacts = {}
    model.eval()
    for name, options in names.items():
        m, a = EVALUATIONS[name](model, cfg, run_dir, options or {})
        metrics.update(m)
        artefacts.update(a)
    return metrics, artefacts
