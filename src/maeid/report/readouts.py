"""The rhm32 report's pre-registered readouts: readouts that a trained encoder can fail.

Three readouts, each set against floors measured on the same run (so that with a study
seed, `maeid.experiments.sweep_spec.STUDY_SEED`, every floor carries a spread over seeds):

- *information per level* (metrics under `information.`, `maeid.evaluate.information_probes`):
  per view and level the linear probes' cross-entropy of the trained encoder, the encoder
  at initialisation and the pixels, H_Bayes, and G, the share of the floor-to-Bayes gap
  in cross-entropy that the trained encoder (and the pixels) close;
- *a class-only probe* (`class_probe.`, `maeid.evaluate.class_probe`): a one-hidden-layer
  probe trained on class labels alone, at each label budget, beside the same probe on the
  floors, the view's Bayes classifier and chance;
- *the rules share* (`symbols.rules_share`, `maeid.evaluate.rules_share`): the class
  through the root's rules from the level-1 probes, as the share of its floor-to-Bayes
  gap that training closes.

G and the rules share are marked readable only where the floor-to-Bayes gap is at least
`READABLE_SE` standard errors in every run of the cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from maeid.evaluate.rules_share import READABLE_SE
from maeid.report.cells import EXCESS, Row, cells, suffixes
from maeid.report.registry import Page, section
from maeid.report.table import Table, interval_text, trained_text

VIEWS = {"full": "full image", "visible": "visible tokens"}
INFORMATION, CLASS_PROBE, SYMBOLS = "information", "class_probe", "symbols"
INFORMATION_METRICS = ("ce", "untrained_ce", "pixels_ce", "bayes_ce", "gain_share",
                       "pixels_gain_share", "gap_se")  # fmt: skip
CLASS_PROBE_SCORES = ("accuracy", "ce")
CLASS_PROBE_READERS = ("", "untrained_", "pixels_")  # the trained encoder, its floors
RULES_SHARE = ("rules_share", "rules_gap_se", "rules_readable")  # under `symbols.`, per view
READS = (
    *(f"{INFORMATION}.{m}_{view}.level_*" for m in INFORMATION_METRICS for view in VIEWS),
    *(f"{CLASS_PROBE}.{who}{score}_{view}.budget_*" for who in CLASS_PROBE_READERS
      for score in CLASS_PROBE_SCORES for view in VIEWS),
    *(f"{CLASS_PROBE}.{name}_{view}" for name in ("bayes_accuracy", "bayes_ce", "chance")
      for view in VIEWS),
    *(f"{SYMBOLS}.{name}.{view}" for name in RULES_SHARE for view in VIEWS),
    EXCESS,
)  # fmt: skip


@section("readouts", reads=READS)
def readouts_sections(page: Page) -> list[str]:
    section_text = readouts_section(page.rows)
    return [section_text] if section_text else []


def readouts_section(rows: Sequence[Row]) -> str | None:
    """Markdown of the three readouts over the sweep's cells, or None if none was measured."""
    parts = [
        part
        for part in (information_table(rows), class_probe_table(rows), rules_share_table(rows))
        if part
    ]
    if not parts:
        return None
    return "\n\n".join(
        [
            "## Pre-registered readouts: information per level, a class-only probe, the rules "
            "share",
            "These are the study's pre-registered readouts, chosen before the runs they read "
            "so that each can fail: a trained encoder passes only where it closes a gap that "
            "its floors leave open. Each run is set against its own floors (the encoder at "
            "initialisation, the pixels of the same view); values are the mean ± the "
            "half-width of the 95 % interval over the cell's runs (n=1: no interval). A gap "
            f"narrower than {READABLE_SE:g} standard errors is marked *not readable*: there "
            "the floor is within noise of the limit and the share divides by noise.",
            *parts,
        ]
    )


def information_table(rows: Sequence[Row]) -> str | None:
    """Per cell, view and level: cross-entropies (nats), H_Bayes, G and readability."""
    by_cell = cells(rows, INFORMATION)
    if not by_cell:
        return None
    table = Table("ratio", "unit", "trained runs", "view", "level", "CE trained",
                  "CE untrained", "CE pixels", "H_Bayes", "G trained", "G pixels",
                  "gap / SE (min)")  # fmt: skip
    for (ratio, unit), cell in by_cell.items():
        trained = trained_text(cell)
        for view, label in VIEWS.items():
            for level in suffixes(cell, f"{INFORMATION}.bayes_ce_{view}"):
                names = {m: f"{INFORMATION}.{m}_{view}.{level}" for m in INFORMATION_METRICS}
                readable, gap = _readable(cell, names["gap_se"])
                values = [interval_text(cell, names[m]) for m in
                          ("ce", "untrained_ce", "pixels_ce", "bayes_ce")]  # fmt: skip
                values += [_marked(interval_text(cell, names[m]), readable)
                           for m in ("gain_share", "pixels_gain_share")]  # fmt: skip
                table.add(f"{ratio:g}", unit, trained, label,
                          level.replace("level_", ""), *values, gap)  # fmt: skip
    return (
        "### Information per level, from probes\n\n"
        "Linear probes of every symbol (temperature-calibrated on a held-out fifth of their "
        "training split) read each level's symbols; their held-out cross-entropy in nats per "
        "symbol (CE) is set beside H_Bayes, the exact posterior's cross-entropy on the true "
        "symbols given the same view (belief propagation), which a perfect probe reaches. "
        "G = (CE untrained - CE) / (CE untrained - H_Bayes): 1 is all that the view says of "
        "the level, 0 no more than the encoder at initialisation; G pixels is the same for "
        "a probe on the view's pixels. The last column is the floor-to-Bayes gap in "
        "standard errors, the smallest over the cell's runs.\n\n" + str(table)
    )


