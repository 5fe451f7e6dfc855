"""`symbols` (rhm32): per level, linear-probe and kNN accuracy of the encoder's features
on the full image and on the visible tokens of masks from the training sampler, beside
the untrained encoder and the view's pixels (the floors), chance and the Bayes limit; the
class read through the root's rules from the level-1 probes (and climbed from each deeper
level's), with the share of the floor-to-Bayes gap it closes; and the theory's profile of
the run's (ratio, unit): d_c in bits, the share of c at each level and P(level in S).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey, per_level
from maeid.measures.registry import Measure, Needs, Outcome, register
from maeid.measures.rhm_readout import VIEWS, WHO, ReadoutOptions, readout_inputs

READERS = ("probe", "knn", "rules", "rules_from")  # evaluate_symbols' readouts per reader
THEORY_MASKS = 2000  # masks the theory's profile of a run's cell averages over
NS = "symbols"


def _patterns() -> tuple[MetricKey, ...]:
    keys = [
        MetricKey(NS, f"{prefix}{reader}_{view}", "level_*")
        for prefix in WHO.values()
        for reader in READERS
        for view in VIEWS.values()
    ]
    keys += [MetricKey(NS, f"bayes_{view}", "level_*") for view in VIEWS.values()]
    keys += [MetricKey(NS, name, "*") for name in ("rules_share", "rules_gap_se", "rules_readable")]
    keys += [MetricKey(NS, name, "level_*") for name in ("chance", "c_share", "p_in_S")]
    return (*keys, MetricKey(NS, "d_c_bits"))


@register
class Symbols(Measure):
    name = NS
    Options = ReadoutOptions
    needs = Needs.RHM
    keys = _patterns()
    default_for = frozenset({"rhm"})

    def run(self, ctx: EvalContext, opts: ReadoutOptions) -> Outcome:
        from maeid.evaluate.probe import ProbeConfig
        from maeid.evaluate.symbols import evaluate_symbols

        inputs = readout_inputs(ctx, opts.max_train, opts.samples)
        result = evaluate_symbols(
            *inputs,
            config=ProbeConfig(opts.probe_epochs, seed=ctx.seed),
            seed=ctx.seed,
            pools=(opts.pool,),
        )
        grammar = inputs[1]
        theory = cell_theory(
            grammar, ctx.ratio, int(ctx.model.mask_unit), int(ctx.model.patch_size)
        )
        details = {"pool": opts.pool, **result, "theory": theory}
        return Outcome(symbol_metrics(result, theory, opts.pool), details)

    def summary(self, outcome: Outcome, opts: ReadoutOptions) -> list[str]:
        from maeid.evaluate.symbols import format_symbols

        return [format_symbols(outcome.details, opts.pool)]


def symbol_metrics(
    result: dict[str, Any], theory: dict[str, Any], pool: str
) -> dict[MetricKey, float]:
    """`evaluate_symbols`' result for one pool, and the cell's theory, as metrics."""
    from maeid.evaluate.rules_share import rules_share

    metrics: dict[MetricKey, float] = {}
    for view, short in VIEWS.items():
        res = result[view]
        for who, prefix in WHO.items():
            readouts = res.get(who, {})
            readouts = readouts.get(pool, {}) if who != "pixels" else readouts
            for reader in READERS:
                if reader in readouts:
                    metrics.update(per_level(NS, f"{prefix}{reader}_{short}", readouts[reader]))
        metrics.update(per_level(NS, f"bayes_{short}", res["bayes"]))
    metrics.update(per_level(NS, "chance", result["full_image"]["trained"][pool]["chance"]))
    if all("untrained" in result[view] for view in VIEWS):
        for view, short in VIEWS.items():
            res = result[view]
            share = rules_share(
                res["trained"][pool]["rules"][0],
                res["untrained"][pool]["rules"][0],
                res["bayes"][0],
                int(result["test"]),
            )
            metrics[MetricKey(NS, "rules_share", short)] = share.share
            metrics[MetricKey(NS, "rules_gap_se", short)] = share.gap_se
            metrics[MetricKey(NS, "rules_readable", short)] = float(share.readable)
    metrics[MetricKey(NS, "d_c_bits")] = float(theory["d_c_bits"])
    metrics.update(per_level(NS, "c_share", theory["c_share"]))
    metrics.update(per_level(NS, "p_in_S", theory["p_in_S"]))
    return metrics


def cell_theory(model, ratio: float, unit: int, patch: int) -> dict[str, Any]:
    """The theory's profile of one (ratio, unit) on an rhm32 model, over `THEORY_MASKS`
    masks of the training sampler: the mean d_c in bits (`model.code_bits` of S(m)), the
    mean share of c's members at each level, and P(a level-k latent is in S(m)).

    d_c in bits is linear in S's membership, so its mean is the per-latent P(in S)
    weighted by each latent's bits.
    """
    from maeid.theory import theory_profile

    profile = theory_profile(model.spec, [ratio], [unit], THEORY_MASKS, seed=0, patch_size=patch)
    cell = profile.cells[0]
    if not cell.valid:
        raise ValueError(f"ratio {ratio} at unit {unit} px cannot be profiled: {cell.reason}")
    p_shared = np.asarray(cell.p_shared, dtype=float)
    bits = np.array([model.latent_bits(z) for z in profile.latents])
    levels = np.asarray(profile.latent_levels)
    return {
        "d_c_bits": float(p_shared @ bits),
        "c_share": {int(lv): float(cell.c_level_share[i]) for i, lv in enumerate(profile.levels)},
        "p_in_S": {int(lv): float(p_shared[levels == lv].mean()) for lv in profile.levels},
    }
