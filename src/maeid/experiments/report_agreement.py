"""Does a sweep follow the theory? Training quality per run, then rank agreement per level.

Two steps, in this order, because a model is held against the theory only once trained:

1. *Training quality*: each run's held-out masked loss against the exact Bayes loss,
   as the normalised excess (`maeid.train.quality`); a run above `TRAINED_EXCESS` is
   under-trained.
2. *Agreement per latent level*, over the trained runs: Spearman's rho between the
   theory's prediction for the run's (ratio, unit) and what training added (measured
   minus the untrained floor, visible tokens), with a bootstrap 95 % interval over seeds.
   Verdict: *agrees* when the interval lies above 0; *disagrees* when it does not (no
   positive rank agreement); *untestable* when fewer than three runs are trained, or the
   prediction takes fewer than `MIN_DISTINCT` distinct values over them (two values are
   one comparison, which any quantity that differs between the two cells passes or
   fails alike: no rank statistic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from maeid.evaluate.intervals import Interval, spearman_interval
from maeid.train.quality import TRAINED_EXCESS, under_trained

EXCESS = "train.normalised_excess"
MIN_DISTINCT = 3  # distinct values of the theory quantity a rank statistic needs


def trained_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of trained runs: normalised excess within `TRAINED_EXCESS`."""
    return [r for r in rows if not under_trained(r.get(EXCESS))]


def training_quality_section(rows: Sequence[dict[str, Any]]) -> str | None:
    """Markdown: per run, held-out loss, Bayes loss, plateau, normalised excess, label."""
    measured = [r for r in rows if r.get(EXCESS) is not None]
    if not measured:
        return None
    lines = [
        "## Training quality: distance to the Bayes loss",
        "",
        "Held-out masked loss of each trained model beside the exact Bayes-optimal loss of "
        "the same mask sampler and the loss of predicting the mean (the plateau), as the "
        "normalised excess (loss - Bayes) / (plateau - Bayes): 0 is Bayes-optimal, 1 is the "
        f"plateau. A run above {TRAINED_EXCESS} is under-trained and is not held against "
        "the theory.",
        "",
        "| run | ratio | unit | seed | held-out loss | Bayes loss | plateau | excess | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(measured, key=lambda r: (r.get("mask_ratio", 0), r.get("mask_unit", 0))):
        label = "under-trained" if under_trained(r[EXCESS]) else "trained"
        lines.append(
            f"| {r['id']} | {r.get('mask_ratio', '–')} | {r.get('mask_unit', '–')} | "
            f"{r.get('seed', '–')} | {r['train.heldout_loss']:.3f} | {r['train.bayes_loss']:.3f} "
            f"| {r['train.plateau_loss']:.3f} | {r[EXCESS]:.3f} | {label} |"
        )
    return "\n".join(lines)


def agreement_section(rows: Sequence[dict[str, Any]], levels: Sequence[str]) -> str | None:
    """Markdown: per level, Spearman rho (theory vs trained minus floor) and the verdict."""
    if not any(r.get(f"identifiability.predicted.{lv}") is not None for r in rows for lv in levels):
        return None
    lines = [
        "## Does the sweep follow the theory? (per latent level)",
        "",
        "Spearman's rho over trained runs between the theory's prediction for the run's "
        "(ratio, unit) and what training added (R² on visible tokens minus the untrained "
        "floor), with a bootstrap 95 % interval over seeds.",
        "",
        "| level | trained runs | under-trained runs | rho [95 %] | verdict |",
        "|---|---|---|---|---|",
    ]
    for lv in levels:
        rho, n_trained, n_under, outcome = level_agreement(rows, lv)
        interval = "–" if rho is None else f"{rho.value:+.2f} [{rho.low:+.2f}, {rho.high:+.2f}]"
        lines.append(
            f"| {lv.replace('_', ' ')} | {n_trained} | {n_under} | {interval} | {outcome} |"
        )
    return "\n".join(lines)


def level_agreement(rows: Sequence[dict[str, Any]], level: str):
    """(rho interval or None, trained runs, under-trained runs, verdict) for one level."""
    return rank_agreement(
        rows,
        f"identifiability.predicted.{level}",
        f"identifiability.measured.{level}",
        f"identifiability.untrained.{level}",
    )


def rank_agreement(
    rows: Sequence[dict[str, Any]], predicted: str, measured: str, floor: str
) -> tuple[Interval | None, int, int, str]:
    """(rho interval or None, trained runs, under-trained runs, verdict): Spearman's rho
    over trained runs between the metric `predicted` and `measured` minus `floor`."""
    keys = (predicted, measured, floor)
    usable = [r for r in rows if all(r.get(k) is not None for k in keys)]
    under = [r for r in usable if under_trained(r.get(EXCESS))]
    trained = trained_rows(usable)
    if len(trained) < 3:
        why = f"untestable: {len(trained)} trained run(s)"
        return (
            None,
            len(trained),
            len(under),
            why + (f", {len(under)} under-trained" if under else ""),
        )
    predicted = [r[keys[0]] for r in trained]
    gain = [r[keys[1]] - r[keys[2]] for r in trained]
    if max(predicted) - min(predicted) < 1e-9:
        return None, len(trained), len(under), "untestable: the prediction does not vary"
    distinct = distinct_values(predicted)
    if distinct < MIN_DISTINCT:
        why = (f"untestable: the prediction takes {distinct} distinct values over the trained "
               f"runs; a rank statistic needs at least {MIN_DISTINCT}")  # fmt: skip
        return None, len(trained), len(under), why
    seeds = [r.get("seed", r["id"]) for r in trained]
    rho = spearman_interval(predicted, gain, seeds)
    if math.isnan(rho.low):
        return rho, len(trained), len(under), "untestable: one seed, so no interval"
    if rho.low > 0:
        outcome = "agrees"
    else:
        outcome = "disagrees (no positive rank agreement)"
    return rho, len(trained), len(under), outcome


def distinct_values(values: Sequence[float], tolerance: float = 1e-9) -> int:
    """How many distinct values `values` holds, those within `tolerance` of the last
    distinct one counted once (a quantity averaged over masks varies in its last digits)."""
    count, last = 0, None
    for v in sorted(values):
        if last is None or v - last > tolerance:
            count, last = count + 1, v
    return count


def verdict_summary(rows: Sequence[dict[str, Any]], levels: Sequence[str]) -> str:
    """A few plain lines: how many runs are trained, and the verdict per level."""
    measured = [r for r in rows if r.get(EXCESS) is not None]
    lines = []
    if measured:
        excess = sorted(r[EXCESS] for r in measured)
        trained = sum(not under_trained(e) for e in excess)
        lines.append(
            f"{trained} of {len(measured)} run(s) trained (normalised excess over the Bayes "
            f"loss <= {TRAINED_EXCESS}; measured {excess[0]:.2f} to {excess[-1]:.2f})."
        )
    for lv in levels:
        lines.append(f"theory vs training gain, {lv.replace('_', ' ')}: "
                     f"{level_agreement(rows, lv)[3]}")  # fmt: skip
    return "\n".join(lines)
