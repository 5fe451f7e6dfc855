"""The report's one table layer: rows grouped by cell, and the text of tables and numbers."""

from __future__ import annotations

import math

from maeid.evaluate.intervals import Interval, mean_interval
from maeid.report.cells import by_ratio, cells, mean_of, suffixes, trained_rows
from maeid.report.table import Table, mean_text, percent_text, rho_text, value_text

ROWS = [
    {"id": 1, "mask_ratio": 0.75, "mask_unit": 4, "symbols.probe_full.level_10": 0.5,
     "train.normalised_excess": 0.5},
    {"id": 2, "mask_ratio": 0.25, "mask_unit": 8, "symbols.probe_full.level_2": 0.25},
    {"id": 3, "mask_ratio": 0.25, "mask_unit": 4, "shape_bias.trained": 0.75},
    {"id": 4, "mask_ratio": 0.25, "mask_unit": 4, "symbols.probe_full.level_2": 0.125,
     "train.normalised_excess": 0.25},
    {"id": 5, "mask_unit": 4, "symbols.probe_full.level_2": 1.0},  # no ratio: in no cell
]  # fmt: skip


def test_cells_group_by_ratio_then_unit_and_keep_the_rows_of_a_measure():
    assert list(cells(ROWS)) == [(0.25, 4), (0.25, 8), (0.75, 4)]
    by_cell = cells(ROWS, "symbols")
    assert {cell: [r["id"] for r in rows] for cell, rows in by_cell.items()} == {
        (0.25, 4): [4], (0.25, 8): [2], (0.75, 4): [1]
    }  # fmt: skip
    assert [r["id"] for r in trained_rows(ROWS)] == [2, 3, 4, 5]  # 0.25 is still trained
    assert suffixes(ROWS, "symbols.probe_full") == ["level_2", "level_10"]  # by number
    assert by_ratio(ROWS, "symbols.probe_full.level_2", 4) == {0.25: [0.125]}


def test_a_table_is_a_header_a_separator_and_a_line_per_row():
    table = Table("ratio", "unit", "").add("0.5", 4, "trained").add("0.75", 8, "")
    assert str(table) == (
        "| ratio | unit | |\n|---|---|---|\n| 0.5 | 4 | trained |\n| 0.75 | 8 | |"
    )


def test_numbers_are_written_one_way():
    assert mean_text(ROWS, "symbols.probe_full.level_2") == f"{(0.25 + 0.125 + 1.0) / 3:.3f}"
    assert mean_of(ROWS, "absent") is None and mean_text(ROWS, "absent") == "–"
    assert value_text(0.8125, "pct") == "81.2" and value_text(0.5, ".1f") == "0.5"
    three = mean_interval([0.5, 0.625, 0.75])
    assert percent_text(three) == f"62.5 ± {100 * three.halfwidth:.1f}"
    assert percent_text(mean_interval([0.5])) == "50.0 (n=1)"
    assert percent_text(None) == "–" and percent_text(mean_interval([])) == "–"
    assert rho_text(Interval(0.5, 0.125, 0.75, 9)) == "+0.50 [+0.12, +0.75]"
    assert rho_text(Interval(-1.0, math.nan, math.nan, 3)) == "-1.00 (no interval)"
    assert rho_text(None) == "–" and rho_text(Interval(math.nan, 0, 0, 0)) == "–"
