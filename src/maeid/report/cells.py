"""A results database's rows, grouped the ways every report section groups them.

A row is one finished run as `ResultsDB.metric_table` returns it: the sweep's axes
(`mask_ratio`, `mask_unit`, `seed`) and the run's `id` beside dotted metric names. A
*cell* is one (masking ratio, masking unit) of the grid; its rows are its seeds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from maeid.evaluate.intervals import Interval, mean_interval
from maeid.experiments.results_db import RunRecord
from maeid.train.quality import under_trained

Row = dict[str, Any]
Cell = tuple[float, Any]  # (masking ratio, masking unit)
RATIO, UNIT = "mask_ratio", "mask_unit"
EXCESS = "train.normalised_excess"  # the training-quality label every section filters on
AXES = frozenset({"id", "config_hash", "seed", RATIO, UNIT})  # a row's keys that are no metric


def values_of(rows: Iterable[Row], name: str) -> list[float]:
    """The metric `name` of every row that holds it."""
    return [float(r[name]) for r in rows if r.get(name) is not None]


def mean(values: Sequence[float]) -> float | None:
    """The mean of `values`, None without any (every table's mean is this one)."""
    return sum(values) / len(values) if values else None


def mean_of(rows: Iterable[Row], name: str) -> float | None:
    """The mean of the metric `name` over the rows that hold it; None if none does."""
    return mean(values_of(rows, name))


def interval_of(rows: Iterable[Row], name: str) -> Interval:
    """Mean and Student-t 95 % interval of the metric `name` over the rows (seeds)."""
    return mean_interval([r.get(name) for r in rows])


def trained_rows(rows: Iterable[Row]) -> list[Row]:
    """The rows of trained runs: normalised excess within `TRAINED_EXCESS`, or unknown."""
    return [r for r in rows if not under_trained(r.get(EXCESS))]


def cells(rows: Iterable[Row], prefix: str | None = None) -> dict[Cell, list[Row]]:
    """Rows by (ratio, unit), in grid order; with `prefix`, only rows holding a metric
    under it (`symbols` keeps the rows with some `symbols.*`)."""
    grouped: dict[Cell, list[Row]] = defaultdict(list)
    for row in rows:
        if row.get(RATIO) is None or row.get(UNIT) is None:
            continue
        if prefix is None or any(k.startswith(f"{prefix}.") for k in row):
            grouped[(row[RATIO], row[UNIT])].append(row)
    return dict(sorted(grouped.items()))


def missing_cells(rows: Iterable[Row], runs: Iterable[RunRecord], prefix: str) -> dict[Cell, str]:
    """Cells of the sweep's runs that asked for the measure `prefix` but that no finished
    run measured, with their runs' states (`failed`, `pending, running`, ...)."""
    done = set(cells(rows, prefix))
    states: dict[Cell, set[str]] = defaultdict(set)
    for run in runs:
        requested = (run.config or {}).get("evaluate")  # names, or names mapped to options
        if requested is not None and prefix not in requested:
            continue  # the run was never asked for this measure
        if run.mask_ratio is not None and run.mask_unit is not None:
            states[(run.mask_ratio, run.mask_unit)].add(run.status)
    return {cell: ", ".join(sorted(s)) for cell, s in sorted(states.items()) if cell not in done}


def rows_in_cells(rows: Iterable[Row], prefix: str) -> list[Row]:
    """The rows `cells(rows, prefix)` keeps, in grid order."""
    return [r for cell in cells(rows, prefix).values() for r in cell]


def units_of(rows: Iterable[Row]) -> list[Any]:
    return sorted({r[UNIT] for r in rows if r.get(UNIT) is not None})


def ratios_of(rows: Iterable[Row]) -> list[float]:
    return sorted({r[RATIO] for r in rows if r.get(RATIO) is not None})


def by_ratio(rows: Iterable[Row], name: str, unit: Any) -> dict[float, list[float]]:
    """{ratio: the metric `name` of the rows at `unit`}, ratios ascending."""
    groups: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r.get(UNIT) == unit and r.get(RATIO) is not None and r.get(name) is not None:
            groups[r[RATIO]].append(float(r[name]))
    return dict(sorted(groups.items()))


def ratio_intervals(rows: Iterable[Row], name: str, unit: Any) -> dict[float, Interval]:
    """{ratio: mean and 95 % interval of `name` over the rows (seeds) at `unit`}."""
    return {x: mean_interval(v) for x, v in by_ratio(rows, name, unit).items()}


def cell_means(rows: Iterable[Row], metric: str, x: str, y: str | None = None) -> dict:
    """{(x, y) or x: mean of `metric` over the rows (seeds) with those values}."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        value = row.get(metric)
        if value is None or row.get(x) is None or (y is not None and row.get(y) is None):
            continue
        key = (row[x], row[y]) if y is not None else row[x]
        groups[key].append(float(value))
    return {key: mean(vals) for key, vals in groups.items()}


def in_numeric_order(names: Iterable[str]) -> list[str]:
    """`level_10` after `level_9`: names ordered by the number they hold."""
    return sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or 0))


def suffixes(rows: Iterable[Row], name: str) -> list[str]:
    """The last parts under the metric `name` (`level_k`, `budget_n`), in numeric order:
    `suffixes(rows, "symbols.probe_full")` -> `["level_0", "level_1", ...]`."""
    head = f"{name}."
    return in_numeric_order(
        {key[len(head) :] for row in rows for key in row if key.startswith(head)}
    )
