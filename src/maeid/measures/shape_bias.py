"""`shape_bias` (rhm32): cue-conflict shape bias of a linear class probe and of the class
read through the rules, beside the untrained encoder, the pixels and the Bayes classifier
that ignores the texture signature (`maeid.evaluate.texture_measures`)."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import option
from maeid.measures.registry import Outcome, register
from maeid.measures.texture import TextureMeasure, TextureOptions


@dataclass(frozen=True)
class ShapeBiasOptions(TextureOptions):
    untrained_baseline: bool = option(True, "also measure the encoder at initialisation")


@register
class ShapeBias(TextureMeasure):
    name = "shape_bias"
    Options = ShapeBiasOptions
    keys = (MetricKey("shape_bias", "*"),)

    def run(self, ctx: EvalContext, opts: ShapeBiasOptions) -> Outcome:
        from maeid.evaluate.texture_measures import shape_bias_metrics

        untrained = ctx.untrained() if opts.untrained_baseline else None
        result = shape_bias_metrics(untrained=untrained, **self._inputs(ctx, opts))
        return Outcome({MetricKey(self.name, k): float(v) for k, v in result.items()}, result)