def class_probe_table(rows: Sequence[Row]) -> str | None:
    """Per cell and view: the class-only probe at each budget beside floors and Bayes."""
    by_cell = cells(rows, CLASS_PROBE)
    if not by_cell:
        return None
    budgets = suffixes(rows, f"{CLASS_PROBE}.accuracy_full") or suffixes(
        rows, f"{CLASS_PROBE}.accuracy_visible"
    )
    head = ["ratio", "unit", "trained runs", "view"]
    for b in budgets:
        n = b.replace("budget_", "")
        head += [f"{n} labels: accuracy trained / untrained / pixels",
                 f"{n} labels: CE trained / untrained / pixels"]  # fmt: skip
    table = Table(*head, "Bayes: accuracy / CE", "chance")
    for (ratio, unit), cell in by_cell.items():
        trained = trained_text(cell)
        for view, label in VIEWS.items():
            if not any(f"{CLASS_PROBE}.bayes_accuracy_{view}" in r for r in cell):
                continue
            values = []
            for b in budgets:
                for score in CLASS_PROBE_SCORES:
                    values.append(" / ".join(
                        interval_text(cell, f"{CLASS_PROBE}.{who}{score}_{view}.{b}")
                        for who in CLASS_PROBE_READERS))  # fmt: skip
            values.append(f"{interval_text(cell, f'{CLASS_PROBE}.bayes_accuracy_{view}')} / "
                          f"{interval_text(cell, f'{CLASS_PROBE}.bayes_ce_{view}')}")  # fmt: skip
            values.append(interval_text(cell, f"{CLASS_PROBE}.chance_{view}"))
            table.add(f"{ratio:g}", unit, trained, label, *values)
    return (
        "### A class-only probe of limited capacity\n\n"
        "A probe with one hidden layer (64 units unless the sweep says otherwise) on the "
        "frozen encoder's readout (every token at its position unless the sweep names "
        "another `pool`), trained on class labels alone (no grammar, no labels of other "
        "levels) at each label budget, early-stopped on a held-out fifth of its labels; "
        "held-out accuracy and "
        "cross-entropy (nats), beside the same probe on the encoder at initialisation and on "
        "the view's pixels, the view's Bayes classifier and chance.\n\n" + str(table)
    )


def rules_share_table(rows: Sequence[Row]) -> str | None:
    """Per cell: the rules readout's share of its floor-to-Bayes gap, per view."""
    by_cell = cells(rows, f"{SYMBOLS}.rules_share")
    if not by_cell:
        return None
    head = ["ratio", "unit", "trained runs"]
    for label in VIEWS.values():
        head += [f"{label}: share of the gap", f"{label}: gap / SE (min)"]
    table = Table(*head)
    for (ratio, unit), cell in by_cell.items():
        values = []
        for view in VIEWS:
            _, gap = _readable(cell, f"{SYMBOLS}.rules_gap_se.{view}")
            flags = [r.get(f"{SYMBOLS}.rules_readable.{view}") for r in cell]
            readable = bool(flags) and all(f == 1.0 for f in flags)
            values += [_marked(interval_text(cell, f"{SYMBOLS}.rules_share.{view}"), readable),
                       gap]  # fmt: skip
        table.add(f"{ratio:g}", unit, trained_text(cell), *values)
    return (
        "### The rules readout, as a share of its gap\n\n"
        "The class through the root's rules from the level-1 probes (the section above), "
        "as (trained - floor) / (Bayes - floor), the floor being the same readout of the "
        "encoder at initialisation; the gap (Bayes - floor) in binomial standard errors of "
        "the floor's accuracy on the run's test images, the smallest over the cell's "
        "runs.\n\n" + str(table)
    )


# ------------------------------------------------------------------------------ helpers
def _readable(rows: Sequence[Row], name: str) -> tuple[bool, str]:
    """Whether the gap under `name` (in standard errors) clears `READABLE_SE` in every
    run that measured it, and the smallest gap as text. A run without the metric had an
    infinite gap (a floor with no binomial spread) or none measured; both read as
    missing, and a cell none of whose runs holds it is not readable."""
    gaps = [float(r[name]) for r in rows if r.get(name) is not None]
    if not gaps:
        return False, "–"
    low = min(gaps)
    return low >= READABLE_SE, f"{low:.1f}" if math.isfinite(low) else "–"


def _marked(text: str, readable: bool) -> str:
    return text if readable else f"{text} (not readable)"
