"""Imports every section module, so that each registers itself (`maeid.report.registry`).

Adding a section: write its module (`@section(name, reads=...)`) and name it here; this
order is the order of the sections in `report.md`.
"""

import importlib

MODULES = (
    "theory",
    "runs",
    "training",
    "symbols",
    "symbols_rules",
    "readouts",
    "class_accuracy",
    "shape_bias",
    "rendition",
    "identifiability",
    "agreement",
    "probe",
    "reconstruction",
    "per_run_figures",
)

for _module in MODULES:
    importlib.import_module(f"maeid.report.{_module}")
