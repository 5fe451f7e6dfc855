"""Atomic checkpoints, the random state needed for exact resume, and loading a model back.

A checkpoint is one `torch.save` dict: model, optimiser, scheduler and grad-scaler states,
the step, every random state (torch CPU and CUDA, numpy, python, the mask generator; the
data order is a function of (seed, epoch) and the step), the resolved config, and the
arguments that rebuild the model. It is written to a temporary file in the same folder
and renamed over the old one, so a crash mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maeid import atomic
from maeid.mae.safe_load import load_torch_file
from maeid.train.config import TrainConfig, from_dict

FORMAT = "maeid-mae-checkpoint-v1"


def save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save `obj` to `path` through a temp file + os.replace (never half-written)."""
    return atomic.torch_save(obj, path)


def rng_state(mask_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a training step draws from, as tensors and plain values."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": version,
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    if mask_generator is not None:
        state["mask"] = mask_generator.get_state()
    return state


def restore_rng(state: dict[str, Any], mask_generator: torch.Generator | None = None) -> None:
    # Generator states are CPU byte tensors, whatever device the checkpoint was mapped to.
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(_numpy_state(state["numpy"]))
    random.setstate(_python_state(state["python"]))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if mask_generator is not None and "mask" in state:
        mask_generator.set_state(state["mask"].cpu())


def _numpy_state(saved: Any) -> tuple:
    if not isinstance(saved, dict):  # an older checkpoint: numpy's own tuple
        return tuple(saved)
    keys = saved["keys"].numpy().astype(np.uint32)
    return (saved["kind"], keys, saved["pos"], saved["has_gauss"], saved["cached_gaussian"])


def _python_state(saved: Any) -> tuple:
    if not isinstance(saved, dict):
        return tuple(saved)
    internal = tuple(int(x) for x in saved["internal"].tolist())
    return (saved["version"], internal, saved["gauss_next"])


def _legacy_numpy_globals() -> list[Any]:
    """What an older checkpoint's numpy RNG array needs: ndarray, dtype, and the
    function numpy pickles arrays with (its module moved in numpy 2)."""
    uint32 = np.dtype(np.uint32)
    return [np.ndarray, np.dtype, type(uint32), np.zeros(1, np.uint32).__reduce__()[0]]


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, checked to be one of ours.

    Read with `weights_only=True`: a file that would run code when unpickled is refused
    (`UnsafeCheckpointError`, a ValueError), a damaged one gives "truncated or corrupt
    checkpoint PATH".
    """
    path = Path(path)
    if path.is_dir():  # a run directory
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; pass a run folder or its checkpoints/last.pt"
        )
    ckpt = load_torch_file(path, map_location, allow=_legacy_numpy_globals())
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a maeid training checkpoint (no {FORMAT!r} marker)")
    return ckpt


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainConfig]:
    """The trained model (in eval mode) and the run's resolved config.

    `path` is a checkpoint file or a run directory (its `checkpoints/last.pt`).
    """
    return from_checkpoint(read_checkpoint(path, map_location), map_location)


def from_checkpoint(
    ckpt: dict[str, Any], map_location: str | torch.device = "cpu", **overrides: Any
) -> tuple[nn.Module, TrainConfig]:
    """`load_checkpoint` on a checkpoint dict already read; `overrides` change model
    arguments that hold no weights (e.g. `mask_unit`)."""
    from maeid.mae import build_mae

    args = {**ckpt["model_args"], **overrides}
    model = build_mae(args.pop("preset"), **args)
    model.load_state_dict(ckpt["model"])
    return model.to(map_location).eval(), from_dict(ckpt["config"])
