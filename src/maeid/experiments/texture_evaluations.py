"""The sweep's `shape_bias` and `rendition` evaluations (rhm32 only), from a run's config.

Options (all optional): `train` (cue-consistent or clean training images for the probes,
4000), `test` (held-out images per view, 1000), `pool` (`mean`, `cls` or `tokens`, default `mean`),
`probe_epochs` (30), `untrained_baseline` (shape bias of the encoder at initialisation,
true). The images are standardised with the run's `data.mean`/`data.std`, or with the
statistics of a clean sample of the model when the run left them to training. Metrics are
those of `maeid.evaluate.texture_measures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from maeid.evaluate.texture_measures import MEASURES
from maeid.mae.model import untrained_copy
from maeid.train.config import TrainConfig

OPTIONS = {"train", "test", "pool", "probe_epochs", "untrained_baseline"}


def texture_evaluation(
    name: str, model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any]
) -> dict[str, float]:
    """Run the evaluation `name` (`shape_bias` or `rendition`) on the trained `model`."""
    from maeid.data.synthetic import cached_model, channel_stats
    from maeid.evaluate.texture_measures import rendition_metrics, shape_bias_metrics

    if name not in MEASURES:
        raise ValueError(f"unknown texture evaluation {name!r}; available: {list(MEASURES)}")
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ValueError(f"unknown {name} option(s) {unknown}; known: {sorted(OPTIONS)}")
    if cfg.data.source != "synthetic":
        raise ValueError(f"{name} needs the rhm32 model, not data.source={cfg.data.source!r}")
    hlvm_model = cached_model(str(cfg.data.model), cfg.data.model_seed)
    mean, std = tuple(cfg.data.mean), tuple(cfg.data.std)
    if not mean or not std:  # training standardised by its own sample's statistics
        mean, std = channel_stats(hlvm_model.sample(4000, seed=cfg.data.seed).images)
    sizes = {
        "train": int(options.get("train", 4000)),
        "test": int(options.get("test", 1000)),
        "pool": str(options.get("pool", "mean")),
        "seed": cfg.run.seed,
        "probe_epochs": int(options.get("probe_epochs", 30)),
    }
    if name == "rendition":
        return rendition_metrics(model, hlvm_model, mean, std, **sizes)
    untrained = None
    if options.get("untrained_baseline", True):
        untrained = untrained_copy(model, cfg.run.seed)  # the run's initialisation
    return shape_bias_metrics(model, hlvm_model, mean, std, untrained, **sizes)
