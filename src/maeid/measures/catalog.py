"""Imports every measure module, so that each registers itself (`maeid.measures.registry`).

Adding a measure: write its module (options, keys, `run`, `summary`) and name it here;
this order is the order `maeid evaluate` runs and prints them in.
"""

import importlib

MODULES = (
    "probe",
    "knn",
    "tsne",
    "reconstruction",
    "attention",
    "robustness",
    "identifiability",
    "symbols",
    "masked_loss",
    "information",
    "class_probe",
    "shape_bias",
    "rendition",
)

for _module in MODULES:
    importlib.import_module(f"maeid.measures.{_module}")
