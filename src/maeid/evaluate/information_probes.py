"""Information per level of rhm32 read by linear probes, as a share of what is there to read.

Accuracy saturates: on rhm32 an untrained encoder's tokens and the raw pixels already read
the level-1 symbols at 0.88-0.90, so accuracy leaves a trained encoder little room to
show anything. Cross-entropy does not saturate, and belief propagation gives its exact
limit. Per level k (0 = the class .. L = the leaves) and view:

- `ce`: each reader's linear-probe held-out cross-entropy, in nats per symbol (the mean
  over the level's latents of -log p_probe(true symbol)). A probe's cross-entropy is an
  upper bound on H(symbol | features) whatever the probe, and an overconfident probe
  inflates it, so each latent's logits are divided by one temperature fitted on a
  held-out fifth of the probe's training split (the probe trains on the rest);
- `bayes_ce`: H_Bayes, the exact posterior's cross-entropy on the true symbols, what a
  perfect probe of the view reaches (`true_symbol_log_loss`; its mean estimates
  H(symbol | view));
- `gain_share` = G = (CE_floor - CE_reader) / (CE_floor - H_Bayes), the share of the
  floor-to-Bayes gap a reader closes; the floor is the encoder at initialisation on the
  same view. G = 1: the reader holds all the view says of the level; 0: no more than the
  floor. Given for the trained encoder and for the pixels;
- `gap_se`: the floor-to-Bayes gap in standard errors of CE_floor over test images (the
  spread of the floor's per-image losses, as the pre-registration states the rule); G is
  readable only where it is at least
  `maeid.evaluate.rules_share.READABLE_SE`, since below that the floor is not separated
  from the limit and G divides by noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.symbols import POOLS, multi_probe_posteriors, symbol_table
from maeid.evaluate.view_features import VIEWS, model_pixels, view_features
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.theory.belief_propagation import tree_posterior, true_symbol_log_loss

CALIBRATION_SHARE = 0.2  # of the probe's training split, held out to fit its temperatures
TEMPERATURES = np.geomspace(0.05, 20.0, 73)  # the grid a latent's temperature is chosen from
FLOOR = "untrained"
_LOG_TINY = -700.0  # log of a probability float64 rounds to 0


@dataclass(frozen=True)
class GapShare:
    """G of one reader at one level: `value` (NaN where the floor is not above the limit),
    the floor-to-Bayes `gap` in nats, that gap in standard errors (`gap_se`), and the
    standard error of `value` over test images (`value_se`, the delta method for a ratio
    of two means taken on the same images)."""

    value: float
    gap: float
    gap_se: float
    value_se: float


def gap_share(reader: np.ndarray, floor: np.ndarray, bayes: np.ndarray) -> GapShare:
    """G = (CE_floor - CE_reader) / (CE_floor - H_Bayes) from per-image losses (N,) of the
    reader, the floor and the exact posterior on the same test images."""
    reader, floor, bayes = (np.asarray(a, dtype=np.float64) for a in (reader, floor, bayes))
    if not reader.shape == floor.shape == bayes.shape or reader.ndim != 1 or len(reader) < 2:
        raise ValueError(
            f"losses of shapes {reader.shape}, {floor.shape}, {bayes.shape}: give one loss "
            "per test image (N,), N >= 2, the same images for the reader, floor and Bayes"
        )
    gap = float(floor.mean() - bayes.mean())
    se = float(floor.std(ddof=1) / math.sqrt(len(floor)))  # the standard error of CE_floor
    gap_se = gap / se if se > 0 else (math.inf if gap > 0 else 0.0)
    value = (float(floor.mean()) - float(reader.mean())) / gap if gap > 0 else math.nan
    # G = mean(floor - reader) / mean(floor - bayes): per image, the residual of the
    # numerator against G times the denominator carries the ratio's whole variance.
    residual = (floor - reader) - value * (floor - bayes)
    value_se = float(residual.std(ddof=1) / math.sqrt(len(floor))) / gap if gap > 0 else math.nan
    return GapShare(value, gap, gap_se, value_se)


def calibrated_log_posteriors(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, num_classes: int,
    config: ProbeConfig | None = None,
) -> torch.Tensor:  # fmt: skip
    """(N_test, Z, num_classes) log-posteriors of one linear probe per column of `train_y`,
    each latent's logits divided by the temperature that minimises its cross-entropy on
    the last `CALIBRATION_SHARE` of the training rows (which the probe does not train on)."""
    x, y = torch.as_tensor(train_x).float(), torch.as_tensor(train_y).long()
    n_cal = int(round(CALIBRATION_SHARE * len(x)))
    if n_cal < 1 or len(x) - n_cal < 2:
        raise ValueError(
            f"{len(x)} probe training samples: need at least {math.ceil(3 / CALIBRATION_SHARE)} "
            f"(the probe trains on {1 - CALIBRATION_SHARE:.0%}, its temperatures are fitted "
            "on the rest)"
        )
    fit, cal = slice(0, len(x) - n_cal), slice(len(x) - n_cal, len(x))
    queries = torch.cat([x[cal], torch.as_tensor(test_x).float()])
    probs = multi_probe_posteriors(x[fit], y[fit], queries, num_classes, config)
    logp = probs.clamp_min(math.exp(_LOG_TINY)).log()  # (N_cal + N_test, Z, C), float64
    cal_logp, test_logp = logp[:n_cal], logp[n_cal:]
    best = _temperatures(cal_logp, y[cal])
    return torch.log_softmax(test_logp / best[None, :, None], -1)


def _temperatures(logp: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(Z,) per latent, the grid temperature with the lowest cross-entropy on (logp, truth)."""
    losses = []
    for t in TEMPERATURES:
        scaled = torch.log_softmax(logp / float(t), -1)
        losses.append(-scaled.gather(-1, truth[..., None]).squeeze(-1).mean(0))
    best = torch.stack(losses).argmin(0)  # (Z,)
    return torch.as_tensor(TEMPERATURES, dtype=logp.dtype)[best]


