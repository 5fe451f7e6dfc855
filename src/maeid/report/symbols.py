"""The report of an rhm32 sweep: what the encoder reads of each level of the grammar.

Reads the metrics of the `symbols` measure, under `symbols.`: per view (`full` image,
`visible` tokens) and level k, the trained encoder's `probe_<view>.level_k` and
`knn_<view>.level_k`, the floors `untrained_probe_<view>.level_k` (the encoder at
initialisation) and `pixels_probe_<view>.level_k` (the view's pixels), the Bayes limit
`bayes_<view>.level_k` and `chance.level_k`; and the theory's profile of the run's
(ratio, unit): `d_c_bits`, `c_share.level_k`, `p_in_S.level_k`. The section, from the
database alone:

- per-level probe accuracy over ratio x unit (heat maps and a table with 95 % intervals
  over seeds), beside the floors, chance and the Bayes limits;
- the theory's profile of the same cells;
- Spearman's rho between each theory quantity and what training added (trained minus
  floor) per level, over all cells and within each unit, on trained runs only
  (`maeid.report.agreement`), and the verdict per level.

The class through the root's rules (`maeid.report.symbols_rules`), the pre-registered
readouts (`maeid.report.readouts`) and the class probe against the ratio
(`maeid.report.class_accuracy`) are sections of their own, after this one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from maeid.evaluate.symbols import READOUTS
from maeid.experiments.results_db import RunRecord
from maeid.report.agreement import rank_agreement
from maeid.report.cells import (
    EXCESS,
    Row,
    cells,
    interval_of,
    mean_of,
    missing_cells,
    suffixes,
    units_of,
)
from maeid.report.figures import level_heatmaps
from maeid.report.registry import Page, section
from maeid.report.table import Table, cells_text, mean_text, rho_text, trained_text, value_text
from maeid.train.quality import TRAINED_EXCESS

PREFIX = "symbols"
VIEWS = {"full": "full image", "visible": "visible tokens"}
# Theory quantities held against the measurement: name -> (metric for a level, label).
THEORY = {
    "d_c_bits": (lambda level: f"{PREFIX}.d_c_bits", "d_c (bits)"),
    "c_share": (lambda level: f"{PREFIX}.c_share.{level}", "share of c at the level"),
    "p_in_S": (lambda level: f"{PREFIX}.p_in_S.{level}", "P(level in S)"),
}
VERDICT_VIEW = "full"  # a probe reads the full image, as the paper's linear probe does
VERDICT_THEORY = "p_in_S"  # the theory's claim: the MAE's code holds S(m)
# Room between the untrained floor and the Bayes limit below which a level's gain is too
# small to rank (the all-token readout of an untrained encoder reads rhm32's leaves at 0.99).
CEILING_ROOM = 0.05
# The accuracy table's columns (metric name under `symbols.`, label), heat-map panels first.
ACCURACY = {
    "probe_full": "probe, full",
    "untrained_probe_full": "floor, full",
    "pixels_probe_full": "pixels, full",
    "knn_full": "kNN, full",
    "bayes_full": "Bayes, full",
    "probe_visible": "probe, visible",
    "untrained_probe_visible": "floor, visible",
    "pixels_probe_visible": "pixels, visible",
    "bayes_visible": "Bayes, visible",
    "chance": "chance",
}
HEATMAPS = {
    "probe_full": "trained: full image",
    "untrained_probe_full": "floor: untrained, full image",
    "pixels_probe_full": "floor: pixels, full image",
    "probe_visible": "trained: visible tokens",
    "untrained_probe_visible": "floor: untrained, visible",
    "pixels_probe_visible": "floor: pixels, visible",
    "bayes_visible": "Bayes limit: visible side",
}
READS = (
    *(f"{PREFIX}.{name}.level_*" for name in ACCURACY),
    f"{PREFIX}.d_c_bits",
    f"{PREFIX}.c_share.level_*",
    f"{PREFIX}.p_in_S.level_*",
    EXCESS,
)


def metric(name: str, level: str) -> str:
    return f"{PREFIX}.{name}.{level}"


def symbol_levels(rows: Sequence[Row]) -> list[str]:
    """Levels with symbol accuracies (`level_0` = the class first)."""
    return suffixes(rows, f"{PREFIX}.probe_full")


def level_name(level: str) -> str:
    return "level 0 (class)" if level == "level_0" else level.replace("_", " ")


def measured(rows: Sequence[Row], name: str, level: str) -> bool:
    """Whether any run holds the metric `name` at `level` (older sweeps lack some)."""
    return any(r.get(metric(name, level)) is not None for r in rows)


def level_verdict(
    rows: Sequence[Row], level: str, view: str, theory: str
) -> tuple[Any, int, int, str]:
    """`rank_agreement` of a theory quantity and the probe's gain over its floor."""
    return rank_agreement(
        rows,
        THEORY[theory][0](level),
        metric(f"probe_{view}", level),
        metric(f"untrained_probe_{view}", level),
    )


