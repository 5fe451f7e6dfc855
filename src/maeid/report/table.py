"""Markdown tables and the text of a number, as every report section writes them.

One table idiom (header, separator, one line per row) and one formatter per kind of
number: a mean over seeds, a mean with its 95 % Student-t interval, a percentage, a
rank correlation. A value that is missing is written `–`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from maeid.evaluate.intervals import Interval
from maeid.experiments.results_db import RunRecord
from maeid.report.cells import (
    EXCESS,
    Row,
    cell_means,
    interval_of,
    mean_of,
    missing_cells,
    rows_in_cells,
    trained_rows,
)
from maeid.train.quality import TRAINED_EXCESS, under_trained

MISSING = "–"


class Table:
    """A Markdown table built row by row: `Table("ratio", "unit").add(0.5, 4)`."""

    def __init__(self, *head: str) -> None:
        self.head = [str(h) for h in head]
        self.body: list[str] = []

    def add(self, *cells: object) -> Table:
        self.body.append(_line([str(c) for c in cells]))
        return self

    def lines(self) -> list[str]:
        return [_line(self.head), "|" + "---|" * len(self.head), *self.body]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _line(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"  # an empty cell: `| |`


def value_text(value: float | None, style: str = ".3f") -> str:
    """A number in a format spec, or as a percentage with one decimal (style `pct`)."""
    if value is None:
        return MISSING
    return f"{100 * value:.1f}" if style == "pct" else format(value, style)


def mean_text(rows: Iterable[Row], name: str, style: str = ".3f") -> str:
    """The mean of the metric `name` over the rows (seeds), in `style` (`value_text`)."""
    return value_text(mean_of(rows, name), style)


def interval_text(rows: Iterable[Row], name: str) -> str:
    """Mean ± the half-width of the 95 % interval of `name` over the rows (seeds)."""
    return str(interval_of(rows, name))


def percent_text(interval: Interval | None) -> str:
    """An interval of fractions as percentages, one decimal: `81.2 ± 1.4`, `81.2 (n=1)`."""
    if interval is None or math.isnan(interval.value):
        return MISSING
    if interval.n < 2 or math.isnan(interval.halfwidth):
        return f"{100 * interval.value:.1f} (n=1)"
    return f"{100 * interval.value:.1f} ± {100 * interval.halfwidth:.1f}"


def rho_text(rho: Interval | None) -> str:
    """Spearman's rho with its bootstrap 95 % interval: `+0.50 [+0.10, +0.80]`."""
    if rho is None or math.isnan(rho.value):
        return MISSING
    if math.isnan(rho.low):
        return f"{rho.value:+.2f} (no interval)"
    return f"{rho.value:+.2f} [{rho.low:+.2f}, {rho.high:+.2f}]"


def cell_means_table(rows: Sequence[Row], columns: Sequence[tuple[str, str, str]]) -> str:
    """One line per (ratio, unit) cell, one column per (metric, header, style): the mean
    over the cell's seeds in `style` (`value_text`); – where the cell has none."""
    means = {m: cell_means(rows, m, "mask_ratio", "mask_unit") for m, _, _ in columns}
    table = Table("ratio", "unit", *(header for _, header, _ in columns))
    for ratio, unit in sorted({cell for by_cell in means.values() for cell in by_cell}):
        values = [value_text(means[m].get((ratio, unit)), style) for m, _, style in columns]
        table.add(f"{ratio:g}", unit, *values)
    return str(table)


def trained_text(cell: Sequence[Row]) -> str:
    """How many of a cell's runs are trained: `2/3`."""
    return f"{len(trained_rows(cell))}/{len(cell)}"


def cells_text(missing: dict[tuple[float, object], str]) -> str:
    """Cells with a reason each: `ratio 0.5 unit 4 (failed); ratio 0.75 unit 4 (pending)`."""
    return "; ".join(f"ratio {r:g} unit {u} ({why})" for (r, u), why in missing.items())


def gap_notes(rows: Sequence[Row], runs: Sequence[RunRecord], prefix: str) -> list[str]:
    """Lines naming the under-trained runs among those that measured `prefix`, and the
    cells whose runs were asked for the measure but none finished (each after a blank)."""
    notes = []
    under = [r for r in rows_in_cells(rows, prefix) if under_trained(r.get(EXCESS))]
    if under:
        notes.append(
            "Under-trained (normalised excess > "
            f"{TRAINED_EXCESS}; in the table and heat maps, left out of the comparison with "
            "the paper): "
            + "; ".join(
                f"run {r['id']} (ratio {r['mask_ratio']:g}, unit {r['mask_unit']}, "
                f"seed {r.get('seed', MISSING)}, excess {r[EXCESS]:.3f})"
                for r in under
            )  # fmt: skip
            + "."
        )
    missing = missing_cells(rows, runs, prefix)
    if missing:
        notes.append(f"Cells without a finished run (missing from the heat maps): "
                     f"{cells_text(missing)}.")  # fmt: skip
    return [line for note in notes for line in ("", note)]
