"""One loader for a model to measure: a maeid run, a reference-format `.pth`, an HF folder.

`load_any(path)` tells the three apart by what is there:

- a **run**: a run folder (its `checkpoints/last.pt`) or a checkpoint file written by
  `maeid train`; it holds the run's resolved `TrainConfig`, data source included;
- an **HF ViTMAE folder**: `config.json` plus `model.safetensors` or `pytorch_model.bin`
  (the Hub's layout, and what `maeid export --format hf` writes);
- a **reference `.pth`** (or `.safetensors`): a state dict in the reference MAE's names,
  published or written by `maeid export --format reference`.

The last two hold no `TrainConfig`; one is built. The mask ratio is the caller's, else
the one the files record (HF's `config.json`, a maeid export), else an error asking for
it. The masking unit is the caller's, else the recorded one, else one patch (HF masks
single patches). The pixel normalisation is the one the files record (HF's
`preprocessor_config.json`, a maeid reference export), else ImageNet's for a 3-channel
model (what the published MAEs trained with), else unknown: the evaluation data's own
default is used, and a command without data refuses. The training data of an imported
model is unknown: its config names an image folder without a path, so an evaluation
must be told its data (`--data`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from maeid.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from maeid.mae.checkpoint import (
    load_hf_pretrained,
    pretrained_from_state,
    read_weights_file,
    weights_in,
)
from maeid.mae.normalisation import PixelNormalisation, from_preprocessor_config
from maeid.mae.safe_load import load_torch_file
from maeid.train.checkpoint import FORMAT, _legacy_numpy_globals, from_checkpoint
from maeid.train.config import TrainConfig

ORIGINS = ("run", "reference", "hf")
PREPROCESSOR = "preprocessor_config.json"
# Model arguments a TrainConfig's model section records, when they are set.
_MODEL_KEYS = ("patch_size", "embed_dim", "depth", "num_heads", "decoder_embed_dim",
               "decoder_depth", "decoder_num_heads", "mlp_ratio", "norm_pix_loss",
               "boundary_exclude")  # fmt: skip


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode, the config it is measured with, and where it came from."""

    model: nn.Module
    config: TrainConfig
    origin: str  # one of ORIGINS
    path: Path
    normalisation: PixelNormalisation | None  # None: unknown (an import that records none)

    @property
    def knows_its_data(self) -> bool:
        """Whether the config names the data the model trained on (a maeid run)."""
        return self.origin == "run"


def load_any(
    path: str | Path,
    *,
    mask_ratio: float | None = None,
    mask_unit: int | None = None,
    preset: str | None = None,
) -> LoadedModel:
    """The model at `path` (see the module doc); `mask_ratio` and `mask_unit` (pixels)
    override the recorded ones, `preset` names the architecture of a published `.pth`
    that records no head counts (e.g. "vit_b16")."""
    path = Path(path)
    if mask_ratio is not None and not 0 < mask_ratio < 1:
        raise ValueError(f"--mask-ratio {mask_ratio} must lie in (0, 1)")
    if mask_unit is not None and mask_unit < 1:
        raise ValueError(f"--mask-unit {mask_unit} must be a positive number of pixels")
    overrides = {} if mask_unit is None else {"mask_unit": int(mask_unit)}
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; pass a maeid run folder, a checkpoint .pt, a reference "
            ".pth or an HF ViTMAE folder"
        )
    if path.is_dir():
        if (path / "config.json").is_file():
            return _hf(path, mask_ratio, overrides)
        if not (path / "checkpoints").is_dir():
            raise FileNotFoundError(
                f"{path} holds neither checkpoints/last.pt (a maeid run folder) nor "
                "config.json (an HF ViTMAE folder); pass one of those, or a checkpoint file"
            )
        return _run(load_torch_file(path / "checkpoints" / "last.pt", "cpu", _allowed()),
                    path, mask_ratio, overrides)  # fmt: skip
    if path.suffix == ".safetensors":
        state, args = read_weights_file(path)
        return _reference(state, args, {}, path, mask_ratio, preset, overrides)
    content = load_torch_file(path, "cpu", _allowed())
    if isinstance(content, dict) and content.get("format") == FORMAT:
        return _run(content, path, mask_ratio, overrides)
    state, args = weights_in(content, path)
    return _reference(state, args, content, path, mask_ratio, preset, overrides)


