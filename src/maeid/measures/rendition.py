"""`rendition` (rhm32): a linear class probe's accuracy, and the class read through the
rules, under shifted patch dictionaries, beside the pixels and the ideal observer
(`maeid.evaluate.texture_measures`)."""

from __future__ import annotations

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.registry import Outcome, register
from maeid.measures.texture import TextureMeasure, TextureOptions


@register
class Rendition(TextureMeasure):
    name = "rendition"
    Options = TextureOptions
    keys = (MetricKey("rendition", "*"),)

    def run(self, ctx: EvalContext, opts: TextureOptions) -> Outcome:
        from maeid.evaluate.texture_measures import rendition_metrics

        result = rendition_metrics(**self._inputs(ctx, opts))
        return Outcome({MetricKey(self.name, k): float(v) for k, v in result.items()}, result)
