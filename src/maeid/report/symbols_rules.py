"""Does a trained encoder determine the class? The class read through the root's rules.

Metrics of the `symbols` measure, per view: `rules_<view>.level_0` (the class through the
root's rules from the level-1 probes) and its floors `untrained_rules_<view>.level_0`
and `pixels_rules_<view>.level_0`; and, where measured, the class climbed from every
deeper level k, `{,untrained_,pixels_}rules_from_<view>.level_k`. Beside them the
Bayes limits (`bayes_<view>.level_0`), the linear class probe (`probe_full.level_0`) and
the theory's P(class in S) (`p_in_S.level_0`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from maeid.evaluate.intervals import Interval
from maeid.report.cells import EXCESS, Row, cells, interval_of, trained_rows
from maeid.report.registry import Page, section
from maeid.report.symbols import CEILING_ROOM, PREFIX, VIEWS, measured, metric
from maeid.report.table import Table, mean_text, trained_text

CLIMBERS = ("", "untrained_", "pixels_")  # the trained encoder, its floor, the pixels
# The table's columns: metric name under `symbols.` (at level 0), label.
COLUMNS = {
    "rules_full": "trained, full",
    "untrained_rules_full": "floor, full",
    "pixels_rules_full": "pixels, full",
    "bayes_full": "Bayes, full",
    "rules_visible": "trained, visible",
    "untrained_rules_visible": "floor, visible",
    "pixels_rules_visible": "pixels, visible",
    "bayes_visible": "Bayes, visible",
    "probe_full": "linear class probe, full",
}
READS = (
    *(metric(name, "level_0") for name in COLUMNS),
    metric("p_in_S", "level_0"),
    *(metric(f"{who}rules_from_{view}", "level_*") for who in CLIMBERS for view in VIEWS),
    EXCESS,
)


@section("symbols_rules", reads=READS)
def rules_sections(page: Page) -> list[str]:
    """The rules section, when some run read the class through the rules."""
    return [rules_section(page.rows)] if measured(page.rows, "rules_full", "level_0") else []


def rules_section(rows: Sequence[Row]) -> str:
    """Does a trained encoder determine the class, as S(m) holds it? The class read through
    the root's rules from the level-1 probes, beside its floors and Bayes limits."""
    table = Table("ratio", "unit", "trained runs", "P(class in S)", *COLUMNS.values())
    verdicts = []
    for (ratio, unit), cell in cells(rows, PREFIX).items():
        trained = trained_rows(cell)
        table.add(f"{ratio:g}", unit, trained_text(cell),
                  mean_text(cell, metric("p_in_S", "level_0")),
                  *(interval_of(cell, metric(name, "level_0")) for name in COLUMNS))  # fmt: skip
        if trained:
            views = [_rules_verdict(trained, view) for view in VIEWS]
            verdicts.append(f"- ratio {ratio:g}, unit {unit}, {len(trained)} trained run(s): "
                            + "; ".join(v for v in views if v))  # fmt: skip
    verdict = "\n".join(verdicts) or "- untestable: no trained run."
    climb = climb_subsection(rows)
    return (
        "## Does the encoder determine the class? Read through the root's rules\n\n"
        "Theorem 2 says the encoder recovers S(m), and with it the class whenever the class is "
        "in S(m), up to an invertible map; it does not say the map is linear, so a linear "
        "class probe can miss a class the features determine. Here linear probes read the "
        "four level-1 symbols, and the root's production rules, which are known, turn their "
        "posteriors into the class (`maeid.evaluate.symbols.class_through_rules`), beside the "
        "same readout of the encoder at initialisation and of the pixels, the Bayes limits "
        "and the linear class probe. Mean ± the half-width of the 95 % interval over seeds "
        "(n=1: no interval). Verdict per cell and view, trained runs only: *agrees* where "
        f"the class through the rules comes within {CEILING_ROOM} of the same view's Bayes "
        "limit, *disagrees* where it does not; the readout is a lower bound on what the "
        "features determine, so a shortfall says this readout does not find the class, "
        "not that no reader could. The visible tokens are Theorem 2's own setting (the "
        "encoder sees the visible side); the full image is the probe's.\n\n"
        + str(table)
        + "\n\n"
        + verdict
        + (f"\n\n{climb}" if climb else "")
    )


