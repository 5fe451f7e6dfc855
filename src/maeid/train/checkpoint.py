"""Atomic checkpoints, the random state needed for exact resume, and loading a model back.

A checkpoint is one `torch.save` dict: model, optimiser, scheduler and grad-scaler states,
the step, every random state (torch CPU and CUDA, numpy, python, the mask generator; the
data order is a function of (seed, epoch) and the step), the resolved config, and the
arguments that rebuild the model. It is written to a temporary file in the same folder
and renamed over the old one, so a crash mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maeid.train.config import TrainConfig, from_dict

FORMAT = "maeid-mae-checkpoint-v1"


def save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save `obj` to `path` through a temp file + os.replace (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def rng_state(mask_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a training step draws from."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    if mask_generator is not None:
        state["mask"] = mask_generator.get_state()
    return state


def restore_rng(state: dict[str, Any], mask_generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if mask_generator is not None and "mask" in state:
        mask_generator.set_state(state["mask"])


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, checked to be one of ours.

    The file is unpickled in full (it holds numpy and python RNG states), so read only
    checkpoints you trust, as with any `torch.load(weights_only=False)`.
    """
    path = Path(path)
    if path.is_dir():  # a run directory
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # a foreign or damaged file: say which
        raise ValueError(f"{path} is not a readable checkpoint ({err})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a maeid training checkpoint (no {FORMAT!r} marker)")
    return ckpt


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainConfig]:
    """The trained model (in eval mode) and the run's resolved config.

    `path` is a checkpoint file or a run directory (its `checkpoints/last.pt`).
    """
    from maeid.mae import build_mae

    ckpt = read_checkpoint(path, map_location)
    args = dict(ckpt["model_args"])
    model = build_mae(args.pop("preset"), **args)
    model.load_state_dict(ckpt["model"])
    return model.to(map_location).eval(), from_dict(ckpt["config"])
