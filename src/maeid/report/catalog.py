"""Imports every section module, so that each registers itself (`maeid.report.registry`)."""

from maeid.report import (  # noqa: F401
    agreement,
    class_accuracy,
    identifiability,
    per_run_figures,
    probe,
    readouts,
    reconstruction,
    rendition,
    runs,
    shape_bias,
    symbols,
    symbols_rules,
    theory,
    training,
)
