"""What the texture measures (`shape_bias`, `rendition`, rhm32) share: their options, the
inputs of `maeid.evaluate.texture_measures` and the console line."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.evaluate.symbols import POOLS
from maeid.measures.context import EvalContext
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome


@dataclass(frozen=True)
class TextureOptions(Options):
    train: int = option(
        4000, "cue-consistent (or clean) images the probes train on", minimum=2, flag="max_train"
    )
    test: int = option(1000, "held-out images per view", minimum=2, flag="max_test")
    pool: str = option("mean", "the readout", choices=POOLS, flag="pool")
    probe_epochs: int = option(30, "epochs of each linear probe", minimum=1, flag="probe_epochs")


class TextureMeasure(Measure):
    """Base of the texture measures."""

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
