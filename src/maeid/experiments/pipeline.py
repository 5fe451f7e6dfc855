"""The default run function of a sweep point: pre-train, then evaluate.

`train_and_evaluate(ctx)` trains into `run_dir/train` (resuming from its last checkpoint
when an earlier attempt was interrupted), then runs the evaluations the sweep names
(`maeid.experiments.evaluations`) on the trained model. Training numbers go to the
metrics too (`train.*`), with the ViT patch (`run.patch_size`) the report needs to put
masking units in patches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from maeid.experiments.evaluations import run_evaluations
from maeid.experiments.runner import RunContext, RunOutcome


def train_and_evaluate(ctx: RunContext) -> RunOutcome:
    from maeid.train.config import from_dict
    from maeid.train.loop import train

    cfg = from_dict(ctx.config["train"]).validate()
    cfg.run.progress = ctx.show_progress and cfg.run.progress
    train_dir = ctx.run_dir / "train"
    resume = (train_dir / "checkpoints" / "last.pt").is_file()
    start = time.perf_counter()
    result = train(cfg, train_dir, resume=resume)
    seconds = time.perf_counter() - start
    model = result.model.cpu().eval()
    trained_cfg = _trained_config(train_dir)
    metrics, artefacts = run_evaluations(
        evaluation_options(ctx.config.get("evaluate")), model, trained_cfg, ctx.run_dir
    )
    metrics["train"] = {
        "steps": result.step,
        "first_loss": result.first_loss,
        "final_loss": result.last_loss,
        "seconds": seconds,
        "resumed": resume,
    }
    metrics["run"] = {"patch_size": model.patch_size}
    artefacts = {"checkpoint": str(train_dir / "checkpoints" / "last.pt"), **artefacts}
    return RunOutcome(metrics, artefacts)


def evaluation_options(spec: Any) -> dict[str, dict[str, Any]]:
    """A sweep's `evaluate` entry (a list of names, or names mapped to options) as a dict."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): dict(v or {}) for k, v in spec.items()}
    return {str(name): {} for name in spec}


def _trained_config(train_dir: Path):
    """The run's config as training resolved it (data normalisation filled in)."""
    from maeid.train.config import load_config

    return load_config(train_dir / "config.yaml")
