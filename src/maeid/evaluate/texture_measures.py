"""Shape bias and rendition robustness of a trained MAE on rhm32, as flat metrics.

The measures `shape_bias` and `rendition` (`maeid.measures.texture`) call these, on a
frozen encoder's full-image features
(`maeid.evaluate.feature_readers`):

- `shape_bias_metrics`: `{"trained", "untrained", "pixels", "bayes"}` are the shape biases
  of probes on the trained encoder, the same encoder at initialisation, the raw pixels,
  and of the Bayes classifier that ignores the signature (`maeid.evaluate.cue_conflict`);
  `rules_<reader>` is the shape bias of the class read through the root's rules from the
  reader's level-1 probes (the tree's own route to the class); `clean_<name>` is each
  one's accuracy on cue-consistent images;
- `rendition_metrics`: the trained encoder's probe accuracy `clean` and `<kind>_<severity>`
  under each shift, `rules_clean` and `rules_<kind>_<severity>` for the class through the
  rules of its level-1 probes, beside the same two readouts of the raw pixels
  (`pixels_*`, `rules_pixels_*`: the floor) and `bayes_clean` and `bayes_<kind>_<severity>`,
  the ideal observer's (`maeid.evaluate.rendition`).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from maeid.evaluate.cue_conflict import measure_shape_bias
from maeid.evaluate.feature_readers import encoder_reader
from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.rendition import rendition_accuracy
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm


def _check(model: object, name: str) -> None:
    if not is_rhm(model):
        raise ValueError(
            f"{name} needs the rhm32 model (its trees and texture signatures are known); "
            f"the data are {getattr(model, 'name', model)!r}: train on data.model rhm32"
        )


def shape_bias_metrics(
    mae: nn.Module, model: RandomHierarchy, mean: Sequence[float], std: Sequence[float],
    untrained: nn.Module | None = None, pool: str = "mean", train: int = 4000,
    test: int = 1000, seed: int = 0, probe_epochs: int = 30,
) -> dict[str, float]:  # fmt: skip
    """Shape bias of the trained (and untrained) encoder beside the pixel and Bayes ones."""
    _check(model, "shape_bias")
    readers = {"trained": encoder_reader(mae, mean, std, pool)}
    if untrained is not None:
        readers["untrained"] = encoder_reader(untrained, mean, std, pool)
    config = ProbeConfig(probe_epochs, seed=seed)
    result = measure_shape_bias(model, readers, train, test, seed, config)
    metrics = {name: r.shape_bias for name, r in result.items()}
    metrics.update({f"clean_{name}": r.clean_accuracy for name, r in result.items()})
    return metrics


def rendition_metrics(
    mae: nn.Module, model: RandomHierarchy, mean: Sequence[float], std: Sequence[float],
    pool: str = "mean", train: int = 4000, test: int = 1000, seed: int = 0,
    probe_epochs: int = 30,
) -> dict[str, float]:  # fmt: skip
    """The trained encoder's probe accuracy per shift beside the pixels' and the ideal
    observer's."""
    _check(model, "rendition")
    config = ProbeConfig(probe_epochs, seed=seed)
    readers = {"trained": encoder_reader(mae, mean, std, pool)}
    result = rendition_accuracy(model, readers, train, test, seed=seed, config=config)
    metrics = dict(result["trained"])
    prefixes = {"rules_trained": "rules_", "pixels": "pixels_", "rules_pixels": "rules_pixels_",
                "bayes": "bayes_"}  # fmt: skip
    for reader, prefix in prefixes.items():
        metrics.update({f"{prefix}{view}": acc for view, acc in result[reader].items()})
    return metrics
