"""`probe`: a linear probe (BatchNorm without affine, then linear) on frozen full-image
features of labelled data, top-1 on the test split."""

from __future__ import annotations

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.labelled import LabelledOptions, linear_probe
from maeid.measures.registry import Measure, Needs, Outcome, register


@register
class Probe(Measure):
    name = "probe"
    Options = LabelledOptions
    needs = Needs.LABELS
    keys = (MetricKey("probe", "linear_top1"),)
    default_for = frozenset({"labels"})

    def run(self, ctx: EvalContext, opts: LabelledOptions) -> Outcome:
        details, _ = linear_probe(ctx, opts)
        return Outcome({self.keys[0]: float(details["top1"])}, details)

    def summary(self, outcome: Outcome, opts: LabelledOptions) -> list[str]:
        return [f"  linear probe top-1 ({opts.pool}): {100 * outcome.details['top1']:.2f}%"]
