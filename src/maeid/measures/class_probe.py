"""`class_probe` (rhm32): a one-hidden-layer probe trained on class labels alone at each
label budget, on the encoder, the untrained encoder and the pixels, beside the Bayes
classifier of each view."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome, register
from maeid.measures.rhm_readout import VIEWS, WHO, readout_inputs

NS = "class_probe"


@dataclass(frozen=True)
class ClassProbeOptions(Options):
    samples: int = option(2000, "held-out test images", minimum=2, flag="max_test")
    budgets: tuple[int, ...] = option(
        (1000, 8000),
        "labelled training images per probe, one probe per budget",
        minimum=5,
        flag="class_budgets",
    )
    hidden: int = option(64, "hidden units of the probe", minimum=1)
    max_epochs: int = option(
        200, "epochs at most (early stopping on a validation share)", minimum=1
    )
    patience: int = option(10, "epochs without improvement before stopping", minimum=1)
    pool: str = option(
        "tokens",
        "the readout: all tokens at their positions by default",
        choices=POOLS,
        flag="pool",
    )


def _patterns() -> tuple[MetricKey, ...]:
    keys = [
        MetricKey(NS, f"{prefix}{score}_{v}", "budget_*")
        for prefix in WHO.values()
        for score in ("accuracy", "ce")
        for v in VIEWS.values()
    ]
    keys += [
        MetricKey(NS, f"{name}_{v}")
        for name in ("bayes_accuracy", "bayes_ce", "chance")
        for v in VIEWS.values()
    ]
    return tuple(keys)


@register
class ClassProbe(Measure):
    name = NS
    Options = ClassProbeOptions
    needs = Needs.RHM
    keys = _patterns()

    def run(self, ctx: EvalContext, opts: ClassProbeOptions) -> Outcome:
        from maeid.evaluate.class_probe import MLPProbeConfig, check_budgets, evaluate_class_probe

        budgets = check_budgets(opts.budgets)
        config = MLPProbeConfig(
            hidden=opts.hidden, max_epochs=opts.max_epochs, patience=opts.patience, seed=ctx.seed
        )
        result = evaluate_class_probe(
            *readout_inputs(ctx, max(budgets), opts.samples),
            budgets,
            config,
            seed=ctx.seed,
            pool=opts.pool,
        )
        return Outcome(class_probe_metrics(result), result)

    def summary(self, outcome: Outcome, opts: ClassProbeOptions) -> list[str]:
        from maeid.evaluate.class_probe import format_class_probe

        return [format_class_probe(outcome.details)]


def class_probe_metrics(result: dict) -> dict[MetricKey, float]:
    metrics: dict[MetricKey, float] = {}
    for view, short in VIEWS.items():
        if view not in result:
            continue
        res = result[view]
        for who, prefix in WHO.items():
            for budget, scores in sorted(res[who].items(), key=lambda item: int(item[0])):
                for score in ("accuracy", "ce"):
                    key = MetricKey(NS, f"{prefix}{score}_{short}", f"budget_{int(budget)}")
                    metrics[key] = float(scores[score])
        metrics[MetricKey(NS, f"bayes_accuracy_{short}")] = float(res["bayes"]["accuracy"])
        metrics[MetricKey(NS, f"bayes_ce_{short}")] = float(res["bayes"]["ce"])
        metrics[MetricKey(NS, f"chance_{short}")] = float(res["chance"])
    return metrics
