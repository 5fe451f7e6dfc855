"""rhm32 shape bias: does the encoder read the tree or the texture? Beside the paper.

Reads the `shape_bias` measure: `shape_bias.{trained,untrained,pixels,bayes}` on
cue-conflict images, `shape_bias.clean_trained` (accuracy on cue-consistent ones), and
where measured the class read through the root's rules from level-1 probes,
`shape_bias.rules_<reader>` and `shape_bias.clean_rules_<reader>`. The section, from the
database alone: shape bias over ratio x unit (heat map, and a table with 95 % intervals
over seeds) beside the untrained encoder, the pixel probe and the Bayes reference;
against the ratio per unit beside the paper's Table 2, with a sentence per unit saying
whether the measured curve has the paper's shape (computed, never assumed); and the
shape bias through the rules, where measured. Under-trained runs are named, and left out
of every comparison with the paper.

Its headline covers both texture measures: shape bias and, from `maeid.report.rendition`,
clean and mean shifted accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from maeid.evaluate.intervals import Interval
from maeid.experiments import paper_results
from maeid.report.cells import (
    EXCESS,
    Row,
    cells,
    interval_of,
    mean_of,
    ratio_intervals,
    rows_in_cells,
    trained_rows,
    units_of,
)
from maeid.report.figures import level_heatmaps, shape_bias_vs_ratio
from maeid.report.registry import Page, section
from maeid.report.rendition import (
    DERIVES as RENDITION_DERIVES,
)
from maeid.report.rendition import (
    READS as RENDITION_READS,
)
from maeid.report.rendition import (
    RENDITION,
    SHIFTED,
    shifts_of,
    with_shift_means,
)
from maeid.report.table import (
    MISSING,
    Table,
    gap_notes,
    interval_text,
    mean_text,
    trained_text,
)
from maeid.train.quality import TRAINED_EXCESS

SHAPE = "shape_bias"
READERS = ("trained", "untrained", "pixels", "bayes")  # shape-bias metrics, table order
RULE_READERS = ("trained", "untrained", "pixels")  # the class through the rules, read from
READS = (
    *(f"{SHAPE}.{name}" for name in READERS),
    f"{SHAPE}.clean_trained",
    *(f"{SHAPE}.{pre}rules_{name}" for pre in ("", "clean_") for name in RULE_READERS),
    EXCESS,
    *RENDITION_READS,  # the headline's rendition columns
)


def texture_headline(rows: Sequence[Row]) -> str | None:
    """Markdown: per cell, shape bias trained / untrained (linear probe, and through the
    rules where measured) and clean / mean shifted accuracy."""
    has_shape, has_shifts = bool(cells(rows, SHAPE)), bool(shifts_of(rows))
    if not (has_shape or has_shifts):
        return None
    has_rules = any(r.get(f"{SHAPE}.rules_trained") is not None for r in rows)
    rows = with_shift_means(rows)
    head = ["ratio", "unit", "trained runs"]
    head += ["shape bias trained / untrained"] if has_shape else []
    head += ["through the rules trained / untrained"] if has_rules else []
    head += ["clean / mean shifted"] if has_shifts else []
    table = Table(*head)
    merged: dict[tuple, list[Row]] = {}
    for prefix in (SHAPE, RENDITION):
        for key, cell in cells(rows, prefix).items():
            known = merged.setdefault(key, [])
            known += [r for r in cell if r not in known]
    for (ratio, unit), cell in sorted(merged.items()):
        values = [trained_text(cell)]
        if has_shape:
            values.append(
                f"{mean_text(cell, f'{SHAPE}.trained')} / {mean_text(cell, f'{SHAPE}.untrained')}"
            )
        if has_rules:
            values.append(
                f"{mean_text(cell, f'{SHAPE}.rules_trained')} / "
                f"{mean_text(cell, f'{SHAPE}.rules_untrained')}"
            )
        if has_shifts:
            values.append(
                f"{mean_text(cell, f'{RENDITION}.clean')} / "
                f"{mean_text(cell, f'{RENDITION}.{SHIFTED}')}"
            )
        table.add(f"{ratio:g}", unit, *values)
    return str(table)


def texture_verdict(rows: Sequence[Row]) -> str:
    """One line per unit: does the measured shape bias have the paper's shape?"""
    if not cells(rows, SHAPE):
        return ""
    trained = trained_rows(rows)
    curves = {unit: ratio_intervals(trained, f"{SHAPE}.trained", unit) for unit in units_of(rows)}
    return "\n".join(f"shape bias, unit {u}: {shape_verdict(c)}" for u, c in curves.items())


