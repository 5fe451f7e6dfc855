"""`attention`: mean attention distance per layer and head, and the last layer's [CLS]
attention over test images (`attention_distance.png`, `cls_attention.png`); on
Fashion-MNIST also the share of that attention on the object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Outcome, register


@dataclass(frozen=True)
class AttentionOptions(Options):
    images: int = option(256, "test images read", minimum=1)
    max_test: int = option(
        2000, "size of the test split the images open", minimum=1, flag="max_test"
    )
    data: str | None = option(None, "data to read; default: the evaluation's")


@register
class Attention(Measure):
    name = "attention"
    Options = AttentionOptions
    keys = (
        MetricKey("attention", "mean_distance_last_layer"),
        MetricKey("attention", "cls_attention_on_object"),
        MetricKey("attention", "object_area"),
    )
    default_for = frozenset({"labels", "rhm", "latents", "any"})

    def run(self, ctx: EvalContext, opts: AttentionOptions) -> Outcome:
        from maeid.data.transforms import denormalize
        from maeid.evaluate.attention import (
            attention_on_object,
            cls_attention_maps,
            mean_attention_distance,
            plot_attention_distance,
            plot_cls_attention,
        )

        test = ctx.test(opts.data, opts.max_test)
        imgs = test.images[: opts.images]
        dist = mean_attention_distance(ctx.model, imgs)
        maps = cls_attention_maps(ctx.model, imgs)
        shown = denormalize(imgs[:8].float(), test.mean, test.std).numpy()
        cls_title = ctx.figure_title("last-layer [CLS] attention, mean over heads")
        distance_title = ctx.figure_title("mean attention distance per head")
        figures = {
            "attention": str(
                plot_cls_attention(
                    shown, maps[:8].numpy(), ctx.out / "cls_attention.png", cls_title
                )
            ),
            "attention_distance": str(
                plot_attention_distance(dist, ctx.out / "attention_distance.png", distance_title)
            ),
        }
        details = {
            "mean_distance_per_layer": [float(np.mean(h)) for h in dist],
            "mean_distance_per_head": dist,
            "images": len(imgs),
        }
        if test.name == "fashion_mnist":  # objects on an empty black background
            unit_range = denormalize(imgs, test.mean, test.std).clamp(0.0, 1.0)
            details.update(attention_on_object(maps, unit_range, ctx.model.patch_size))
        metrics = {self.keys[0]: details["mean_distance_per_layer"][-1]}
        for key in self.keys[1:]:
            if key.name in details:
                metrics[key] = float(details[key.name])
        return Outcome(metrics, details, figures)

    def summary(self, outcome: Outcome, opts: AttentionOptions) -> list[str]:
        a = outcome.details
        lines = [
            "  mean attention distance per layer (px): "
            + ", ".join(f"{v:.1f}" for v in a["mean_distance_per_layer"])
        ]
        if "cls_attention_on_object" in a:
            lines.append(
                f"  last-layer [CLS] attention on the object: "
                f"{100 * a['cls_attention_on_object']:.1f}% (the object covers "
                f"{100 * a['object_area']:.1f}% of the patches)"
            )
        return lines
