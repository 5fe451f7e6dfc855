"""Measurements of a trained MAE, each one object registered where it is defined.

`run_measures(EvalContext(model, cfg, out), {"symbols": {"pool": "tokens"}})` serves
`maeid evaluate` and the sweep pipeline alike; `measure_names()` lists what exists and
`get_measure(name)` gives one, with its options, the data it needs and the metric keys it
writes.
"""

import maeid.measures.catalog  # noqa: F401  (every measure registers itself)
from maeid.measures.context import EvalContext, Split
from maeid.measures.data_kind import DataKind, Needs, trained_kind
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import (
    Measure,
    Outcome,
    check_requested,
    default_measures,
    get_measure,
    measure_names,
    register,
)
from maeid.measures.run import Evaluation, run_measures

__all__ = [
    "DataKind",
    "EvalContext",
    "Evaluation",
    "Measure",
    "MetricKey",
    "Needs",
    "Options",
    "Outcome",
    "Split",
    "check_requested",
    "default_measures",
    "get_measure",
    "measure_names",
    "option",
    "register",
    "run_measures",
    "trained_kind",
]