def symbols_headline(rows: Sequence[Row]) -> str | None:
    """Markdown: per cell, trained runs and the full-image probe beside its floor per level."""
    levels = symbol_levels(rows)
    if not levels:
        return None
    table = Table("ratio", "unit", "trained runs",
                  *(f"{lv.replace('level_', 'L')} probe / floor" for lv in levels))  # fmt: skip
    for (ratio, unit), cell in cells(rows, PREFIX).items():
        values = [
            f"{mean_text(cell, metric('probe_full', lv))} / "
            f"{mean_text(cell, metric('untrained_probe_full', lv))}"
            for lv in levels
        ]
        table.add(f"{ratio:g}", unit, trained_text(cell), *values)
    return str(table)


def symbols_verdict(rows: Sequence[Row]) -> str:
    """One line per level: does what training added follow the theory's P(level in S)?"""
    return "\n".join(
        f"symbols, {level_name(lv)}: {level_verdict(rows, lv, VERDICT_VIEW, VERDICT_THEORY)[3]}"
        for lv in symbol_levels(rows)
    )


@section(PREFIX, reads=READS, headline=symbols_headline, verdict=symbols_verdict)
def symbols_section(page: Page) -> list[str]:
    """The rhm32 sections of a report, or none when no run measured `symbols`."""
    levels = symbol_levels(page.rows)
    if not levels:
        return []
    return [
        accuracy_section(page, levels),
        theory_profile_section(page.rows, levels),
        agreement_section(page.rows, levels),
    ]


def accuracy_section(page: Page, levels: Sequence[str]) -> str:
    rows = page.rows
    notes = {
        lv: f"chance {mean_text(rows, metric('chance', lv))}\n"
        f"Bayes, full {mean_text(rows, metric('bayes_full', lv))}"
        for lv in levels
    }
    sources = [(f"{PREFIX}.{name}", label) for name, label in HEATMAPS.items()
               if measured(rows, name, levels[0])]  # fmt: skip
    fig = page.figure(level_heatmaps(
        rows, levels, sources, page.out / "symbol_heatmaps.png", "accuracy",
        "rhm32: linear-probe accuracy per level of the grammar", notes,
    ))  # fmt: skip
    columns = {name: label for name, label in ACCURACY.items() if measured(rows, name, levels[0])}
    table = Table("ratio", "unit", "level", "trained runs", *columns.values())
    for (ratio, unit), cell in cells(rows, PREFIX).items():
        trained = trained_text(cell)
        for lv in levels:
            table.add(f"{ratio:g}", unit, lv.replace("level_", ""), trained,
                      *(interval_of(cell, metric(name, lv)) for name in columns))  # fmt: skip
    missing = missing_cells(rows, page.runs, PREFIX)
    gap = (
        f"\n\nCells without a finished run (blank in the heat maps): {cells_text(missing)}."
        if missing
        else ""
    )
    pool = _pool(page.runs)
    return (
        "## Symbols per level: what a linear probe reads of the grammar\n\n"
        f"Accuracy of a linear probe on frozen encoder features ({READOUTS.get(pool, pool)}) "
        "to every "
        "symbol of each level (level 0 is the class; the last level the leaf symbols), on "
        "held-out images: the full image, and the visible tokens of masks from the run's own "
        "sampler. Beside it: the same encoder at initialisation and a linear probe on the "
        "same view's pixels (the floors), predicting the "
        "most frequent symbol (chance), and the Bayes limit of each view, exact by belief "
        "propagation on the whole image or on the same masks' visible pixels. Cells are means "
        "over seeds; the table gives the mean ± the half-width of its 95 % interval over "
        f"seeds (n=1: no interval). Trained runs: normalised excess <= {TRAINED_EXCESS}.\n\n"
        f"![symbol accuracy heat maps]({fig.name})\n\n" + str(table) + gap
    )


def theory_profile_section(rows: Sequence[Row], levels: Sequence[str]) -> str:
    table = Table("ratio", "unit", "d_c (bits)",
                  *(f"c share {lv.replace('level_', 'L')}" for lv in levels),
                  *(f"P({lv.replace('level_', 'L')} in S)" for lv in levels))  # fmt: skip
    for (ratio, unit), cell in cells(rows, PREFIX).items():
        table.add(f"{ratio:g}", unit, mean_text(cell, f"{PREFIX}.d_c_bits", ".1f"),
                  *(mean_text(cell, metric("c_share", lv)) for lv in levels),
                  *(mean_text(cell, metric("p_in_S", lv)) for lv in levels))  # fmt: skip
    return (
        "## The theory's profile of the same cells\n\n"
        "Over masks from the MAE's own sampler at each cell's ratio and unit: the mean code "
        "size d_c in bits (log2 of the number of classes for the root, and for every other "
        "latent in S(m) log2 of its parent level's rule count), the mean share of c's "
        "members at each level, and the probability that a "
        "latent of the level is in S(m).\n\n" + str(table)
    )


