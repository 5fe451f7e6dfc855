"""`run_measures`: the one way a checkpoint is measured, for `maeid evaluate` and sweeps.

It checks every requested measure and its options against the data before any work,
runs them on one shared `EvalContext`, refuses a metric key the measure did not declare,
and writes `eval.json` (every number, each measure's details and options, the figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey, nest, undeclared
from maeid.measures.options import Options
from maeid.measures.registry import Outcome, check_requested, get_measure
from maeid.progress import tqdm


@dataclass
class Evaluation:
    """The outcomes of one `run_measures` call, by measure name."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    options: dict[str, Options] = field(default_factory=dict)  # parsed, by measure

    @property
    def metrics(self) -> dict[MetricKey, float]:
        return {k: v for outcome in self.outcomes.values() for k, v in outcome.metrics.items()}

    @property
    def figures(self) -> dict[str, str]:
        return {k: v for outcome in self.outcomes.values() for k, v in outcome.figures.items()}

    def nested(self) -> dict[str, Any]:
        """The metrics as the nested dict a results database stores."""
        return nest(self.metrics)

    def summary(self) -> list[str]:
        """Each measure's console lines, in the order they ran."""
        return [
            line
            for name, outcome in self.outcomes.items()
            for line in get_measure(name).summary(outcome, self.options[name])
        ]


def run_measures(
    ctx: EvalContext,
    requested: Mapping[str, Mapping[str, Any] | None],
    header: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Run `requested` ({measure name: options}) on `ctx`; write `ctx.out/eval.json`."""
    from maeid.evaluate.artifacts import write_json

    parsed = check_requested(dict(requested), ctx.kind())
    result = Evaluation(options=parsed)
    bar = tqdm(list(parsed.items()), disable=not ctx.progress, desc="evaluate")
    for name, opts in bar:  # probes that train switch gradients on themselves
        bar.set_postfix(measure=name)
        measure = get_measure(name)
        with torch.no_grad():
            outcome = measure.run(ctx, opts)
        stray = undeclared(outcome.metrics, measure.keys)
        if stray:
            raise RuntimeError(f"measure {name} wrote undeclared keys {[str(k) for k in stray]}")
        result.outcomes[name] = outcome
    document = {
        **(header or {}),
        "data": ctx.source,
        "seed": ctx.seed,
        "mask_ratio": ctx.ratio,
        "mask_unit": int(ctx.model.mask_unit),
        "patch_size": int(ctx.model.patch_size),
        "options": {name: opts.as_dict() for name, opts in parsed.items()},
        **{name: o.details for name, o in result.outcomes.items() if o.details is not None},
        "metrics": {str(k): v for k, v in result.metrics.items()},
        "figures": result.figures,
    }
    write_json(ctx.out / "eval.json", document)
    return result
