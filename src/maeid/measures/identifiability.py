"""`identifiability` (synthetic data with known latents): the practical regime. R² per
latent level from the encoder's pooled and region-pooled output on the visible tokens of
masks from the training sampler, and on the full image, on held-out samples; beside the
same encoder at initialisation (the floor), the theory's exact prediction and the exact
limit given the visible side, for the same sampler."""

from __future__ import annotations

from dataclasses import dataclass

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey, per_level
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Needs, Outcome, register

NS = "identifiability"
# our metric names -> practical_identifiability's per-level names
NAMES = {
    "predicted": "predicted",
    "limit_visible": "limit_visible",
    "measured": "measured_visible_tokens",
    "measured_full": "measured_full_image",
    "measured_region": "measured_visible_tokens_region",
    "measured_region_full": "measured_full_image_region",
    "untrained": "measured_untrained_visible_tokens",
    "untrained_full": "measured_untrained_full_image",
    "p_shared": "p_in_S",
    "p_identified": "p_in_c",
}


@dataclass(frozen=True)
class IdentifiabilityOptions(Options):
    samples: int = option(2000, "held-out samples", minimum=2, flag="max_test")
    landmarks: int = option(1000, "landmarks of the kernel ridge", minimum=1)
    max_train: int = option(8000, "training samples of the kernel ridge at most", minimum=1)
    untrained_baseline: bool = option(True, "also measure the encoder at initialisation")
    region_readout: bool = option(True, "also read each latent from the tokens over its region")


@register
class Identifiability(Measure):
    name = NS
    aliases = ("identify",)
    Options = IdentifiabilityOptions
    needs = Needs.LATENTS
    keys = tuple(MetricKey(NS, name, "level_*") for name in NAMES)
    default_for = frozenset({"latents"})

    def run(self, ctx: EvalContext, opts: IdentifiabilityOptions) -> Outcome:
        from maeid.evaluate.practical import practical_identifiability
        from maeid.evaluate.regression import RegressorConfig

        test = ctx.test(None, opts.samples)
        regressor = RegressorConfig(
            n_landmarks=opts.landmarks, max_train=opts.max_train, seed=ctx.seed
        )
        result = practical_identifiability(
            ctx.model,
            test.source_model,
            test.images,
            test.latents,
            ctx.ratio,
            regressor,
            seed=ctx.seed,
            untrained=ctx.untrained() if opts.untrained_baseline else None,
            region=opts.region_readout,
        )
        per = result["per_level"]
        metrics: dict[MetricKey, float] = {}
        for ours, theirs in NAMES.items():
            if theirs in per[min(per)]:
                metrics.update(per_level(NS, ours, {lv: v[theirs] for lv, v in per.items()}))
        return Outcome(metrics, result)

    def summary(self, outcome: Outcome, opts: IdentifiabilityOptions) -> list[str]:
        nan = float("nan")
        lines = [
            "  R² per level   P(in S)  predicted  limit(vis)  floor(vis)  visible  region  "
            "full-image"
        ]
        for lv, v in outcome.details["per_level"].items():
            lines.append(
                f"    level {lv:<6} {v['p_in_S']:>7.2f}  {v['predicted']:>9.3f}  "
                f"{v['limit_visible']:>10.3f}  "
                f"{v.get('measured_untrained_visible_tokens', nan):>10.3f}  "
                f"{v['measured_visible_tokens']:>7.3f}  "
                f"{v.get('measured_visible_tokens_region', nan):>6.3f}  "
                f"{v['measured_full_image']:>10.3f}"
            )
        lines.append(
            "    (predicted and limit(vis) are exact; floor = the encoder at "
            "initialisation; region = each latent from the tokens over its own region)"
        )
        return lines
