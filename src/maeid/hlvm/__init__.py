"""Hierarchical latent-variable models (Assumption 1 of the paper).

spec      GraphSpec: a validated DAG of latent and observed nodes (structure only)
quadtree  image-shaped hierarchies (the reference model `qt32`)
yaml_spec any DAG from YAML, and back
mechanisms, model
          seeded invertible mechanisms; `HierarchicalModel.sample(n, seed)`
variance  the share of observed variance each latent level carries
dataset   save/load a sample together with its model, bit for bit
random_hierarchy
          the discrete random-hierarchy image model `rhm32` (symbols, rules, rendering)
registry  `load_model("qt32" | "rhm32:v=4" | "path.yaml", seed)`: the one way in

>>> model = load_model("qt32")
>>> sample = model.sample(256, seed=0)
>>> sample.images.shape, sample.latents["z0"].shape
((256, 1, 32, 32), (256, 2))
"""

from maeid.hlvm.dataset import load_dataset, save_dataset
from maeid.hlvm.model import HierarchicalModel, Sample
from maeid.hlvm.quadtree import quadtree_spec
from maeid.hlvm.random_hierarchy import RandomHierarchy, RHMKnobs
from maeid.hlvm.registry import BUILDERS, load_model, load_spec, model_names
from maeid.hlvm.spec import GraphSpec, Node, SpecError
from maeid.hlvm.variance import LevelShare, format_variance_table, variance_by_level
from maeid.hlvm.yaml_spec import dump_yaml, load_yaml, spec_from_yaml

__all__ = [
    "BUILDERS",
    "GraphSpec",
    "HierarchicalModel",
    "LevelShare",
    "Node",
    "RHMKnobs",
    "RandomHierarchy",
    "Sample",
    "SpecError",
    "dump_yaml",
    "format_variance_table",
    "load_dataset",
    "load_model",
    "load_spec",
    "load_yaml",
    "model_names",
    "quadtree_spec",
    "save_dataset",
    "spec_from_yaml",
    "variance_by_level",
]
