"""The default run function of a sweep point: pre-train, then evaluate.

`train_and_evaluate(ctx)` trains into `run_dir/train` (resuming from its last checkpoint
when an earlier attempt was interrupted), then runs the evaluations the sweep names
(`maeid.experiments.evaluations`) on the trained model. Training numbers go to the
metrics too (`train.*`), with the ViT patch (`run.patch_size`) the report needs to put
masking units in patches.

Multi-GPU training: a sweep spec with `launch: {nproc_per_node: K}` trains each point
with `torchrun --nproc_per_node=K -m maeid train ...` in a subprocess (DDP; the global
batch is the config's, so the run trains the same model as on one device), then
evaluates in this process from the checkpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from maeid import atomic
from maeid.experiments.evaluations import check_evaluations, run_evaluations
from maeid.experiments.runner import RunContext, RunOutcome
from maeid.measures import MetricKey

# The keys the pipeline itself writes beside the measures' (training's numbers; the patch)
PIPELINE_KEYS = (MetricKey("train", "*"), MetricKey("run", "patch_size"))


def train_and_evaluate(ctx: RunContext) -> RunOutcome:
    from maeid.train.config import from_dict
    from maeid.train.loop import train

    cfg = from_dict(ctx.config["train"]).validate()
    requested = evaluation_options(ctx.config.get("evaluate"))
    check_evaluations(requested, ctx.config["train"].get("data", {}))  # before, not after, training
    cfg.run.progress = ctx.show_progress and cfg.run.progress
    train_dir = ctx.run_dir / "train"
    resume = (train_dir / "checkpoints" / "last.pt").is_file()
    nproc = int(ctx.config.get("launch", {}).get("nproc_per_node", 1))
    start = time.perf_counter()
    if nproc > 1:
        result = _train_with_torchrun(cfg, train_dir, resume, nproc)
    else:
        result = train(cfg, train_dir, resume=resume)
    seconds = time.perf_counter() - start
    model = result.model.cpu().eval()
    trained_cfg = _trained_config(train_dir)
    metrics, artefacts = run_evaluations(requested, model, trained_cfg, ctx.run_dir)
    metrics["train"] = {
        "steps": result.step,
        "first_loss": result.first_loss,
        "final_loss": result.last_loss,
        "seconds": seconds,
        "threads": torch.get_num_threads(),  # seconds x threads: the run's core-seconds
        "reached_target": result.reached_target,  # the step that met run.target_excess
        "resumed": resume,
        # held-out loss, Bayes loss, plateau and normalised excess (synthetic data)
        **(result.quality or {}),
    }
    metrics["run"] = {"patch_size": model.patch_size}
    artefacts = {"checkpoint": str(train_dir / "checkpoints" / "last.pt"), **artefacts}
    return RunOutcome(metrics, artefacts)


def torchrun_command(config_path: Path, train_dir: Path, resume: bool, nproc: int) -> list[str]:
    """The command that trains one point on `nproc` processes (one per GPU)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "maeid",
        "train",
        "--config",
        str(config_path),
        "--out",
        str(train_dir),
    ]
    return cmd + (["--resume"] if resume else [])


def _train_with_torchrun(cfg, train_dir: Path, resume: bool, nproc: int):
    from maeid.train.checkpoint import load_checkpoint
    from maeid.train.config import to_yaml
    from maeid.train.loop import TrainResult

    train_dir.mkdir(parents=True, exist_ok=True)
    config_path = train_dir.parent / "train_config.yaml"
    atomic.write_text(config_path, to_yaml(cfg))  # a rerun may find it half-written otherwise
    subprocess.run(torchrun_command(config_path, train_dir, resume, nproc), check=True)
    model, trained = load_checkpoint(train_dir)
    losses = _losses(train_dir / "metrics.jsonl")
    return TrainResult(model, trained.run.steps, losses[0], losses[-1], train_dir)


def _losses(log: Path) -> list[float | None]:
    """First and last logged loss of a run (None when nothing was logged)."""
    if not log.is_file():
        return [None]
    values = [json.loads(line).get("loss") for line in log.read_text().splitlines() if line]
    return values or [None]


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
