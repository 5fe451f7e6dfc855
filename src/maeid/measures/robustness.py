"""`robustness`: the clean-trained linear probe on corrupted test images (9 corruptions x
5 severities)."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.labelled import LabelledOptions, linear_probe
from maeid.measures.options import option
from maeid.measures.registry import Measure, Needs, Outcome, register


@dataclass(frozen=True)
class RobustnessOptions(LabelledOptions):
    robust_images: int = option(
        1000, "test images per corruption and severity", minimum=1, flag="robust_images"
    )


@register
class Robustness(Measure):
    name = "robustness"
    Options = RobustnessOptions
    needs = Needs.LABELS
    keys = (MetricKey("robustness", "mean_top1"), MetricKey("robustness", "clean_top1"))
    default_for = frozenset({"labels"})

    def run(self, ctx: EvalContext, opts: RobustnessOptions) -> Outcome:
        from maeid.data.transforms import denormalize
        from maeid.evaluate.robustness import corruption_accuracy
        from maeid.measures.context import frozen_features

        _, head = linear_probe(ctx, opts)
        test = ctx.test(opts.data, opts.max_test)
        n = min(opts.robust_images, len(test.images))
        unit_range = denormalize(test.images[:n], test.mean, test.std).clamp(0.0, 1.0)
        result = corruption_accuracy(
            lambda x: frozen_features(ctx.model, x, opts.pool),
            head,
            unit_range,
            test.labels[:n],
            test.mean,
            test.std,
            seed=ctx.seed,
            progress=ctx.progress,
        )
        metrics = {self.keys[0]: float(result["mean"]), self.keys[1]: float(result["clean"])}
        return Outcome(metrics, result)

    def summary(self, outcome: Outcome, opts: RobustnessOptions) -> list[str]:
        r = outcome.details
        return [
            f"  probe under corruptions: clean {100 * r['clean']:.2f}%, mean over "
            f"corruptions x severities {100 * r['mean']:.2f}%"
        ]
