"""`tsne`: a t-SNE map of ten classes of test features (the figure `tsne.png`)."""

from __future__ import annotations

from maeid.measures.context import EvalContext
from maeid.measures.labelled import FeatureOptions
from maeid.measures.registry import Measure, Needs, Outcome, register


@register
class Tsne(Measure):
    name = "tsne"
    Options = FeatureOptions
    needs = Needs.LABELS
    default_for = frozenset({"labels"})

    def run(self, ctx: EvalContext, opts: FeatureOptions) -> Outcome:
        from maeid.evaluate.tsne import plot_tsne, tsne_embedding

        test = ctx.test(opts.data, opts.max_test)
        emb, labels = tsne_embedding(
            ctx.features(test, opts.pool).numpy(), test.labels.numpy(), seed=ctx.seed
        )
        title = ctx.figure_title(f"t-SNE of {opts.pool} features, {test.name} test")
        path = plot_tsne(emb, labels, ctx.out / "tsne.png", test.class_names, title)
        return Outcome(figures={"tsne": str(path)})

    def summary(self, outcome: Outcome, opts: FeatureOptions) -> list[str]:
        return [f"  t-SNE map: {outcome.figures.get('tsne', '')}"] if outcome.figures else []
