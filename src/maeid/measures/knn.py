"""`knn`: cosine k-NN (DINO's weighted vote) top-1 on the linear probe's features."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.labelled import FeatureOptions
from maeid.measures.options import option
from maeid.measures.registry import Measure, Needs, Outcome, register


@dataclass(frozen=True)
class KnnOptions(FeatureOptions):
    max_train: int = option(10000, "training images in the bank", minimum=1, flag="max_train")
    k: int = option(20, "neighbours that vote", minimum=1)


@register
class Knn(Measure):
    name = "knn"
    Options = KnnOptions
    needs = Needs.LABELS
    keys = (MetricKey("probe", "knn_top1"),)  # stored beside the linear probe's top-1
    default_for = frozenset({"labels"})

    def run(self, ctx: EvalContext, opts: KnnOptions) -> Outcome:
        from maeid.evaluate.knn import knn_top1

        train, test = ctx.train(opts.data, opts.max_train), ctx.test(opts.data, opts.max_test)
        top1 = knn_top1(
            ctx.features(train, opts.pool),
            train.labels,
            ctx.features(test, opts.pool),
            test.labels,
            k=opts.k,
        )
        return Outcome({self.keys[0]: float(top1)}, {"top1": top1, "k": opts.k, "pool": opts.pool})

    def summary(self, outcome: Outcome, opts: KnnOptions) -> list[str]:
        return [f"  kNN (k={opts.k}, cosine) top-1: {100 * outcome.details['top1']:.2f}%"]
