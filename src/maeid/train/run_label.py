"""The line a figure opens with: which run drew it, and whether its model is trained.

    98cad4d6a5dbe78b · trained (excess 0.21)
    98cad4d6a5dbe78b · under-trained (excess 1.02)
    tiny-run                                       (no held-out measure in its log)
    mae_pretrain_vit_base.pth · training unknown   (an imported model)

The excess is the last `normalised_excess` of the run's `metrics.jsonl`, the measure
`maeid.train.quality` logs on synthetic data (trained: at most `TRAINED_EXCESS`). A sweep
point trains into `RUN/train`; it is named by `RUN`, the folder the report's run table
names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from maeid.train.quality import under_trained

SEPARATOR = " · "
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
SHIPPED_RECIPE = "recipe.yaml"  # beside a shipped model.pt (`maeid.shipped`)
# A sweep point's folder: the first 16 hex digits of its config hash (`SweepPoint.run_dir`).
_SWEEP_POINT = re.compile(r"[0-9a-f]{16}")


def run_name(train_dir: str | Path) -> str:
    """The name of the run that trained into `train_dir`: the folder's own name, or the
    sweep point's for a sweep point's `RUN/train`."""
    folder = Path(train_dir).resolve()
    if folder.name == "train" and _SWEEP_POINT.fullmatch(folder.parent.name):
        return folder.parent.name
    return folder.name


def last_excess(metrics_path: str | Path) -> float | None:
    """The last normalised excess a training log holds (None: no log, or no held-out measure)."""
    path = Path(metrics_path)
    if not path.is_file():
        return None
    excess = None
    for line in path.read_text().splitlines():
        try:
            excess = json.loads(line).get("normalised_excess", excess)
        except json.JSONDecodeError:  # a blank line, or one cut short by a crash
            continue
    return None if excess is None else float(excess)


def training_label(name: str, excess: float | None) -> str:
    """`name`, and whether the model is trained, by its held-out excess (None: unmeasured)."""
    if excess is None:
        return name
    state = "under-trained" if under_trained(excess) else "trained"
    return f"{name}{SEPARATOR}{state} (excess {excess:.2f})"


def run_label(train_dir: str | Path) -> str:
    """The label of the run in `train_dir` (the folder holding `checkpoints/` and its log)."""
    return training_label(run_name(train_dir), last_excess(Path(train_dir) / METRICS_FILE))


def model_label(path: str | Path, origin: str) -> str:
    """The label of a model `maeid.train.load_any` read from `path` with `origin`: a maeid
    run (its folder, or a checkpoint in its `checkpoints/`) by the run; a shipped model
    by its folder and the excess its recipe records; another checkpoint outside a run
    folder by its file name; an imported model by its file or folder name,
    its training unknown to maeid."""
    path = Path(path)
    if origin != "run":
        return f"{path.name}{SEPARATOR}training unknown"
    if path.is_dir():
        return run_label(path)
    if path.parent.name == CHECKPOINTS:
        return run_label(path.parent.parent)
    recipe = path.parent / SHIPPED_RECIPE
    if recipe.is_file():  # a model shipped in checkpoints/: its folder and recorded excess
        excess = (yaml.safe_load(recipe.read_text()) or {}).get("heldout_excess")
        return training_label(path.parent.name, None if excess is None else float(excess))
    return path.name
