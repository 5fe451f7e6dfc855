"""`information` (rhm32): per level and view, the held-out cross-entropy of linear probes
on the encoder, the untrained encoder and the pixels, beside H_Bayes (exact, by belief
propagation), and G, the share of the floor-to-Bayes gap the encoder closes, with that
gap in standard errors (G is read only where it is at least 5)."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey, per_level
from maeid.measures.options import option
from maeid.measures.registry import Measure, Needs, Outcome, register
from maeid.measures.rhm_readout import VIEWS, WHO, ReadoutOptions, readout_inputs

NS = "information"


@dataclass(frozen=True)
class InformationOptions(ReadoutOptions):
    pool: str = option(
        "tokens",
        "the readout: all tokens at their positions by default (the "
        "one view common to every masking cell)",
        choices=POOLS,
        flag="pool",
    )


def _patterns() -> tuple[MetricKey, ...]:
    names = [f"{prefix}ce_{v}" for prefix in WHO.values() for v in VIEWS.values()]
    names += [
        f"{n}_{v}"
        for n in ("bayes_ce", "gain_share", "pixels_gain_share", "gap_se")
        for v in VIEWS.values()
    ]
    return tuple(MetricKey(NS, name, "level_*") for name in names)


@register
class Information(Measure):
    name = NS
    Options = InformationOptions
    needs = Needs.RHM
    keys = _patterns()

    def run(self, ctx: EvalContext, opts: InformationOptions) -> Outcome:
        from maeid.evaluate.information_probes import evaluate_information
        from maeid.evaluate.probe import ProbeConfig

        result = evaluate_information(
            *readout_inputs(ctx, opts.max_train, opts.samples),
            ProbeConfig(opts.probe_epochs, seed=ctx.seed),
            seed=ctx.seed,
            pool=opts.pool,
        )
        return Outcome(information_metrics(result), result)

    def summary(self, outcome: Outcome, opts: InformationOptions) -> list[str]:
        from maeid.evaluate.information_probes import format_information

        return [format_information(outcome.details)]


def information_metrics(result: dict) -> dict[MetricKey, float]:
    metrics: dict[MetricKey, float] = {}
    for view, short in VIEWS.items():
        if view not in result:
            continue
        res = result[view]
        for who, prefix in WHO.items():
            metrics.update(per_level(NS, f"{prefix}ce_{short}", res["ce"][who]))
        metrics.update(per_level(NS, f"bayes_ce_{short}", res["bayes_ce"]))
        for who in ("trained", "pixels"):
            metrics.update(per_level(NS, f"{WHO[who]}gain_share_{short}", res["gain_share"][who]))
        metrics.update(per_level(NS, f"gap_se_{short}", res["gap_se"]))
    return metrics
