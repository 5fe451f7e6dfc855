"""The measurements a sweep point runs after training: `maeid.measures`, by name.

A sweep's `evaluate` section names measures of the registry (`maeid evaluate
--list-measures` prints them with their options), each with its options; the run's
metrics are the measures' keys, nested as the results database stores them, and its
artefacts are `RUN_DIR/eval/eval.json` and the measures' figures. `maeid evaluate` on
the run's checkpoint with the same options gives the same numbers: both call
`run_measures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from maeid.measures import EvalContext, check_requested, run_measures, trained_kind


def run_evaluations(
    requested: Mapping[str, Mapping[str, Any]], model: nn.Module, cfg, run_dir: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the requested measures on the trained `model`: (nested metrics, artefacts)."""
    if not requested:
        return {}, {}
    # the model trained into run_dir/train (`maeid.experiments.pipeline`): figures name it
    ctx = EvalContext(model, cfg, Path(run_dir) / "eval", model_path=Path(run_dir) / "train")
    evaluation = run_measures(ctx, requested)
    artefacts = {"eval_json": str(ctx.out / "eval.json"), **evaluation.figures}
    return evaluation.nested(), artefacts


def check_evaluations(requested: Mapping[str, Mapping[str, Any]], data: Mapping[str, Any]) -> None:
    """Refuse before training what would fail after it: an unknown measure or option, or a
    measure that the run's data (its training config's `data` section) cannot support."""
    check_requested(dict(requested), trained_kind(dict(data)))