def level_log_loss(
    model: RandomHierarchy, log_probs: torch.Tensor, truth: np.ndarray
) -> np.ndarray:
    """(N, levels + 1): per image, the mean over each level's latents of -log p(true
    symbol), from (N, Z, C) log-probabilities in `model.spec.latents` order."""
    truth_t = torch.as_tensor(np.asarray(truth)).long()
    picked = log_probs.gather(-1, truth_t[..., None]).squeeze(-1).double().numpy()
    level = np.array([model.spec[z].level for z in model.spec.latents])
    return np.stack([-picked[:, level == lv].mean(1) for lv in range(model.knobs.levels + 1)], 1)


def information_per_level(
    model: RandomHierarchy, readers: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    train_y: np.ndarray, test_y: np.ndarray, bayes_loss: np.ndarray,
    config: ProbeConfig | None = None, floor: str = FLOOR,
) -> dict[str, dict]:  # fmt: skip
    """Per level, each reader's probe cross-entropy (`ce`), H_Bayes (`bayes_ce`), the G of
    every reader but the floor (`gain_share`, its standard error over test images in
    `gain_share_se`) and the gap in standard errors (`gap_se`).

    `readers` maps a name to (train features, test features); `bayes_loss` (N_test,
    levels + 1) is the exact posterior's per-image loss (`true_symbol_log_loss`, stacked).
    """
    if floor not in readers:
        raise ValueError(f"readers {sorted(readers)} lack the floor {floor!r}: G starts from it")
    bayes_loss = np.asarray(bayes_loss, dtype=np.float64)
    levels = model.knobs.levels + 1
    if bayes_loss.shape != (len(test_y), levels):
        raise ValueError(f"bayes_loss has shape {bayes_loss.shape}; expected ({len(test_y)}, "
                         f"{levels}): one loss per test image and level")  # fmt: skip
    classes = max(model.knobs.n_classes, model.knobs.v)
    ty = torch.from_numpy(np.asarray(train_y))
    losses = {
        name: level_log_loss(model, calibrated_log_posteriors(tr, ty, te, classes, config), test_y)
        for name, (tr, te) in readers.items()
    }
    out: dict[str, dict] = {
        "ce": {name: _by_level(loss.mean(0)) for name, loss in losses.items()},
        "bayes_ce": _by_level(bayes_loss.mean(0)),
        "gain_share": {},
        "gain_share_se": {},
        "gap_se": {},
    }
    base = losses[floor]
    for name, loss in losses.items():
        if name != floor:
            shares = [gap_share(loss[:, k], base[:, k], bayes_loss[:, k]) for k in range(levels)]
            out["gain_share"][name] = {k: share.value for k, share in enumerate(shares)}
            out["gain_share_se"][name] = {k: share.value_se for k, share in enumerate(shares)}
    out["gap_se"] = {k: gap_share(base[:, k], base[:, k], bayes_loss[:, k]).gap_se
                     for k in range(levels)}  # fmt: skip
    return out