def shape_verdict(curve: dict[float, Interval]) -> str:
    """Whether a curve over the ratio has the paper's Table 2 shape: its peak at a middle
    ratio, and the lowest ratio below the peak by more than both 95 % intervals."""
    points = {x: i for x, i in curve.items() if not math.isnan(i.value)}
    if len(points) < 3:
        return (
            f"untestable: {len(points)} ratio(s) with trained runs; a peak at a middle ratio "
            "needs at least three"
        )
    ratios = sorted(points)
    peak = max(ratios, key=lambda x: points[x].value)
    low, top = points[ratios[0]], points[peak]
    if peak in (ratios[0], ratios[-1]):
        end, trend = ("highest", "rises") if peak == ratios[-1] else ("lowest", "falls")
        return (
            f"not the paper's shape: the shape bias peaks at the {end} ratio {peak:g} "
            f"({top.value:.3f}); it {trend} with the ratio instead of peaking in the middle"
        )
    gap = f"ratio {ratios[0]:g}: {low}, peak at {peak:g}: {top}"
    if math.isnan(low.high) or math.isnan(top.low):
        return (
            f"peaks at a middle ratio ({peak:g}), but one seed gives no interval to separate "
            f"the lowest ratio from the peak ({gap})"
        )
    if low.high < top.low:
        return (
            f"the paper's shape: the peak is at the middle ratio {peak:g} and the lowest "
            f"ratio is below it beyond both 95 % intervals ({gap})"
        )
    return (
        f"peaks at a middle ratio ({peak:g}), but the lowest ratio is not below the peak "
        f"beyond the 95 % intervals: the paper's shape is not established ({gap})"
    )


@section(SHAPE, reads=READS, derives=RENDITION_DERIVES, headline=texture_headline,
         verdict=texture_verdict)  # fmt: skip
def shape_bias_section(page: Page) -> list[str]:
    rows, out = page.rows, page.out
    by_cell = cells(rows, SHAPE)
    if not by_cell:
        return []
    bayes = mean_text(rows, f"{SHAPE}.bayes")
    readers = [name for name in RULE_READERS
               if any(r.get(f"{SHAPE}.{name}") is not None for r in rows)]  # fmt: skip
    measured = rows_in_cells(rows, SHAPE)  # a ratio no run measured adds no column
    fig = page.figure(level_heatmaps(
        measured, readers, [(SHAPE, "shape bias")], out / "shape_bias_heatmaps.png", "shape bias",
        f"rhm32: shape bias on cue-conflict images (Bayes {bayes})",
    ))  # fmt: skip
    columns = [f"{SHAPE}.{name}" for name in READERS] + [f"{SHAPE}.clean_trained"]
    table = Table("ratio", "unit", "trained runs", "trained", "untrained", "pixel probe",
                  "Bayes", "clean accuracy, trained")  # fmt: skip
    for (ratio, unit), cell in by_cell.items():
        table.add(f"{ratio:g}", unit, trained_text(cell), *(interval_of(cell, n) for n in columns))
    parts = [
        "## Shape bias: does the encoder read the tree or the texture?",
        "",
        "Shape bias on cue-conflict images (the tree of class A, the texture signature of "
        "class B): P(A) / (P(A) + P(B)) for a linear probe trained on cue-consistent images, "
        "on the trained encoder, the same encoder at initialisation, raw pixels, and the "
        "Bayes classifier that ignores the signature (shape bias 1 by construction). Cells "
        "are means over seeds; the table gives the mean ± the half-width of its 95 % "
        f"interval over seeds (n=1: no interval). Trained runs: normalised excess <= "
        f"{TRAINED_EXCESS}.",
        "",
        f"![shape bias heat maps]({fig.name})",
        "",
        *table.lines(),
        *gap_notes(rows, page.runs, SHAPE),
        *paper_subsection(page),
    ]
    if any(r.get(f"{SHAPE}.rules_trained") is not None for r in rows):
        parts += ["", rules_subsection(by_cell)]
    return ["\n".join(parts)]


