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
from typing import Any

from maeid.evaluate.intervals import mean_interval
from maeid.evaluate.rules_share import READABLE_SE
from maeid.experiments.report_agreement import trained_rows

Row = dict[str, Any]
VIEWS = {"full": "full image", "visible": "visible tokens"}
INFORMATION, CLASS_PROBE, SYMBOLS = "information", "class_probe", "symbols"
INFORMATION_METRICS = ("ce", "untrained_ce", "pixels_ce", "bayes_ce", "gain_share",
                       "pixels_gain_share", "gap_se")  # fmt: skip


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
    cells = _cells(rows, INFORMATION)
    if not cells:
        return None
    head = ["ratio", "unit", "trained runs", "view", "level", "CE trained", "CE untrained",
            "CE pixels", "H_Bayes", "G trained", "G pixels", "gap / SE (min)"]  # fmt: skip
    lines = _header(head)
    for (ratio, unit), cell in cells.items():
        trained = len(trained_rows(cell))
        for view, label in VIEWS.items():
            levels = _levels(cell, f"{INFORMATION}.bayes_ce_{view}")
            for level in levels:
                names = {m: f"{INFORMATION}.{m}_{view}.{level}" for m in INFORMATION_METRICS}
                readable, gap = _readable(cell, names["gap_se"])
                values = [_interval(cell, names[m]) for m in
                          ("ce", "untrained_ce", "pixels_ce", "bayes_ce")]  # fmt: skip
                values += [_marked(_interval(cell, names[m]), readable)
                           for m in ("gain_share", "pixels_gain_share")]  # fmt: skip
                lines.append(
                    f"| {ratio:g} | {unit} | {trained}/{len(cell)} | {label} | "
                    f"{level.replace('level_', '')} | " + " | ".join(values) + f" | {gap} |"
                )
    return (
        "### Information per level, from probes\n\n"
        "Linear probes of every symbol (temperature-calibrated on a held-out fifth of their "
        "training split) read each level's symbols; their held-out cross-entropy in nats per "
        "symbol (CE) is set beside H_Bayes, the exact posterior's cross-entropy on the true "
        "symbols given the same view (belief propagation), which a perfect probe reaches. "
        "G = (CE untrained - CE) / (CE untrained - H_Bayes): 1 is all that the view says of "
        "the level, 0 no more than the encoder at initialisation; G pixels is the same for "
        "a probe on the view's pixels. The last column is the floor-to-Bayes gap in "
        "standard errors, the smallest over the cell's runs.\n\n" + "\n".join(lines)
    )


def class_probe_table(rows: Sequence[Row]) -> str | None:
    """Per cell and view: the class-only probe at each budget beside floors and Bayes."""
    cells = _cells(rows, CLASS_PROBE)
    if not cells:
        return None
    budgets = _levels(rows, f"{CLASS_PROBE}.accuracy_full") or _levels(
        rows, f"{CLASS_PROBE}.accuracy_visible"
    )
    head = ["ratio", "unit", "trained runs", "view"]
    for b in budgets:
        n = b.replace("budget_", "")
        head += [f"{n} labels: accuracy trained / untrained / pixels",
                 f"{n} labels: CE trained / untrained / pixels"]  # fmt: skip
    head += ["Bayes: accuracy / CE", "chance"]
    lines = _header(head)
    for (ratio, unit), cell in cells.items():
        trained = len(trained_rows(cell))
        for view, label in VIEWS.items():
            if not any(f"{CLASS_PROBE}.bayes_accuracy_{view}" in r for r in cell):
                continue
            values = []
            for b in budgets:
                for score in ("accuracy", "ce"):
                    values.append(" / ".join(
                        _interval(cell, f"{CLASS_PROBE}.{who}{score}_{view}.{b}")
                        for who in ("", "untrained_", "pixels_")))  # fmt: skip
            values.append(f"{_interval(cell, f'{CLASS_PROBE}.bayes_accuracy_{view}')} / "
                          f"{_interval(cell, f'{CLASS_PROBE}.bayes_ce_{view}')}")  # fmt: skip
            values.append(_interval(cell, f"{CLASS_PROBE}.chance_{view}"))
            lines.append(f"| {ratio:g} | {unit} | {trained}/{len(cell)} | {label} | "
                         + " | ".join(values) + " |")  # fmt: skip
    return (
        "### A class-only probe of limited capacity\n\n"
        "A probe with one hidden layer (64 units unless the sweep says otherwise) on the "
        "frozen encoder's readout (every token at its position unless the sweep names "
        "another `pool`), trained on class labels alone (no grammar, no labels of other "
        "levels) at each label budget, early-stopped on a held-out fifth of its labels; "
        "held-out accuracy and "
        "cross-entropy (nats), beside the same probe on the encoder at initialisation and on "
        "the view's pixels, the view's Bayes classifier and chance.\n\n" + "\n".join(lines)
    )


def rules_share_table(rows: Sequence[Row]) -> str | None:
    """Per cell: the rules readout's share of its floor-to-Bayes gap, per view."""
    cells = _cells(rows, f"{SYMBOLS}.rules_share")
    if not cells:
        return None
    head = ["ratio", "unit", "trained runs"]
    for label in VIEWS.values():
        head += [f"{label}: share of the gap", f"{label}: gap / SE (min)"]
    lines = _header(head)
    for (ratio, unit), cell in cells.items():
        values = []
        for view in VIEWS:
            _, gap = _readable(cell, f"{SYMBOLS}.rules_gap_se.{view}")
            flags = [r.get(f"{SYMBOLS}.rules_readable.{view}") for r in cell]
            readable = bool(flags) and all(f == 1.0 for f in flags)
            values += [_marked(_interval(cell, f"{SYMBOLS}.rules_share.{view}"), readable), gap]
        lines.append(f"| {ratio:g} | {unit} | {len(trained_rows(cell))}/{len(cell)} | "
                     + " | ".join(values) + " |")  # fmt: skip
    return (
        "### The rules readout, as a share of its gap\n\n"
        "The class through the root's rules from the level-1 probes (the section above), "
        "as (trained - floor) / (Bayes - floor), the floor being the same readout of the "
        "encoder at initialisation; the gap (Bayes - floor) in binomial standard errors of "
        "the floor's accuracy on the run's test images, the smallest over the cell's "
        "runs.\n\n" + "\n".join(lines)
    )


# ------------------------------------------------------------------------------ helpers
def _cells(rows: Sequence[Row], prefix: str) -> dict[tuple[float, Any], list[Row]]:
    from maeid.experiments.report_symbols import cells_with  # it imports this module

    return cells_with(rows, prefix)


def _header(head: Sequence[str]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]


def _levels(rows: Sequence[Row], name: str) -> list[str]:
    """The suffixes under the metric `name` (`level_k`, `budget_n`), in numeric order."""
    head = f"{name}."
    found = {key[len(head) :] for row in rows for key in row if key.startswith(head)}
    return sorted(found, key=lambda s: int("".join(c for c in s if c.isdigit()) or 0))


def _interval(rows: Sequence[Row], name: str) -> str:
    return str(mean_interval([r.get(name) for r in rows]))


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
