"""`probe`: a linear probe (BatchNorm without affine, then linear) on frozen full-image
features of labelled data, top-1 on the test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome, register


@dataclass(frozen=True)
class LabelledOptions(Options):
    """The features and splits shared by the labelled-data measures."""

    pool: str = option(
        "cls",
        "features: [CLS], mean of the patch tokens, or all tokens side by side",
        choices=POOLS,
        flag="pool",
    )
    max_train: int = option(
        10000, "training images for the probe or kNN", minimum=1, flag="max_train"
    )
    max_test: int = option(2000, "test images", minimum=1, flag="max_test")
    probe_epochs: int = option(30, "epochs of the linear probe", minimum=1, flag="probe_epochs")
    data: str | None = option(
        None, "data to read (fashion_mnist or a folder of its IDX files); default: the evaluation's"
    )


def linear_probe(ctx: EvalContext, opts: LabelledOptions) -> tuple[dict[str, Any], Any]:
    """(details, trained head) of the linear probe, trained once per evaluation."""
    from maeid.evaluate.probe import ProbeConfig
    from maeid.evaluate.probe import linear_probe as fit

    def compute():
        train, test = ctx.train(opts.data, opts.max_train), ctx.test(opts.data, opts.max_test)
        f_train, f_test = ctx.features(train, opts.pool), ctx.features(test, opts.pool)
        acc, head = fit(
            f_train,
            train.labels,
            f_test,
            test.labels,
            ProbeConfig(opts.probe_epochs, seed=ctx.seed),
        )
        details = {
            "top1": acc,
            "pool": opts.pool,
            "optimizer": "AdamW",
            "epochs": opts.probe_epochs,
            "train": len(f_train),
            "test": len(f_test),
        }
        return details, head

    key = ("linear_probe", opts.data, opts.pool, opts.max_train, opts.max_test, opts.probe_epochs)
    return ctx.cached(key, compute)


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