def paper_subsection(page: Page) -> list[str]:
    """Lines: trained runs' shape bias against the ratio per unit beside the paper's
    Table 2, a verdict per unit on the curve's shape, and the figure."""
    rows = page.rows
    trained = trained_rows(rows)
    units = units_of(rows)
    curves = {unit: ratio_intervals(trained, f"{SHAPE}.trained", unit) for unit in units}
    floors = {
        unit: {x: i.value for x, i in ratio_intervals(trained, f"{SHAPE}.untrained", unit).items()}
        for unit in units
    }
    fig = page.figure(shape_bias_vs_ratio(
        {u: c for u, c in curves.items() if c}, floors, mean_of(rows, f"{SHAPE}.pixels"),
        page.out / "shape_bias_vs_ratio.png",
    ))  # fmt: skip
    paper = paper_results.shape_bias_vs_ratio()
    table = Table("ratio", "paper Table 2", *(f"unit {u}: trained" for u in units))
    for ratio in sorted({x for c in curves.values() for x in c} | set(paper)):
        published = f"{paper[ratio]:.4f}" if ratio in paper else MISSING
        ours = [curves[u][ratio] if ratio in curves[u] else MISSING for u in units]
        table.add(f"{ratio:g}", published, *ours)
    shown = (
        f"![shape bias against the ratio]({fig.name})"
        if fig is not None
        else "_The trained runs vary the masking ratio over fewer than two values._"
    )
    return [
        "",
        "### Shape bias against the ratio, beside the paper's Table 2",
        "",
        f"Trained runs only; beside {paper_results.SHAPE_BIAS_CITATION}, which peaks at "
        f"ratio {max(paper, key=paper.get):g} and is lowest at {min(paper, key=paper.get):g}. "
        "The shape bias has the same definition in both, but the data differ: compare shapes.",
        "",
        *table.lines(),
        "",
        *(f"- unit {unit}: {shape_verdict(curves[unit])}." for unit in units),
        "",
        shown,
    ]


def rules_subsection(by_cell: dict[tuple, list[Row]]) -> str:
    """Shape bias of the class read through the root's rules from level-1 probes, beside
    the linear class probe: is A's tree in the features when the linear probe says B?"""
    table = Table("ratio", "unit", "trained runs", "trained", "untrained", "pixels",
                  "clean accuracy: trained / untrained / pixels",
                  "linear class probe, trained")  # fmt: skip
    for (ratio, unit), cell in by_cell.items():
        clean = " / ".join(interval_text(cell, f"{SHAPE}.clean_rules_{n}") for n in RULE_READERS)
        table.add(f"{ratio:g}", unit, trained_text(cell),
                  *(interval_of(cell, f"{SHAPE}.rules_{name}") for name in RULE_READERS),
                  clean, interval_of(cell, f"{SHAPE}.trained"))  # fmt: skip
    sentences = []
    for (ratio, unit), cell in by_cell.items():
        trained = trained_rows(cell)
        through = interval_of(trained, f"{SHAPE}.rules_trained")
        if through.n == 0:
            continue
        linear = interval_of(trained, f"{SHAPE}.trained")
        floors = ", ".join(f"{name} {interval_text(trained, f'{SHAPE}.rules_{name}')}"
                           for name in RULE_READERS[1:])  # fmt: skip
        sentences.append(
            f"- ratio {ratio:g}, unit {unit}, trained runs: through the rules {through} "
            f"({cue_followed(through)}; {floors}); the linear class probe {linear} "
            f"({cue_followed(linear)})."
        )
    if not sentences:
        sentences = ["- No trained run measured it: the comparison waits for one."]
    return "\n".join([
        "### Through the rules: is A's tree in the features?",
        "",
        "A linear class probe may take the signature's shortcut. This reader can only take "
        "the tree's route: linear probes of the four level-1 symbols, trained on the same "
        "cue-consistent images, combined through the root's rules. Its shape bias on the "
        "same cue-conflict images asks whether the features carry A's tree; the untrained "
        "encoder and the pixels, read the same way, show how much of that the reader brings "
        "by itself, and its accuracy on cue-consistent images what the features add. Mean "
        "± the half-width of the 95 % interval over seeds.",
        "",
        *table.lines(),
        "",
        *sentences,
    ])  # fmt: skip


def cue_followed(interval: Interval) -> str:
    """Which cue a shape bias says the reader follows, beyond its 95 % interval."""
    if math.isnan(interval.value):
        return "no prediction of either class"
    if interval.n >= 2 and not math.isnan(interval.low):
        if interval.low > 0.5:
            return "follows the tree"
        if interval.high < 0.5:
            return "follows the signature"
        return "neither cue beyond the interval"
    side = "the tree" if interval.value > 0.5 else "the signature"
    return f"leans to {side}; one run gives no interval"