def climb_subsection(rows: Sequence[Row]) -> str:
    """The class climbed through the rules from each level's probes (`rules_from_<view>`),
    beside the same climb on the untrained encoder and the pixels, and per trained cell and
    view the first level from which the climb comes within `CEILING_ROOM` of Bayes; empty
    when no run measured a climb from below level 1."""
    prefix = metric("rules_from_full", "level_")
    levels = sorted({int(key[len(prefix) :]) for r in rows for key in r if key.startswith(prefix)})
    if len(levels) < 2:
        return ""
    climbs = [f"from level {k}: trained / floor / pixels" for k in levels]
    table = Table("ratio", "unit", "trained runs", "view", *climbs, "Bayes")
    reached = []
    for (ratio, unit), cell in cells(rows, PREFIX).items():
        trained = trained_rows(cell)
        for view, label in VIEWS.items():
            read = {k: _climbs(cell, view, k) for k in levels}
            if all(i.n == 0 for k in levels for i in read[k]):
                continue  # a cell whose runs were not climbed: nothing to show
            table.add(f"{ratio:g}", unit, trained_text(cell), label,
                      *(" / ".join(map(str, read[k])) for k in levels),
                      interval_of(cell, metric(f"bayes_{view}", "level_0")))  # fmt: skip
            if trained:
                reached.append(_first_level_at_bayes(trained, view, levels, ratio, unit))
    found = "\n".join(line for line in reached if line)
    return (
        "### Climbed from deeper levels\n\n"
        "The same readout started lower: linear probes of every symbol of level k, and "
        "belief propagation's upward pass through the rules from there to the class "
        "(`maeid.theory.belief_propagation.class_from_level`). The deeper it starts, the "
        "more of the work the known rules do: where the floor or the pixels climb to the "
        "Bayes limit too, the climb no longer tells the features from the readout. Level 1 "
        "is the table above.\n\n" + str(table) + ("\n\n" + found if found else "")
    )


def _climbs(rows: Sequence[Row], view: str, level: int) -> list[Interval]:
    """The climb from `level` of the trained encoder, the floor and the pixels, over rows."""
    return [interval_of(rows, metric(f"{who}rules_from_{view}", f"level_{level}"))
            for who in CLIMBERS]  # fmt: skip


def _first_level_at_bayes(
    trained: Sequence[Row], view: str, levels: Sequence[int], ratio: float, unit: Any
) -> str:
    """The first level from which the trained runs' climb comes within CEILING_ROOM of the
    view's Bayes limit, with the floor's and the pixels' climb from that level."""
    limit = interval_of(trained, metric(f"bayes_{view}", "level_0"))
    for k in levels:
        read = _climbs(trained, view, k)
        if math.isnan(read[0].value) or math.isnan(limit.value):
            return ""
        if read[0].value >= limit.value - CEILING_ROOM:
            return (f"- ratio {ratio:g}, unit {unit}, {VIEWS[view]}: within {CEILING_ROOM} of "
                    f"Bayes ({limit.value:.3f}) from level {k}: {read[0]}; floor {read[1]}, "
                    f"pixels {read[2]}")  # fmt: skip
    return (f"- ratio {ratio:g}, unit {unit}, {VIEWS[view]}: not within {CEILING_ROOM} of "
            f"Bayes ({limit.value:.3f}) from any level")  # fmt: skip


def _rules_verdict(trained: Sequence[Row], view: str) -> str:
    read = interval_of(trained, metric(f"rules_{view}", "level_0"))
    limit = interval_of(trained, metric(f"bayes_{view}", "level_0"))
    if math.isnan(read.value) or math.isnan(limit.value):
        return ""
    outcome = "agrees" if read.value >= limit.value - CEILING_ROOM else "disagrees"
    return f"{VIEWS[view]} {outcome} ({read}, Bayes {limit.value:.3f})"
