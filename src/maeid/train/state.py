"""The training state: what an optimiser step changes, and what of it a checkpoint holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from maeid.mae import MaskedAutoencoder
from maeid.train.checkpoint import FORMAT, rng_state
from maeid.train.config import TrainConfig, to_dict


@dataclass
class TrainingState:
    """What a step changes and a checkpoint saves."""

    model: MaskedAutoencoder
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    mask_gen: torch.Generator


def checkpoint_payload(
    cfg: TrainConfig,
    state: TrainingState,
    step: int,
    epoch: int,
    stream: Any,
    quality: dict[str, float] | None,
) -> dict[str, Any]:
    """Everything a bit-exact resume needs, and the last held-out measure. `stream` is
    the run's batch stream (its batches per epoch and process count are recorded)."""
    return {
        "format": FORMAT,
        "step": step,
        "epoch": epoch,
        "model": state.model.state_dict(),
        "model_args": {"preset": cfg.model.preset, **state.model.config},
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "rng": rng_state(state.mask_gen),
        "data_order": {
            "seed": cfg.run.seed,
            "epoch": epoch,
            "batches_per_epoch": stream.steps_per_epoch,
            "world_size": getattr(stream, "world_size", 1),
        },
        "config": to_dict(cfg),
        "heldout": quality,
    }