def evaluate_information(
    encoder: nn.Module, model: RandomHierarchy,
    train_images: torch.Tensor, train_latents: Mapping[str, np.ndarray],
    test_images: torch.Tensor, test_latents: Mapping[str, np.ndarray],
    mean: Sequence[float], std: Sequence[float], ratio: float, untrained: nn.Module,
    config: ProbeConfig | None = None, seed: int = 0, pool: str = "tokens",
    views: Sequence[str] = VIEWS,
) -> dict[str, object]:  # fmt: skip
    """`information_per_level` of the trained encoder, the same architecture at
    initialisation (`untrained`, the floor) and the pixels, per view in `views`, with
    H_Bayes from belief propagation on the same view of the same test images. Images are
    standardised as the encoder was trained (`mean`, `std` undo it for BP)."""
    if pool not in POOLS:
        raise ValueError(f"pool {pool!r}: use one of {', '.join(POOLS)}")
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ValueError(f"views={list(views)}: give one or more of {', '.join(VIEWS)}")
    train_y, test_y = symbol_table(model, train_latents), symbol_table(model, test_latents)
    raw = model_pixels(test_images, mean, std)
    truth = model.symbol_grids(test_latents)
    out: dict[str, object] = {"ratio": ratio, "pool": pool, "train": len(train_y),
                              "test": len(test_y)}  # fmt: skip
    encoders = {"trained": encoder, FLOOR: untrained}
    for view in views:
        feats = view_features(encoders, train_images, test_images, view, ratio, pool, seed)
        bayes = np.stack(true_symbol_log_loss(tree_posterior(model, raw, feats.seen), truth), 1)
        out[view] = information_per_level(model, feats.readers, train_y, test_y, bayes, config)
    return out


def _by_level(values: np.ndarray) -> dict[int, float]:
    return {k: float(v) for k, v in enumerate(values)}


def format_information(result: Mapping[str, object]) -> str:
    """Plain-text table of `evaluate_information`: per view and level, the probes'
    cross-entropy (trained / untrained / pixels), H_Bayes, G (trained / pixels) and the gap
    in standard errors."""
    lines = [f"  information per level (probe cross-entropy, nats; {result['pool']} readout)"]
    for view in VIEWS:
        if view not in result:
            continue
        res = result[view]
        lines.append(f"    {view:<16s} {'trained':>8s} {'untrained':>9s} {'pixels':>7s} "
                     f"{'H_Bayes':>7s} {'G':>6s} {'G pix':>6s} {'gap/SE':>7s}")  # fmt: skip
        for level, h in res["bayes_ce"].items():
            ce = [res["ce"][who][level] for who in ("trained", FLOOR, "pixels")]
            g = [res["gain_share"][who][level] for who in ("trained", "pixels")]
            lines.append(f"    level {level:<10} {ce[0]:8.3f} {ce[1]:9.3f} {ce[2]:7.3f} {h:7.3f} "
                         f"{g[0]:6.2f} {g[1]:6.2f} {res['gap_se'][level]:7.1f}")  # fmt: skip
    return "\n".join(lines)
