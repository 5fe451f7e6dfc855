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
import tempfile
from pathlib import Path

import numpy as np

from maeid.hlvm.model import HierarchicalModel, Sample
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm_name, load_rhm
from maeid.hlvm.yaml_spec import dump_yaml, spec_from_yaml

FORMAT_VERSION = 1


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

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a dataset is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_dataset(
    path: str | os.PathLike[str],
) -> tuple[HierarchicalModel | RandomHierarchy, Sample]:
    """Read a dataset written by `save_dataset`: the rebuilt model and the sample."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {path}")
    with np.load(path, allow_pickle=False) as archive:
        if "model_json" not in archive.files:
            raise ValueError(f"{path} is not a maeid dataset (no model_json); write one with "
                             "`maeid synth`")  # fmt: skip
        header = json.loads(str(archive["model_json"]))
        arrays = {k: archive[k] for k in archive.files if k != "model_json"}
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has dataset format {header.get('format')}, "
                         f"this maeid reads {FORMAT_VERSION}")  # fmt: skip
    config = header["config"]
    built_as = str((header.get("builder") or {}).get("name", ""))
    if is_rhm_name(built_as):  # a discrete model: its name and seed rebuild it exactly
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
