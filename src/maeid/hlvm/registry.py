"""Named models and `load_model`, the one door to a model for every other module.

- `qt32`: the reference model (docs/theory.md). 32x32x1 images, 4x4 leaf blocks, latent
  levels of dims 2, 4, 8 (1, 4, 16 nodes), 64 observed leaves of 16 pixels, every
  mechanism square, noise scales (1, 0.3, 0.3, 0.3).
- `qt64`: qt32's tree at twice the resolution for ViT patch 8: 64x64x1, 8x8 leaf blocks
  (64 values, 48 of them the leaf's own noise), latent dims 4, 8, 16.
- `qt224`: ImageNet-shaped, 224x224x3 with 8x8 leaves (one ViT-B/8 token each),
  branching 7, 2, 2 and dims 16, 32, 64 (784 leaves of 192 values). Building it is
  cheap; mechanisms are only drawn when it first samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from maeid.hlvm.model import HierarchicalModel
from maeid.hlvm.quadtree import quadtree_spec
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm, load_rhm
from maeid.hlvm.spec import GraphSpec
from maeid.hlvm.yaml_spec import load_yaml

BUILDERS: dict[str, Callable[[], GraphSpec]] = {
    "qt32": lambda: quadtree_spec(32, 1, leaf=4, dims=(2, 4, 8), name="qt32"),
    "qt64": lambda: quadtree_spec(64, 1, leaf=8, dims=(4, 8, 16), name="qt64"),
    "qt224": lambda: quadtree_spec(
        224, 3, leaf=8, branching=(7, 2, 2), dims=(16, 32, 64), name="qt224"
    ),
    "rhm32": lambda: load_rhm("rhm32").spec,
}


def model_names() -> tuple[str, ...]:
    return tuple(BUILDERS)


def load_spec(name_or_path: str | os.PathLike[str]) -> GraphSpec:
    """The structure of a named model or of a YAML file."""
    key = str(name_or_path)
    if is_rhm(key):
        return load_rhm(key).spec
    if key in BUILDERS:
        return BUILDERS[key]()
    if key.endswith(".npz"):
        from maeid.hlvm.dataset import model_source  # the dataset module imports this one

        source = model_source(key)
        instead = f"the model it was drawn from, {source}" if source else "a model name (qt32)"
        raise ValueError(f"{key} is a .npz dataset, not a model; pass {instead} or a YAML path")
    if key.endswith((".yaml", ".yml")) or os.sep in key or Path(key).exists():
        return load_yaml(key)
    raise ValueError(
        f"unknown model {key!r}: use one of {', '.join(BUILDERS)} or the path of a YAML file"
    )


def load_model(
    name_or_path: str | os.PathLike[str], seed: int = 0
) -> HierarchicalModel | RandomHierarchy:
    """A model from a builder name (`qt32`, `qt64`, `qt224`, `rhm32[:knobs]`) or a YAML path."""
    key = str(name_or_path)
    if is_rhm(key):
        return load_rhm(key, seed=seed)
    spec = load_spec(name_or_path)
    builder = {"name": key} if key in BUILDERS else {"yaml": key}
    return HierarchicalModel(spec, seed=seed, builder=builder)