def agreement_section(rows: Sequence[Row], levels: Sequence[str]) -> str:
    units = units_of(rows)
    parts = [
        "## Does the measurement follow the theory? (per level)",
        "",
        "Spearman's rho over trained runs between a theory quantity of the run's cell and "
        "what training added (probe accuracy minus the untrained floor), with a bootstrap "
        "95 % interval over seeds; over all cells, then within each unit (across ratios). "
        "*agrees*: the interval lies above 0; *disagrees*: it does not; *untestable*: fewer "
        "than three trained runs, one seed, or a quantity that takes fewer than three "
        "distinct values over them (two values are one comparison, not a ranking).",
    ]
    tracks: dict[str, list[str]] = defaultdict(list)
    for view, view_label in VIEWS.items():
        if not measured(rows, f"probe_{view}", levels[0]):
            continue
        per_unit = [f"unit {u}" for u in units]
        table = Table("level", "theory quantity", "trained runs", "under-trained runs",
                      "all cells: rho [95 %]", "verdict", *per_unit)  # fmt: skip
        for lv in levels:
            for theory, (_, label) in THEORY.items():
                rho, n_trained, n_under, outcome = level_verdict(rows, lv, view, theory)
                within = []
                for unit in units:
                    unit_rows = [r for r in rows if r.get("mask_unit") == unit]
                    u_rho, _, _, u_outcome = level_verdict(unit_rows, lv, view, theory)
                    within.append(_rho_verdict(u_rho, u_outcome))
                    if view == VERDICT_VIEW and u_outcome == "agrees":
                        tracks[f"{lv}@{unit}"].append(label)
                if view == VERDICT_VIEW and outcome == "agrees":
                    tracks[lv].append(label)
                table.add(level_name(lv), label, n_trained, n_under, rho_text(rho), outcome,
                          *within)  # fmt: skip
        parts += ["", f"**{view_label}**", "", *table.lines()]
    parts += ["", "### Which theory quantity tracks the measured curve", ""]
    for lv in levels:
        overall = ", ".join(tracks[lv]) or "none"
        per_unit = "; ".join(f"unit {u}: {', '.join(tracks[f'{lv}@{u}']) or 'none'}" for u in units)
        parts.append(
            f"- {level_name(lv)}, {VIEWS[VERDICT_VIEW]}: across all cells {overall}; "
            f"within each unit, {per_unit}."
        )
    parts += ["", "### Verdict per level", ""]
    for lv in levels:
        outcome = level_verdict(rows, lv, VERDICT_VIEW, VERDICT_THEORY)[3]
        parts.append(
            f"- {level_name(lv)}: {outcome} (gain of the {VIEWS[VERDICT_VIEW]} probe against "
            f"{THEORY[VERDICT_THEORY][1]}){_ceiling_note(rows, lv)}"
        )
    return "\n".join(parts)


def _rho_verdict(rho: Any, outcome: str) -> str:
    """A rho and the first word of its verdict, for a table cell: `+0.50 [..] agrees`."""
    text = rho_text(rho)
    return text if text == "–" else f"{text} {outcome.split(' ')[0]}"


def _ceiling_note(rows: Sequence[Row], level: str) -> str:
    """A warning where the floor leaves training almost nothing to add at `level`."""
    floor = mean_of(rows, metric(f"untrained_probe_{VERDICT_VIEW}", level))
    limit = mean_of(rows, metric(f"bayes_{VERDICT_VIEW}", level))
    if floor is None or limit is None or limit - floor > CEILING_ROOM:
        return ""
    return (
        f"; the untrained floor already reads this level at {value_text(floor)} of a Bayes "
        f"limit of {value_text(limit)}, so what training adds is capped near "
        f"{value_text(limit - floor)} and its ranks are mostly noise"
    )


def _pool(runs: Sequence[RunRecord]) -> str:
    """The readout the sweep's `symbols` metrics hold (mean unless the sweep says
    otherwise; `maeid.evaluate.symbols.POOLS`)."""
    pools = {
        str(((run.config or {}).get("evaluate") or {}).get("symbols", {}).get("pool", "mean"))
        for run in runs
        if "symbols" in (((run.config or {}).get("evaluate")) or {})
    }
    return "/".join(sorted(pools)) or "mean"
