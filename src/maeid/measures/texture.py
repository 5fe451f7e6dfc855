"""`shape_bias` and `rendition` (rhm32): cue-conflict shape bias of a linear class probe
and of the class read through the rules, and accuracy under shifted patch dictionaries,
beside the untrained encoder, the pixels and the ideal observer
(`maeid.evaluate.texture_measures`)."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome, register


@dataclass(frozen=True)
class TextureOptions(Options):
    train: int = option(
        4000, "cue-consistent (or clean) images the probes train on", minimum=2, flag="max_train"
    )
    test: int = option(1000, "held-out images per view", minimum=2, flag="max_test")
    pool: str = option("mean", "the readout", choices=POOLS, flag="pool")
    probe_epochs: int = option(30, "epochs of each linear probe", minimum=1, flag="probe_epochs")


@dataclass(frozen=True)
class ShapeBiasOptions(TextureOptions):
    untrained_baseline: bool = option(True, "also measure the encoder at initialisation")


class _Texture(Measure):
    needs = Needs.RHM

    def summary(self, outcome: Outcome, opts: TextureOptions) -> list[str]:
        pairs = ", ".join(f"{k.name} {v:.3f}" for k, v in outcome.metrics.items())
        return [f"  {self.name.replace('_', ' ')}: {pairs}"]

    @staticmethod
    def _inputs(ctx: EvalContext, opts: TextureOptions) -> dict:
        test = ctx.test(None, opts.test)  # its model, and the statistics that normalise
        return {
            "mae": ctx.model,
            "model": test.source_model,
            "mean": test.mean,
            "std": test.std,
            "pool": opts.pool,
            "train": opts.train,
            "test": opts.test,
            "seed": ctx.seed,
            "probe_epochs": opts.probe_epochs,
        }


@register
class ShapeBias(_Texture):
    name = "shape_bias"
    Options = ShapeBiasOptions
    keys = (MetricKey("shape_bias", "*"),)

    def run(self, ctx: EvalContext, opts: ShapeBiasOptions) -> Outcome:
        from maeid.evaluate.texture_measures import shape_bias_metrics

        untrained = ctx.untrained() if opts.untrained_baseline else None
        result = shape_bias_metrics(untrained=untrained, **self._inputs(ctx, opts))
        return Outcome({MetricKey(self.name, k): float(v) for k, v in result.items()}, result)


@register
class Rendition(_Texture):
    name = "rendition"
    Options = TextureOptions
    keys = (MetricKey("rendition", "*"),)

    def run(self, ctx: EvalContext, opts: TextureOptions) -> Outcome:
        from maeid.evaluate.texture_measures import rendition_metrics

        result = rendition_metrics(**self._inputs(ctx, opts))
        return Outcome({MetricKey(self.name, k): float(v) for k, v in result.items()}, result)
