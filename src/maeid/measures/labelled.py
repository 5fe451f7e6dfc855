"""What the labelled-data measures (probe, knn, tsne, robustness) share: their options,
and the linear probe, trained once per evaluation (robustness reuses its head)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.options import Options, option


@dataclass(frozen=True)
class FeatureOptions(Options):
    """The features and test split every labelled-data measure reads."""

    pool: str = option(
        "cls",
        "features: [CLS], mean of the patch tokens, or all tokens side by side",
        choices=POOLS,
        flag="pool",
    )
    max_test: int = option(2000, "test images", minimum=1, flag="max_test")
    data: str | None = option(
        None,
        "data to read (fashion_mnist, a folder of its IDX files, or an image folder with "
        "class subfolders); default: the evaluation's",
    )


@dataclass(frozen=True)
class LabelledOptions(FeatureOptions):
    """The linear probe's: the features, its training images and epochs."""

    max_train: int = option(10000, "training images of the probe", minimum=1, flag="max_train")
    probe_epochs: int = option(30, "epochs of the linear probe", minimum=1, flag="probe_epochs")


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
