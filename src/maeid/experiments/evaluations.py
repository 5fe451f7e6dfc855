"""The measurements a sweep point runs after training, by name, as report metrics.

A sweep's `evaluate` names any of:

- `identifiability` (synthetic data): the practical regime of design.md
  (`maeid.evaluate.practical`): R² per latent level from the mean-pooled encoder output
  and region-pooled encoder output on the visible tokens of masks from the training
  sampler, and on the full image, on held-out samples; beside the same encoder at
  initialisation (the floor), the theory's exact prediction and the exact limit given
  the visible side, for the same sampler. Options: `samples` (held-out samples, 2000),
  `landmarks` and `max_train` (the kernel ridge's size), `untrained_baseline` (measure
  the floor; true), `region_readout` (the per-latent region readout; true).
- `shape_bias`, `rendition` (rhm32): cue-conflict shape bias and rendition-shift accuracy
  beside their references (`maeid.experiments.texture_evaluations`).
- `probe`, `knn`, `tsne`, `reconstruction`, `attention`, `robustness` (the paper's
  real-image measurements, `maeid.evaluate.suite`). Options are `EvalOptions` fields
  (`max_train`, `max_test`, `probe_epochs`, `pool`, ...), shared by these measures.

`run_evaluations` returns `(metrics, artefacts)` under the names the report reads
(see `maeid.experiments.report`); everything the measures compute also lands in
`RUN_DIR/eval/eval.json`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from maeid.experiments.texture_evaluations import MEASURES as TEXTURE_MEASURES
from maeid.experiments.texture_evaluations import texture_evaluation
from maeid.train.config import TrainConfig

Metrics = dict[str, Any]
Artefacts = dict[str, str]

# Our names -> maeid.evaluate.suite's measure names.
SUITE_MEASURES = {
    "probe": "probe",
    "knn": "knn",
    "tsne": "tsne",
    "reconstruction": "recon",
    "attention": "attention",
    "robustness": "robustness",
}
EVALUATIONS = ("identifiability", *SUITE_MEASURES, *TEXTURE_MEASURES)
HELD_OUT_SEED_OFFSET = 1_000_003  # held-out synthetic samples never overlap training ones
# Figures of the suite that the report shows per run, by artefact name.
FIGURES = {
    "tsne.png": "tsne",
    "cls_attention.png": "attention",
    "reconstructions.png": "reconstructions",
}


def run_evaluations(
    requested: Mapping[str, Mapping[str, Any]], model: nn.Module, cfg: TrainConfig, run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """Run the requested evaluations on the trained `model`; merged metrics and artefacts."""
    unknown = sorted(set(requested) - set(EVALUATIONS))
    if unknown:
        raise ValueError(f"unknown evaluation(s) {unknown}; available: {list(EVALUATIONS)}")
    model.eval()
    metrics: Metrics = {}
    artefacts: Artefacts = {}
    with torch.no_grad():
        if "identifiability" in requested:
            metrics["identifiability"] = identifiability(
                model, cfg, requested["identifiability"] or {}
            )
        for name in TEXTURE_MEASURES:
            if name in requested:
                metrics[name] = texture_evaluation(name, model, cfg, requested[name] or {})
        suite = {k: v for k, v in requested.items() if k in SUITE_MEASURES}
        if suite:
            m, a = _suite(model, cfg, run_dir / "eval", suite)
            metrics.update(m)
            artefacts.update(a)
    return metrics, artefacts


def identifiability(model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any]) -> Metrics:
    """Predicted and measured R² per latent level, P(level in S) and P(level in c)."""
    from maeid.data import load_synthetic
    from maeid.evaluate.practical import practical_identifiability
    from maeid.evaluate.regression import RegressorConfig

    if cfg.data.source != "synthetic":
        raise ValueError(
            f"identifiability needs synthetic data with known latents, not data.source="
            f"{cfg.data.source!r}; drop it from `evaluate` or use probe/knn/robustness"
        )
    n = int(options.get("samples", 2000))
    held_out = load_synthetic(
        cfg.data.model,
        n,
        cfg.data.seed + HELD_OUT_SEED_OFFSET,
        cfg.data.model_seed,
        tuple(cfg.data.mean) or None,
        tuple(cfg.data.std) or None,
    )
    regressor = RegressorConfig(
        n_landmarks=int(options.get("landmarks", 1000)),
        max_train=int(options.get("max_train", 8000)),
        seed=cfg.run.seed,
    )
    untrained = None
    if options.get("untrained_baseline", True):
        torch.manual_seed(cfg.run.seed)  # the training run's initialisation
        untrained = type(model)(**model.config).eval()
    result = practical_identifiability(
        model,
        held_out.model,
        held_out.images.batch(torch.arange(n)),
        held_out.latents,
        cfg.mask.ratio,
        regressor,
        seed=cfg.run.seed,
        untrained=untrained,
        region=bool(options.get("region_readout", True)),
    )
    names = {
        "predicted": "predicted",
        "limit_visible": "limit_visible",
        "measured": "measured_visible_tokens",
        "measured_full": "measured_full_image",
        "measured_region": "measured_visible_tokens_region",
        "measured_region_full": "measured_full_image_region",
        "untrained": "measured_untrained_visible_tokens",
        "untrained_full": "measured_untrained_full_image",
        "p_shared": "p_in_S",
        "p_identified": "p_in_c",
    }
    per_level = result["per_level"]
    return {
        ours: {f"level_{lv}": per_level[lv][theirs] for lv in sorted(per_level)}
        for ours, theirs in names.items()
        if theirs in per_level[min(per_level)]
    }


def _suite(
    model: nn.Module, cfg: TrainConfig, out: Path, requested: Mapping[str, Mapping[str, Any]]
) -> tuple[Metrics, Artefacts]:
    from maeid.evaluate.suite import EvalOptions, evaluate_checkpoint, load_eval_data

    merged: dict[str, Any] = {}
    for options in requested.values():
        merged.update(options or {})
    source = merged.pop("data", cfg.data.source)
    fields = set(EvalOptions.__dataclass_fields__)
    unknown = sorted(set(merged) - fields)
    if unknown:
        raise ValueError(f"unknown evaluation option(s) {unknown}; known: {sorted(fields)}")
    opts = EvalOptions(**{"progress": False, "seed": cfg.run.seed, **merged})
    data = load_eval_data(source, cfg, model, opts)
    measures = [SUITE_MEASURES[name] for name in requested]
    result = evaluate_checkpoint(model, cfg, data, measures, out, opts)
    metrics: Metrics = {}
    if "probe" in result:
        metrics.setdefault("probe", {})["linear_top1"] = result["probe"]["top1"]
    if "knn" in result:
        metrics.setdefault("probe", {})["knn_top1"] = result["knn"]["top1"]
    if "robustness" in result:
        metrics["robustness"] = {
            "mean_top1": result["robustness"]["mean"],
            "clean_top1": result["robustness"]["clean"],
        }
    if "recon" in result:
        # {"masked": {mse, psnr, ssim, fsim}, "composed": ...}, and the plateau below
        metrics["recon"] = copy.deepcopy(result["recon"])
        metrics["recon"]["masked"]["mean_predictor_mse"] = mean_predictor_mse(
            data.test_images[: opts.recon_images], data.std
        )
    if "attention" in result:
        distances = result["attention"]["mean_distance_per_layer"]
        metrics["attention"] = {"mean_distance_last_layer": distances[-1]}
        for key in ("cls_attention_on_object", "object_area"):
            if key in result["attention"]:
                metrics["attention"][key] = result["attention"][key]
    artefacts = {"eval_json": str(out / "eval.json")}
    for figure in result["figures"]:
        name = FIGURES.get(Path(figure).name)
        if name:
            artefacts[name] = figure
    return metrics, artefacts


def mean_predictor_mse(images: torch.Tensor, std: tuple[float, ...]) -> float:
    """MSE, in the data's own units (those of `recon.*.mse`), of predicting every pixel by
    the training set's per-channel mean: the plateau a reconstruction must get below.

    `images` are normalised by the training set's mean and std, so the mean is 0 there
    and a pixel's error is its normalised value times its channel's std. Masks are
    uniform over the image, so all pixels estimate the masked ones without bias.
    """
    scale = torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
    return float(((images.double() * scale) ** 2).mean())
