"""What the rhm32 readouts (symbols, information, class_probe) share: options, splits and
the names of views and readers in their metric keys."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.evaluate.symbols import POOLS
from maeid.evaluate.view_features import SHORT
from maeid.measures.context import EvalContext
from maeid.measures.options import Options, option

VIEWS = SHORT  # evaluate_symbols' views -> the suffix of their metric names
WHO = {"trained": "", "untrained": "untrained_", "pixels": "pixels_"}  # -> metric-name prefix


@dataclass(frozen=True)
class ReadoutOptions(Options):
    samples: int = option(2000, "held-out test images", minimum=2, flag="max_test")
    max_train: int = option(4000, "images the probes train on", minimum=2, flag="max_train")
    probe_epochs: int = option(30, "epochs of each linear probe", minimum=1, flag="probe_epochs")
    pool: str = option(
        "mean",
        "the readout: [CLS], mean of the patch tokens, or all tokens side by side",
        choices=POOLS,
        flag="pool",
    )


def readout_inputs(ctx: EvalContext, n_train: int, n_test: int) -> tuple:
    """The leading arguments every rhm32 readout of `maeid.evaluate` takes, in order: the
    encoder, the grammar, the probes' training images and latents, the test images and
    latents, the normalisation, the masking ratio and the untrained floor."""
    train, test = ctx.train(None, n_train), ctx.test(None, n_test)
    return (ctx.model, test.source_model, train.images, train.latents, test.images,
            test.latents, test.mean, test.std, ctx.ratio, ctx.untrained())  # fmt: skip
