"""A sampled dataset on disk: one `.npz` that also holds the model, so the exact same
model can be rebuilt from the file alone.

Layout of the archive:
- `images` (N, C, H, W) float32 for image models; their observed vectors are not stored
  twice but read back from the pixel blocks. Other models store `observed:<name>`.
- `latent:<name>` and `noise:<name>`, (N, dim) float32 (int64 symbols and rule choices
  for the random-hierarchy model).
- `model_json`: the spec as YAML text (`maeid.hlvm.yaml_spec`), the mechanism settings
  (seed, depth, slope, pilot size) and how the model was built (e.g. `{"name": "qt32"}`).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from maeid.atomic import atomic_path
from maeid.hlvm.model import HierarchicalModel, Sample
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm, load_rhm
from maeid.hlvm.yaml_spec import dump_yaml, spec_from_yaml

FORMAT_VERSION = 1
# How a zip archive (every .npz) begins: a first entry, or the end record of an empty one.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def save_dataset(
    path: str | os.PathLike[str], model: HierarchicalModel | RandomHierarchy, sample: Sample
) -> Path:
    """Write `sample` and `model` to `path` (a `.npz`) atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"dataset path {path} must end in .npz")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist")
    spec = model.spec
    missing = [k for k in spec.latents if k not in sample.latents]
    missing += [k for k in spec.observed if k not in sample.observed]
    if missing:
        raise ValueError(f"sample does not match model {model.name!r}: no values for {missing[:5]}")

    header = {
        "format": FORMAT_VERSION,
        "spec_yaml": dump_yaml(spec),
        "config": model.config,
        "builder": model.builder,
    }
    arrays: dict[str, np.ndarray] = {"model_json": np.array(json.dumps(header))}
    if sample.images is not None:
        arrays["images"] = sample.images
    else:
        arrays.update({f"observed:{k}": sample.observed[k] for k in spec.observed})
    arrays.update({f"latent:{k}": sample.latents[k] for k in spec.latents})
    arrays.update({f"noise:{k}": v for k, v in sample.noises.items()})

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_dataset(
    path: str | os.PathLike[str],
) -> tuple[HierarchicalModel | RandomHierarchy, Sample]:
    """Read a dataset written by `save_dataset`: the rebuilt model and the sample."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {path}")
    _check_is_zip(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "model_json" not in archive.files:
                raise ValueError(f"{path} is not a maeid dataset (no model_json); write one "
                                 "with `maeid synth`")  # fmt: skip
            header = json.loads(str(archive["model_json"]))
            arrays = {k: archive[k] for k in archive.files if k != "model_json"}
    except (zipfile.BadZipFile, EOFError, OSError) as err:  # cut short after the header
        raise ValueError(
            f"{path} is a damaged .npz ({err}); write it again with `maeid synth`"
        ) from None
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has dataset format {header.get('format')}, "
                         f"this maeid reads {FORMAT_VERSION}")  # fmt: skip
    config = header["config"]
    built_as = str((header.get("builder") or {}).get("name", ""))
    if is_rhm(built_as):  # a discrete model: its name and seed rebuild it exactly
        model: HierarchicalModel | RandomHierarchy = load_rhm(built_as, seed=config["seed"])
    else:
        model = HierarchicalModel(
            spec_from_yaml(header["spec_yaml"], source=str(path)), seed=config["seed"],
            depth=config["depth"], slope=config["slope"], pilot=config["pilot"],
            builder=header.get("builder"),
        )  # fmt: skip
    spec = model.spec

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

    images = arrays.get("images")
    observed = model.unrender(images) if images is not None else group("observed:")
    latents = group("latent:")
    return model, Sample(
        images=images,
        observed={k: observed[k] for k in spec.observed},
        latents={k: latents[k] for k in spec.latents},
        noises=group("noise:"),
    )


def model_source(path: str | os.PathLike[str]) -> str | None:
    """How a dataset's model was built, from the header alone: its name (`qt32`, with
    knobs for rhm32) or YAML path, and its model seed; None if the file does not say."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        _check_is_zip(path)
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["model_json"]))
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
        return None
    builder = header.get("builder") or {}
    source = builder.get("name") or builder.get("yaml")
    return f"{source} (model seed {header['config']['seed']})" if source else None


def _check_is_zip(path: Path) -> None:
    """Refuse a file that is not a zip archive before numpy, which takes anything else for
    a pickle and suggests loading it unsafely."""
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        raise ValueError(f"{path} is empty (0 bytes); write the dataset again with `maeid synth`")
    if head not in ZIP_MAGICS:
        raise ValueError(
            f"{path} is not a .npz archive (it does not start as a zip file); pass a dataset "
            "written by `maeid synth`"
        )
