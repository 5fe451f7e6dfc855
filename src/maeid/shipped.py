"""Small trained models that ship with maeid, each made by one of the project's recipes.

They live in `checkpoints/<name>/` of a checkout, so that the demo (and a user) can hold
trained models against the theory without first paying for their training:

- `model.pt`: a maeid checkpoint without the optimiser: the weights, the arguments that
  rebuild the model, the step and the run's resolved config (`maeid evaluate`,
  `load_any` and `load_checkpoint` read it like any run's checkpoint);
- `recipe.yaml`: the recipe (a config under `configs/` and its `--set` overrides), the
  command that trained the model, the step it stopped at and its held-out excess;
- `heldout.csv` and `heldout.png`: the training curve, the held-out masked loss beside the
  exact Bayes loss and the plateau at every evaluation step;
- `SHA256SUMS`: the checksum of `model.pt`, verified before the model is used.

`write_shipped` makes one from a finished run; `shipped_models` lists them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maeid import atomic
from maeid.train.checkpoint import read_checkpoint
from maeid.train.config import TrainConfig, differences, from_dict, load_config
from maeid.train.heldout_plot import plot_heldout

MODEL, RECIPE, CURVE, CURVE_PNG, SUMS = (
    "model.pt", "recipe.yaml", "heldout.csv", "heldout.png", "SHA256SUMS"
)  # fmt: skip
# Keys outside "the shipped config is the recipe's": the pixel statistics a run resolves
# from its data while it trains (a recipe leaves them open), and the progress bar (display).
NOT_RECIPE = frozenset({"data.mean", "data.std", "run.progress"})
CURVE_COLUMNS = ("step", "heldout_loss", "bayes_loss", "plateau_loss", "normalised_excess")


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its folder and what `recipe.yaml` records."""

    name: str
    folder: Path
    recipe: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.folder / MODEL

    @property
    def excess(self) -> float:
        return float(self.recipe["heldout_excess"])

    def recipe_config(self, root: Path) -> TrainConfig:
        """The config the recipe resolves to in the checkout at `root`."""
        return load_config(root / self.recipe["config"], list(self.recipe["set"]))

    def shipped_config(self) -> TrainConfig:
        return from_dict(read_checkpoint(self.verified())["config"])

    def recipe_differences(self, root: Path) -> list[tuple[str, Any, Any]]:
        """Where the shipped model's config differs from its recipe (empty: it is the recipe's)."""
        return differences(self.shipped_config(), self.recipe_config(root), NOT_RECIPE)

    def verified(self) -> Path:
        """`model.pt`, once its checksum matches `SHA256SUMS` (else a ValueError)."""
        expected = _read_sums(self.folder / SUMS).get(MODEL)
        actual = sha256(self.model_path)
        if expected != actual:
            raise ValueError(
                f"{self.model_path}: checksum {actual[:12]}... does not match {SUMS} "
                f"({(expected or 'missing')[:12]}...); the file is damaged or was changed: "
                "restore it with `git checkout -- checkpoints`"
            )
        return self.model_path


def checkpoints_dir(start: Path | None = None) -> Path:
    """`checkpoints/` of this checkout (the shipped models travel with the repository)."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent / "checkpoints"
        if (candidate / "README.md").is_file():
            return candidate
    raise FileNotFoundError(
        f"no checkpoints/ folder above {here}; the shipped models come with a maeid checkout"
    )


def shipped_models(folder: Path | None = None) -> list[Shipped]:
    """Every shipped model under `folder` (default: this checkout's), by name."""
    folder = folder or checkpoints_dir()
    found = []
    for recipe in sorted(folder.glob(f"*/{RECIPE}")):
        found.append(Shipped(recipe.parent.name, recipe.parent, yaml.safe_load(recipe.read_text())))
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_shipped(
    train_dir: Path, dest: Path, config: str, sets: list[str], command: str
) -> Shipped:
    """Ship the run in `train_dir` (it must have met its criterion) as `dest`.

    `config` (relative to the checkout) and `sets` are the recipe; `command` is how the
    run was trained. Every file is written atomically; `dest` is created if needed.
    """
    ckpt = read_checkpoint(train_dir)
    curve = heldout_curve(train_dir / "metrics.jsonl")
    if not curve:
        raise ValueError(f"{train_dir}: no held-out measure in metrics.jsonl; nothing to ship")
    last = curve[-1]
    if last["step"] != ckpt["step"]:
        raise ValueError(
            f"{train_dir}: the checkpoint is at step {ckpt['step']} but the last held-out "
            f"measure at step {last['step']}; ship a run that stopped on a measure"
        )
    dest.mkdir(parents=True, exist_ok=True)
    slim = {key: ckpt[key] for key in ("format", "model", "model_args", "config", "step")}
    atomic.torch_save(slim, dest / MODEL)
    recipe = {
        "config": config,
        "set": list(sets),
        "command": command,
        "step": int(ckpt["step"]),
        "heldout_excess": round(float(last["normalised_excess"]), 4),
        "heldout_loss": round(float(last["heldout_loss"]), 4),
        "bayes_loss": round(float(last["bayes_loss"]), 4),
    }
    atomic.write_text(dest / RECIPE, yaml.safe_dump(recipe, sort_keys=False))
    atomic.write_text(dest / CURVE, _csv(curve))
    plot_heldout(train_dir / "metrics.jsonl", dest / CURVE_PNG, name=dest.name)
    atomic.write_text(dest / SUMS, f"{sha256(dest / MODEL)}  {MODEL}\n")
    return Shipped(dest.name, dest, recipe)


def heldout_curve(metrics: Path) -> list[dict[str, float]]:
    """The held-out measures of a run's metrics.jsonl, in step order."""
    if not metrics.is_file():
        return []
    rows = []
    for line in metrics.read_text().splitlines():
        entry = json.loads(line) if line.strip() else {}
        if "normalised_excess" in entry:
            rows.append({key: entry[key] for key in CURVE_COLUMNS})
    return rows


def read_curve(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _csv(rows: list[dict[str, float]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CURVE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


__all__ = ["Shipped", "checkpoints_dir", "shipped_models", "write_shipped", "heldout_curve"]
