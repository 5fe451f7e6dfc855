"""rhm32 rendition shifts: the same trees drawn differently, beside the paper's Table 1
robustness.

Reads the `rendition` measure: `rendition.clean`, `rendition.<kind>_<severity>` and their
Bayes counterparts `rendition.bayes_*`, and where measured the class through the rules of
level-1 probes (`rendition.rules_*`) and its pixel floors (`rendition.pixels_*`,
`rendition.rules_pixels_*`). Per cell: the probe's accuracy per shift and severity beside
its clean accuracy and the Bayes accuracy under the same shift, a heat map of the mean
over the shifts, and the mean shifted accuracy against the ratio beside the paper.
Under-trained runs are named, and left out of the comparison with the paper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from maeid.evaluate.intervals import Interval, mean_interval
from maeid.evaluate.rendition import KINDS
from maeid.experiments import paper_results
from maeid.report.cells import (
    EXCESS,
    Row,
    cells,
    interval_of,
    mean,
    ratio_intervals,
    rows_in_cells,
    trained_rows,
    units_of,
)
from maeid.report.figures import level_heatmaps
from maeid.report.registry import Page, section, with_copies
from maeid.report.table import (
    MISSING,
    Table,
    gap_notes,
    interval_text,
    mean_text,
    percent_text,
    trained_text,
)

RENDITION = "rendition"
SHIFTED = "mean_shifted"  # a row's mean accuracy over every shift and severity
RULES = "rules_"  # the prefix of the class read through the rules of level-1 probes
# Readers of each shift, by metric prefix: the probe, the Bayes classifier, the rules
# readout, and the pixels read by a probe and through the rules.
SHIFT_READERS = ("", "bayes_", RULES, "pixels_", f"{RULES}pixels_")
READS = (
    *(f"{RENDITION}.{reader}clean" for reader in SHIFT_READERS),
    *(f"{RENDITION}.{reader}{kind}_*" for reader in SHIFT_READERS for kind in KINDS),
    EXCESS,
)
# The per-kind and overall means `with_shift_means` adds to each row.
DERIVES = tuple(f"{RENDITION}.{reader}mean_*" for reader in SHIFT_READERS)


def shifts_of(rows: Sequence[Row]) -> list[tuple[str, float]]:
    """The (kind, severity) shifts some run measured, in `KINDS` order, mildest first."""
    head = f"{RENDITION}."
    found = set()
    for row in rows:
        for key in row:
            if key.startswith(head) and not key.startswith(f"{head}bayes_"):
                kind, _, severity = key[len(head) :].partition("_")
                if kind in KINDS and severity:
                    found.add((kind, float(severity)))
    return sorted(found, key=lambda s: (KINDS.index(s[0]), s[1]))


def shift_metric(kind: str, severity: float, reader: str = "") -> str:
    """The metric of one shift for a reader prefix: "" (the probe), `bayes_`, `rules_`,
    `pixels_` or `rules_pixels_`."""
    return f"{RENDITION}.{reader}{kind}_{severity:g}"


def with_shift_means(rows: Sequence[Row]) -> list[Row]:
    """Rows with each run's mean accuracy over the shifts of each kind (`mean_<kind>`) and
    over all shifts (`mean_shifted`), the probe's, the Bayes one's (`bayes_mean_*`), the
    rules readout's (`rules_mean_*`) and the pixel floors' (`pixels_mean_*`,
    `rules_pixels_mean_*`)."""
    shifts = shifts_of(rows)
    out = []
    for row in rows:
        row = with_copies(row)
        for pre in SHIFT_READERS:
            groups: dict[str, list[float]] = defaultdict(list)
            for kind, severity in shifts:
                value = row.get(shift_metric(kind, severity, pre))
                if value is not None:
                    groups[f"mean_{kind}"].append(value)
                    groups[SHIFTED].append(value)
            for name, values in groups.items():
                row[f"{RENDITION}.{pre}{name}"] = mean(values)
        out.append(row)
    return out


@section(RENDITION, reads=READS, derives=DERIVES)
def rendition_section(page: Page) -> list[str]:
    shifts = shifts_of(page.rows)
    if not shifts:
        return []
    rows = with_shift_means(page.rows)
    kinds = [k for k in KINDS if any(kind == k for kind, _ in shifts)]
    views = ["clean", *(f"mean_{k}" for k in kinds), SHIFTED]
    notes = {v: f"Bayes {mean_text(rows, f'{RENDITION}.bayes_{v}')}" for v in views}
    fig = page.figure(level_heatmaps(
        rows_in_cells(rows, RENDITION), views, [(RENDITION, "linear-probe accuracy")],
        page.out / "rendition_heatmaps.png", "accuracy", "rhm32: class accuracy, clean and "
        "under rendition shifts (mean over severities)", notes,
    ))  # fmt: skip
    return ["\n".join([
        "## Rendition shifts: the same trees, drawn differently",
        "",
        "Class accuracy of a linear probe trained on clean images of the trained encoder, "
        "on the same test trees rendered with a shifted patch dictionary (`invert`: "
        "contrast inverted by the severity; `blur`: Gaussian blur of std severity pixels; "
        "`redraw`: that fraction of patches drawn anew), beside its clean accuracy, its "
        "drop from clean, and the Bayes accuracy under the same shift (the most the "
        "shifted pixels allow). Mean ± the half-width of the 95 % interval over seeds "
        "(n=1: no interval). The heat maps average each kind over its severities.",
        "",
        f"![rendition heat maps]({fig.name})",
        "",
        *shift_table(rows, shifts).lines(),
        *gap_notes(rows, page.runs, RENDITION),
        *paper_subsection(rows),
        *rendition_rules_subsection(rows),
    ])]  # fmt: skip


def shift_table(rows: Sequence[Row], shifts: Sequence[tuple[str, float]]) -> Table:
    """Per cell and shift: the probe under the shift, clean, their drop, and Bayes."""
    table = Table("ratio", "unit", "trained runs", "shift", "probe", "probe, clean", "drop",
                  "Bayes", "Bayes, clean")  # fmt: skip
    clean_name = f"{RENDITION}.clean"
    for (ratio, unit), cell in cells(rows, RENDITION).items():
        clean = interval_of(cell, clean_name)
        bayes_clean = interval_of(cell, f"{RENDITION}.bayes_clean")
        for kind, severity in shifts:
            name = shift_metric(kind, severity)
            drops = [r[clean_name] - r[name] for r in cell
                     if r.get(name) is not None and r.get(clean_name) is not None]  # fmt: skip
            table.add(f"{ratio:g}", unit, trained_text(cell), f"{kind} {severity:g}",
                      interval_of(cell, name), clean, mean_interval(drops),
                      interval_of(cell, shift_metric(kind, severity, "bayes_")),
                      bayes_clean)  # fmt: skip
    return table


def paper_subsection(rows: Sequence[Row]) -> list[str]:
    """Lines: trained runs' clean and mean shifted accuracy against the ratio per unit,
    beside the paper's Table 1 robustness, and each unit's peak ratio."""
    trained = trained_rows(rows)
    units = units_of(rows)
    curves = {u: ratio_intervals(trained, f"{RENDITION}.{SHIFTED}", u) for u in units}
    cleans = {u: ratio_intervals(trained, f"{RENDITION}.clean", u) for u in units}
    paper = paper_results.robustness_vs_ratio()
    paper_clean = paper_results.linear_probe_vs_ratio()
    table = Table("ratio", "paper: IN1K / shifted mean (%)",
                  *(f"unit {u}: clean / mean shifted (%)" for u in units))  # fmt: skip
    for ratio in sorted({x for c in curves.values() for x in c} | set(paper)):
        published = f"{paper_clean[ratio]:.1f} / {paper[ratio]:.1f}" if ratio in paper else MISSING
        ours = [
            f"{percent_text(cleans[u].get(ratio))} / {percent_text(curves[u].get(ratio))}"
            if ratio in curves[u]
            else MISSING
            for u in units
        ]
        table.add(f"{ratio:g}", published, *ours)
    peaks = "; ".join(f"unit {u}: {peak_of(c)}" for u, c in curves.items() if c)
    return [
        "",
        "### Shifted accuracy against the ratio, beside the paper's Table 1 robustness",
        "",
        "Trained runs only: clean accuracy and the mean over every shift and severity, "
        f"beside {paper_results.CITATION}: IN1K and the mean of its five shifted test sets "
        f"(peak at ratio {max(paper, key=paper.get):g}). Compare shapes, not levels.",
        "",
        *table.lines(),
        "",
        f"Peak ratio of the mean shifted accuracy: {peaks or 'none measured'} "
        f"(paper: {max(paper, key=paper.get):g}).",
    ]


def rendition_rules_subsection(rows: Sequence[Row]) -> list[str]:
    """Lines: the class through the rules of level-1 probes under each kind of shift,
    beside the linear probe and the ideal observer (none when no run measured it), from
    rows that carry their shift means (`with_shift_means`)."""
    measured = [r for r in rows if r.get(f"{RENDITION}.{RULES}clean") is not None]
    by_cell = cells(measured, RENDITION)
    if not by_cell:
        return []
    kinds = list(dict.fromkeys(kind for kind, _ in shifts_of(measured)))
    table = Table("ratio", "unit", "trained runs", "clean", "mean shifted",
                  *(f"mean {kind}" for kind in kinds),
                  "pixels through the rules: clean / mean shifted",
                  "linear probe: clean / mean shifted", "Bayes: mean shifted")  # fmt: skip
    sentences = []
    for (ratio, unit), cell in by_cell.items():
        names = [f"{RULES}clean", f"{RULES}{SHIFTED}"] + [f"{RULES}mean_{k}" for k in kinds]
        values = [interval_text(cell, f"{RENDITION}.{name}") for name in names]
        for pre in (f"{RULES}pixels_", ""):
            values.append(
                f"{interval_text(cell, f'{RENDITION}.{pre}clean')} / "
                f"{interval_text(cell, f'{RENDITION}.{pre}{SHIFTED}')}"
            )
        values.append(interval_text(cell, f"{RENDITION}.bayes_{SHIFTED}"))
        table.add(f"{ratio:g}", unit, trained_text(cell), *values)
        trained = trained_rows(cell)
        if trained:
            said = {pre: interval_text(trained, f"{RENDITION}.{pre}{SHIFTED}")
                    for pre in (RULES, f"{RULES}pixels_", "", "bayes_")}  # fmt: skip
            sentences.append(
                f"- ratio {ratio:g}, unit {unit}, trained runs: through the rules "
                f"{said[RULES]} on average over the shifts (clean "
                f"{interval_text(trained, f'{RENDITION}.{RULES}clean')}); the pixels through "
                f"the rules {said[f'{RULES}pixels_']}, the linear probe {said['']}, the ideal "
                f"observer {said['bayes_']}."
            )
    return [
        "",
        "### Through the rules: does the tree survive the shift in the features?",
        "",
        "The class read through the root's rules from linear probes of the level-1 symbols, "
        "trained on the same clean images, under the same shifts: whether the features keep "
        "the tree's symbols when the rendering changes, where the linear class probe may "
        "rely on the signature; beside the pixels read the same way (the floor). Mean ± the "
        "half-width of the 95 % interval over seeds.",
        "",
        *table.lines(),
        "",
        *(sentences or ["- No trained run measured it."]),
    ]


def peak_of(curve: dict[float, Interval]) -> str:
    """The ratio of a curve's highest mean, and the ratios its 95 % interval does not
    separate it from (one run has no interval, so it separates from nothing)."""
    peak = max(curve, key=lambda x: curve[x].value)
    top = curve[peak].low
    ties = [x for x in curve if x != peak and not curve[x].high < top]  # NaN: not separated
    if not ties:
        return f"{peak:g}"
    return f"{peak:g}, not separated from {', '.join(f'{x:g}' for x in ties)} by the intervals"