# ------------------------------------------------------------------------ the kinds
def _run(ckpt: Any, path: Path, ratio: float | None, overrides: dict) -> LoadedModel:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a maeid training checkpoint (no {FORMAT!r} marker)")
    model, cfg = from_checkpoint(ckpt, "cpu", **overrides)
    if ratio is not None:
        cfg.mask.ratio = float(ratio)
    cfg.mask.unit = model.mask_unit
    norm = None
    if cfg.data.mean and cfg.data.std:
        norm = PixelNormalisation(tuple(cfg.data.mean), tuple(cfg.data.std),
                                  rescale=cfg.data.source != "synthetic")  # fmt: skip
    return LoadedModel(model, cfg, "run", path, norm)


def _hf(folder: Path, ratio: float | None, overrides: dict) -> LoadedModel:
    try:
        recorded = json.loads((folder / "config.json").read_text()).get("mask_ratio")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(
            f"{folder / 'config.json'} is not a JSON object; fix or replace it"
        ) from None
    model, _ = load_hf_pretrained(folder, **overrides)
    norm = None
    if (folder / PREPROCESSOR).is_file():
        try:
            processor = json.loads((folder / PREPROCESSOR).read_text())
        except json.JSONDecodeError:
            raise ValueError(
                f"{folder / PREPROCESSOR} is not valid JSON; fix or remove it"
            ) from None
        norm = from_preprocessor_config(processor, folder / PREPROCESSOR)
    return _imported(model, "hf", folder, _ratio(ratio, recorded, folder), norm)


def _reference(
    state: dict,
    args: dict | None,
    content: Any,
    path: Path,
    ratio: float | None,
    preset: str | None,
    overrides: dict,
) -> LoadedModel:
    if not {"cls_token", "vit.embeddings.cls_token"} & set(state):
        raise ValueError(
            f"{path} is neither a maeid training checkpoint nor MAE weights (no cls_token "
            f"among its {len(state)} tensors); pass a run, a reference .pth or an HF folder"
        )
    model, _ = pretrained_from_state(state, args, path, preset, **overrides)
    recorded = content.get("mask_ratio") if isinstance(content, dict) else None
    saved = content.get("normalisation") if isinstance(content, dict) else None
    norm = PixelNormalisation.from_dict(saved) if isinstance(saved, dict) else None
    return _imported(model, "reference", path, _ratio(ratio, recorded, path), norm)


def _imported(
    model: nn.Module, origin: str, path: Path, ratio: float, norm: PixelNormalisation | None
) -> LoadedModel:
    """An imported model and the config it is measured with (its data unknown)."""
    channels = model.in_chans
    source = path / PREPROCESSOR if origin == "hf" else path
    if norm is not None:
        norm = norm.for_channels(channels, source)
    elif channels == 3:
        norm = PixelNormalisation(IMAGENET_MEAN, IMAGENET_STD)
    cfg = TrainConfig()
    cfg.data.source, cfg.data.data_dir = "image_folder", ""  # which images: unknown
    cfg.data.img_size, cfg.data.channels = model.img_size[0], channels
    cfg.data.mean = norm.mean if norm else ()
    cfg.data.std = norm.std if norm else ()
    cfg.model.preset = ""  # not built from a preset: the sizes below are the model's
    for key in _MODEL_KEYS:
        setattr(cfg.model, key, model.config[key])
    cfg.mask.ratio, cfg.mask.unit = float(ratio), model.mask_unit
    return LoadedModel(model.eval(), cfg, origin, path, norm)


def _ratio(given: float | None, recorded: Any, path: Path) -> float:
    if given is not None:
        return float(given)
    if isinstance(recorded, (int, float)) and 0 < recorded < 1:
        return float(recorded)
    raise ValueError(
        f"{path} does not record the mask ratio it was trained with; pass --mask-ratio "
        "(the published MAEs used 0.75)"
    )


def _allowed() -> list[Any]:
    return _legacy_numpy_globals()
