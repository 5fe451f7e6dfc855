"""Resuming a run: whether it may be resumed under this config, and its state restored.

A run resumes bit for bit only where everything that shapes its numbers is as it was:
the config (bar the keys below), the batches per epoch, the process count that drew its
fresh data, and the device its masks were drawn on. Each mismatch is refused in one line
before anything is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from maeid.train.checkpoint import read_checkpoint, restore_rng
from maeid.train.config import TrainConfig, differences, from_dict
from maeid.train.schedule import restretch
from maeid.train.state import TrainingState

# Keys that may change between a run and its resumption: they do not touch the numbers
# (run.steps moves the end of the lr schedule, see maeid.train.loop; run.target_excess
# only says when to stop; run.compile changes kernels, not the model).
RESUMABLE_KEYS = frozenset(
    {"run.steps", "run.log_every", "run.ckpt_every", "run.recon_every", "run.recon_images",
     "run.progress", "run.device", "run.eval_every", "run.eval_images", "run.target_excess",
     "run.compile", "data.num_workers", "data.on_device", "data.data_dir"}
)  # fmt: skip


def checkpoint_path(out_dir: Path, resume: bool) -> Path:
    """The run's checkpoint path, refused if `resume` asks for one that is not there or a
    fresh run would overwrite one that is."""
    path = out_dir / "checkpoints" / "last.pt"
    if resume and not path.is_file():
        raise FileNotFoundError(f"cannot resume: {path} does not exist; drop --resume")
    if not resume and path.is_file():
        raise ValueError(
            f"{out_dir} already holds a run ({path}); pass --resume to continue it "
            "or choose another --out"
        )
    return path


def restore(
    ckpt_path: Path,
    cfg: TrainConfig,
    state: TrainingState,
    stream: Any,
    out_dir: Path,
    device: torch.device,
) -> tuple[int, dict[str, float] | None]:
    """Load a checkpoint into `state`, once it is shown to be this config's; return its
    step and its last held-out measure (None in checkpoints older than that field)."""
    ckpt = read_checkpoint(ckpt_path, map_location=device)
    step = _resumable_step(ckpt, ckpt_path, cfg, state, stream, out_dir)
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    restretch(state.scheduler, cfg.run.steps)  # a no-op unless run.steps changed
    state.scaler.load_state_dict(ckpt["scaler"])
    restore_rng(ckpt["rng"], state.mask_gen)
    return step, ckpt.get("heldout")


def _resumable_step(
    ckpt: dict[str, Any],
    ckpt_path: Path,
    cfg: TrainConfig,
    state: TrainingState,
    stream: Any,
    out_dir: Path,
) -> int:
    """The checkpoint's step, after every check that resuming it continues the same run."""
    saved = from_dict(ckpt["config"])
    diffs = differences(saved, cfg, ignore=RESUMABLE_KEYS)
    if diffs:
        listed = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, a, b in diffs)
        raise ValueError(f"cannot resume {ckpt_path} under a different config: {listed}")
    saved_batches = ckpt["data_order"]["batches_per_epoch"]
    if saved_batches != stream.steps_per_epoch:
        raise ValueError(
            f"cannot resume {ckpt_path}: the data now make {stream.steps_per_epoch} "
            f"batches per epoch, the checkpoint's made {saved_batches}; point "
            "data.data_dir at the data the run started with"
        )
    saved_world = ckpt["data_order"].get("world_size", 1)
    if cfg.data.fresh and saved_world != stream.world_size:
        raise ValueError(
            f"cannot resume {ckpt_path} on {stream.world_size} process(es): its fresh data "
            f"were drawn per rank by {saved_world}; resume with {saved_world}"
        )
    saved_mask = ckpt["rng"].get("mask")
    if saved_mask is not None and saved_mask.numel() != state.mask_gen.get_state().numel():
        raise ValueError(
            f"cannot resume {ckpt_path} on {state.mask_gen.device.type}: its masks were drawn "
            "by a generator on another device; set run.device to the one it trained on"
        )
    step = int(ckpt["step"])
    if cfg.run.steps < step:
        raise ValueError(
            f"run.steps={cfg.run.steps} is below the {step} steps {out_dir} has done; "
            f"a run cannot be shortened, set run.steps >= {step}"
        )
    return step
