"""`masked_loss` (synthetic data, plain pixel loss): the held-out masked loss beside its
Bayes limit and its plateau, on masks from the training sampler, and the normalised excess
(loss - Bayes) / (plateau - Bayes) (`maeid.evaluate.excess`): per test image for rhm32
(belief propagation), the masking cell's exact limits for a continuous model (qt32)."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome, register

NS = "masked_loss"
SCORES = ("loss", "bayes", "plateau", "excess")


@dataclass(frozen=True)
class MaskedLossOptions(Options):
    samples: int = option(2000, "held-out test images", minimum=1, flag="max_test")


@register
class MaskedLoss(Measure):
    name = NS
    Options = MaskedLossOptions
    needs = Needs.LATENTS
    keys = tuple(MetricKey(NS, score) for score in SCORES)
    default_for = frozenset({"rhm"})

    def run(self, ctx: EvalContext, opts: MaskedLossOptions) -> Outcome:
        from maeid.evaluate.excess import masked_loss_excess, masked_loss_excess_cell
        from maeid.hlvm.random_hierarchy import is_rhm

        test = ctx.test(None, opts.samples)
        if is_rhm(test.source_model):
            result = masked_loss_excess(ctx.model, test.source_model, test.images, test.mean,
                                        test.std, ctx.ratio, ctx.seed)  # fmt: skip
        else:
            result = masked_loss_excess_cell(
                ctx.model, test.source_model, test.images, ctx.ratio, ctx.seed
            )
        return Outcome({MetricKey(NS, s): float(result[s]) for s in SCORES}, result)

    def summary(self, outcome: Outcome, opts: MaskedLossOptions) -> list[str]:
        r = outcome.details
        return [
            f"  held-out masked loss {r['loss']:.4f} (Bayes {r['bayes']:.4f}, plateau "
            f"{r['plateau']:.4f}): normalised excess {r['excess']:.3f}"
        ]
