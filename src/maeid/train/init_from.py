"""`run.init_from`: start a run from another run's weights, and nothing else.

Unlike `--resume`, which continues one run (its optimiser, schedule, step and random
state), this starts a new run whose model weights are copied from a checkpoint: a
warm start, e.g. from a model trained at one masking cell to continue at another. The
optimiser, the lr schedule, the step count and the data and mask streams are the new
run's own. The architecture must match; the masking unit and ratio need not (neither
is a weight).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from maeid.train.checkpoint import read_checkpoint


def load_initial_weights(model: nn.Module, path: str | Path, device: torch.device) -> None:
    """Copy the weights of checkpoint `path` (a file or a run folder) into `model`."""
    ckpt = read_checkpoint(path, map_location=device)
    theirs, ours = ckpt["model"], model.state_dict()
    missing = sorted(set(ours) - set(theirs))
    extra = sorted(set(theirs) - set(ours))
    shapes = [k for k in ours if k in theirs and theirs[k].shape != ours[k].shape]
    if missing or extra or shapes:
        what = [
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(extra[:3])}" if extra else "",
            "shape of " + ", ".join(f"{k} {tuple(theirs[k].shape)} vs {tuple(ours[k].shape)}"
                                    for k in shapes[:3]) if shapes else "",
        ]  # fmt: skip
        raise ValueError(
            f"run.init_from={path}: its model does not fit this config's "
            f"({'; '.join(w for w in what if w)}); start from a run of the same architecture"
        )
    model.load_state_dict(theirs)
