"""The rhm32 report's texture columns: shape bias and rendition shifts, beside the paper.

Reads the metrics of the `shape_bias` and `rendition` evaluations
(`maeid.evaluate.texture_measures`): `shape_bias.{trained,untrained,pixels,bayes}`,
`shape_bias.rules_<reader>` and `shape_bias.clean_<reader>`; `rendition.clean`,
`rendition.<kind>_<severity>` and their Bayes counterparts `rendition.bayes_*`. Sections,
each from the database alone:

- shape bias over ratio x unit (heat map, and a table with 95 % intervals over seeds)
  beside the untrained encoder, the pixel probe and the Bayes reference; against the
  ratio per unit beside the paper's Table 2, with a sentence per unit saying whether the
  measured curve has the paper's shape (computed, never assumed);
- shape bias of the class read through the root's rules from level-1 probes
  (`shape_bias.rules_<reader>`), when measured: whether the tree is in the features;
- the probe's accuracy per rendition shift and severity beside its clean accuracy and the
  Bayes accuracy under the same shift, a heat map of the mean over the shifts, and the
  mean shifted accuracy against the ratio beside the paper's Table 1 robustness.

Under-trained runs (`maeid.train.quality.under_trained`) are counted and named in each
cell's table and left out of every comparison with the paper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maeid.evaluate.intervals import Interval, mean_interval
from maeid.evaluate.rendition import KINDS
from maeid.experiments import paper_results
from maeid.experiments.report_agreement import EXCESS, trained_rows
from maeid.experiments.report_figures import level_heatmaps, shape_bias_vs_ratio
from maeid.experiments.report_symbols import cells_with, missing_cells
from maeid.experiments.results_db import RunRecord
from maeid.train.quality import TRAINED_EXCESS, under_trained

Row = dict[str, Any]
SHAPE = "shape_bias"
RENDITION = "rendition"
SHIFTED = "mean_shifted"  # a row's mean accuracy over every shift and severity
READERS = ("trained", "untrained", "pixels", "bayes")  # shape-bias metrics, table order
RULES = "rules_"  # the prefix of the class read through the rules of level-1 probes


def texture_sections(
    rows: Sequence[Row], runs: Sequence[RunRecord], out: Path, figures: list[Path]
) -> list[str]:
    """The shape-bias and rendition sections, each only when some run measured it."""
    sections = []
    if cells_with(rows, SHAPE):
        sections.append(shape_bias_section(rows, runs, out, figures))
    if shifts_of(rows):
        sections.append(rendition_section(rows, runs, out, figures))
    return sections


def texture_headline(rows: Sequence[Row]) -> str | None:
    """Markdown: per cell, shape bias trained / untrained (linear probe, and through the
    rules where measured) and clean / mean shifted accuracy."""
    has_shape, has_shifts = bool(cells_with(rows, SHAPE)), bool(shifts_of(rows))
    if not (has_shape or has_shifts):
        return None
    has_rules = any(r.get(f"{SHAPE}.rules_trained") is not None for r in rows)
    rows = with_shift_means(rows)
    head = ["ratio", "unit", "trained runs"]
    head += ["shape bias trained / untrained"] if has_shape else []
    head += ["through the rules trained / untrained"] if has_rules else []
    head += ["clean / mean shifted"] if has_shifts else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cells: dict[tuple, list[Row]] = defaultdict(list)
    for prefix in (SHAPE, RENDITION):
        for key, cell in cells_with(rows, prefix).items():
            cells[key] += [r for r in cell if r not in cells[key]]
    for (ratio, unit), cell in sorted(cells.items()):
        values = [_trained_count(cell)]
        if has_shape:
            values.append(
                f"{_mean(cell, f'{SHAPE}.trained')} / {_mean(cell, f'{SHAPE}.untrained')}"
            )
        if has_rules:
            values.append(
                f"{_mean(cell, f'{SHAPE}.rules_trained')} / "
                f"{_mean(cell, f'{SHAPE}.rules_untrained')}"
            )
        if has_shifts:
            values.append(
                f"{_mean(cell, f'{RENDITION}.clean')} / {_mean(cell, f'{RENDITION}.{SHIFTED}')}"
            )
        lines.append(f"| {ratio:g} | {unit} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def texture_verdict(rows: Sequence[Row]) -> str:
    """One line per unit: does the measured shape bias have the paper's shape?"""
    if not cells_with(rows, SHAPE):
        return ""
    trained = trained_rows(rows)
    curves = {unit: ratio_intervals(trained, f"{SHAPE}.trained", unit) for unit in _units(rows)}
    return "\n".join(f"shape bias, unit {u}: {shape_verdict(c)}" for u, c in curves.items())


# ------------------------------------------------------------------------------ shape bias
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


def shape_bias_section(
    rows: Sequence[Row], runs: Sequence[RunRecord], out: Path, figures: list[Path]
) -> str:
    cells = cells_with(rows, SHAPE)
    bayes = _mean(rows, f"{SHAPE}.bayes")
    readers = [name for name in ("trained", "untrained", "pixels")
               if any(r.get(f"{SHAPE}.{name}") is not None for r in rows)]  # fmt: skip
    measured = _cells_rows(rows, SHAPE)  # a ratio no run measured adds no column
    fig = level_heatmaps(
        measured, readers, [(SHAPE, "shape bias")], out / "shape_bias_heatmaps.png", "shape bias",
        f"rhm32: shape bias on cue-conflict images (Bayes {bayes})",
    )  # fmt: skip
    figures.append(fig)
    columns = [f"{SHAPE}.{name}" for name in READERS] + [f"{SHAPE}.clean_trained"]
    head = ["ratio", "unit", "trained runs", "trained", "untrained", "pixel probe", "Bayes",
            "clean accuracy, trained"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in cells.items():
        values = [_interval(cell, name) for name in columns]
        lines.append(
            f"| {ratio:g} | {unit} | {_trained_count(cell)} | " + " | ".join(values) + " |"
        )
    trained = trained_rows(rows)
    units = _units(rows)
    curves = {unit: ratio_intervals(trained, f"{SHAPE}.trained", unit) for unit in units}
    floors = {
        unit: {x: i.value for x, i in ratio_intervals(trained, f"{SHAPE}.untrained", unit).items()}
        for unit in units
    }
    pixels = [r[f"{SHAPE}.pixels"] for r in rows if r.get(f"{SHAPE}.pixels") is not None]
    curve_fig = shape_bias_vs_ratio(
        {u: c for u, c in curves.items() if c}, floors,
        sum(pixels) / len(pixels) if pixels else None, out / "shape_bias_vs_ratio.png",
    )  # fmt: skip
    paper = paper_results.shape_bias_vs_ratio()
    ratios = sorted({x for c in curves.values() for x in c} | set(paper))
    head = ["ratio", "paper Table 2"] + [f"unit {u}: trained" for u in units]
    table2 = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ratio in ratios:
        published = f"{paper[ratio]:.4f}" if ratio in paper else "–"
        ours = [str(curves[u][ratio]) if ratio in curves[u] else "–" for u in units]
        table2.append(f"| {ratio:g} | {published} | " + " | ".join(ours) + " |")
    paper_peak = max(paper, key=paper.get)
    sentences = [f"- unit {unit}: {shape_verdict(curves[unit])}." for unit in units]
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
        *lines,
        *_gap_notes(rows, runs, SHAPE),
        "",
        "### Shape bias against the ratio, beside the paper's Table 2",
        "",
        f"Trained runs only; beside {paper_results.SHAPE_BIAS_CITATION}, which peaks at "
        f"ratio {paper_peak:g} and is lowest at {min(paper, key=paper.get):g}. The shape "
        "bias has the same definition in both, but the data differ: compare shapes.",
        "",
        *table2,
        "",
        *sentences,
    ]
    if curve_fig is None:
        parts += ["", "_The trained runs vary the masking ratio over fewer than two values._"]
    else:
        figures.append(curve_fig)
        parts += ["", f"![shape bias against the ratio]({curve_fig.name})"]
    if any(r.get(f"{SHAPE}.rules_trained") is not None for r in rows):
        parts += ["", rules_subsection(rows, cells)]
    return "\n".join(parts)


def rules_subsection(rows: Sequence[Row], cells: dict[tuple, list[Row]]) -> str:
    """Shape bias of the class read through the root's rules from level-1 probes, beside
    the linear class probe: is A's tree in the features when the linear probe says B?"""
    readers = ("trained", "untrained", "pixels")
    head = ["ratio", "unit", "trained runs", "trained", "untrained", "pixels",
            "clean accuracy: trained / untrained / pixels",
            "linear class probe, trained"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in cells.items():
        values = [_interval(cell, f"{SHAPE}.rules_{name}") for name in readers]
        values.append(" / ".join(_interval(cell, f"{SHAPE}.clean_rules_{n}") for n in readers))
        values.append(_interval(cell, f"{SHAPE}.trained"))
        lines.append(
            f"| {ratio:g} | {unit} | {_trained_count(cell)} | " + " | ".join(values) + " |"
        )
    sentences = []
    for (ratio, unit), cell in cells.items():
        trained = trained_rows(cell)
        through = mean_interval([r.get(f"{SHAPE}.rules_trained") for r in trained])
        if through.n == 0:
            continue
        linear = mean_interval([r.get(f"{SHAPE}.trained") for r in trained])
        floors = ", ".join(f"{name} {_interval(trained, f'{SHAPE}.rules_{name}')}"
                           for name in readers[1:])  # fmt: skip
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
        *lines,
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


# ------------------------------------------------------------------------------ rendition
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
        row = dict(row)
        for pre in ("", "bayes_", RULES, "pixels_", f"{RULES}pixels_"):
            groups: dict[str, list[float]] = defaultdict(list)
            for kind, severity in shifts:
                value = row.get(shift_metric(kind, severity, pre))
                if value is not None:
                    groups[f"mean_{kind}"].append(value)
                    groups[SHIFTED].append(value)
            for name, values in groups.items():
                row[f"{RENDITION}.{pre}{name}"] = sum(values) / len(values)
        out.append(row)
    return out


def rendition_section(
    rows: Sequence[Row], runs: Sequence[RunRecord], out: Path, figures: list[Path]
) -> str:
    shifts = shifts_of(rows)
    rows = with_shift_means(rows)
    kinds = [k for k in KINDS if any(kind == k for kind, _ in shifts)]
    views = ["clean", *(f"mean_{k}" for k in kinds), SHIFTED]
    notes = {v: f"Bayes {_mean(rows, f'{RENDITION}.bayes_{v}')}" for v in views}
    measured = _cells_rows(rows, RENDITION)
    fig = level_heatmaps(
        measured, views, [(RENDITION, "linear-probe accuracy")], out / "rendition_heatmaps.png",
        "accuracy", "rhm32: class accuracy, clean and under rendition shifts (mean over "
        "severities)", notes,
    )  # fmt: skip
    figures.append(fig)
    head = ["ratio", "unit", "trained runs", "shift", "probe", "probe, clean", "drop",
            "Bayes", "Bayes, clean"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in cells_with(rows, RENDITION).items():
        clean = mean_interval([r.get(f"{RENDITION}.clean") for r in cell])
        bayes_clean = mean_interval([r.get(f"{RENDITION}.bayes_clean") for r in cell])
        for kind, severity in shifts:
            name = shift_metric(kind, severity)
            clean_name = f"{RENDITION}.clean"
            drops = [r[clean_name] - r[name] for r in cell
                     if r.get(name) is not None and r.get(clean_name) is not None]  # fmt: skip
            values = [
                mean_interval([r.get(name) for r in cell]),
                clean,
                mean_interval(drops),
                mean_interval([r.get(shift_metric(kind, severity, "bayes_")) for r in cell]),
                bayes_clean,
            ]
            lines.append(
                f"| {ratio:g} | {unit} | {_trained_count(cell)} | {kind} {severity:g} | "
                + " | ".join(map(str, values)) + " |"
            )  # fmt: skip
    trained = trained_rows(rows)
    units = _units(rows)
    curves = {u: ratio_intervals(trained, f"{RENDITION}.{SHIFTED}", u) for u in units}
    cleans = {u: ratio_intervals(trained, f"{RENDITION}.clean", u) for u in units}
    paper = paper_results.robustness_vs_ratio()
    paper_clean = paper_results.linear_probe_vs_ratio()
    ratios = sorted({x for c in curves.values() for x in c} | set(paper))
    head = ["ratio", "paper: IN1K / shifted mean (%)"]
    head += [f"unit {u}: clean / mean shifted (%)" for u in units]
    table1 = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ratio in ratios:
        published = f"{paper_clean[ratio]:.1f} / {paper[ratio]:.1f}" if ratio in paper else "–"
        ours = [
            f"{_pct(cleans[u].get(ratio))} / {_pct(curves[u].get(ratio))}"
            if ratio in curves[u]
            else "–"
            for u in units
        ]
        table1.append(f"| {ratio:g} | {published} | " + " | ".join(ours) + " |")
    peaks = "; ".join(f"unit {u}: {peak_of(c)}" for u, c in curves.items() if c)
    return "\n".join([
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
        *lines,
        *_gap_notes(rows, runs, RENDITION),
        "",
        "### Shifted accuracy against the ratio, beside the paper's Table 1 robustness",
        "",
        "Trained runs only: clean accuracy and the mean over every shift and severity, "
        f"beside {paper_results.CITATION}: IN1K and the mean of its five shifted test sets "
        f"(peak at ratio {max(paper, key=paper.get):g}). Compare shapes, not levels.",
        "",
        *table1,
        "",
        f"Peak ratio of the mean shifted accuracy: {peaks or 'none measured'} "
        f"(paper: {max(paper, key=paper.get):g}).",
        *rendition_rules_subsection(rows),
    ])  # fmt: skip


def rendition_rules_subsection(rows: Sequence[Row]) -> list[str]:
    """Lines: the class through the rules of level-1 probes under each kind of shift,
    beside the linear probe and the ideal observer (none when no run measured it), from
    rows that carry their shift means (`with_shift_means`)."""
    measured = [r for r in rows if r.get(f"{RENDITION}.{RULES}clean") is not None]
    cells = cells_with(measured, RENDITION)
    if not cells:
        return []
    kinds = list(dict.fromkeys(kind for kind, _ in shifts_of(measured)))
    head = ["ratio", "unit", "trained runs", "clean", "mean shifted"]
    head += [f"mean {kind}" for kind in kinds]
    head += ["pixels through the rules: clean / mean shifted",
             "linear probe: clean / mean shifted", "Bayes: mean shifted"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sentences = []
    for (ratio, unit), cell in cells.items():
        names = [f"{RULES}clean", f"{RULES}{SHIFTED}"] + [f"{RULES}mean_{k}" for k in kinds]
        values = [_interval(cell, f"{RENDITION}.{name}") for name in names]
        for pre in (f"{RULES}pixels_", ""):
            values.append(
                f"{_interval(cell, f'{RENDITION}.{pre}clean')} / "
                f"{_interval(cell, f'{RENDITION}.{pre}{SHIFTED}')}"
            )
        values.append(_interval(cell, f"{RENDITION}.bayes_{SHIFTED}"))
        lines.append(
            f"| {ratio:g} | {unit} | {_trained_count(cell)} | " + " | ".join(values) + " |"
        )
        trained = trained_rows(cell)
        if trained:
            sentences.append(
                f"- ratio {ratio:g}, unit {unit}, trained runs: through the rules "
                f"{_interval(trained, f'{RENDITION}.{RULES}{SHIFTED}')} on average over the "
                f"shifts (clean {_interval(trained, f'{RENDITION}.{RULES}clean')}); the pixels "
                f"through the rules {_interval(trained, f'{RENDITION}.{RULES}pixels_{SHIFTED}')}"
                f", the linear probe {_interval(trained, f'{RENDITION}.{SHIFTED}')}, the ideal "
                f"observer {_interval(trained, f'{RENDITION}.bayes_{SHIFTED}')}."
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
        *lines,
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


# ------------------------------------------------------------------------------ helpers
def ratio_intervals(rows: Sequence[Row], name: str, unit: Any) -> dict[float, Interval]:
    """{ratio: mean and 95 % interval of `name` over the rows (seeds) at `unit`}."""
    groups: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if (
            r.get("mask_unit") == unit
            and r.get("mask_ratio") is not None
            and r.get(name) is not None
        ):
            groups[r["mask_ratio"]].append(float(r[name]))
    return {x: mean_interval(v) for x, v in sorted(groups.items())}


def _units(rows: Sequence[Row]) -> list[Any]:
    return sorted({r["mask_unit"] for r in rows if r.get("mask_unit") is not None})


def _gap_notes(rows: Sequence[Row], runs: Sequence[RunRecord], prefix: str) -> list[str]:
    """Lines naming the under-trained runs, and the cells whose runs were asked for the
    `prefix` measure but none finished."""
    notes = []
    under = [r for r in _cells_rows(rows, prefix) if under_trained(r.get(EXCESS))]
    if under:
        notes.append(
            "Under-trained (normalised excess > "
            f"{TRAINED_EXCESS}; in the table and heat maps, left out of the comparison with "
            "the paper): "
            + "; ".join(
                f"run {r['id']} (ratio {r['mask_ratio']:g}, unit {r['mask_unit']}, "
                f"seed {r.get('seed', '–')}, excess {r[EXCESS]:.3f})"
                for r in under
            )  # fmt: skip
            + "."
        )
    missing = missing_cells(rows, runs, prefix)
    if missing:
        notes.append(
            "Cells without a finished run (missing from the heat maps): "
            + "; ".join(f"ratio {r:g} unit {u} ({why})" for (r, u), why in missing.items())
            + "."
        )
    return [line for note in notes for line in ("", note)]


def _cells_rows(rows: Sequence[Row], prefix: str) -> list[Row]:
    return [r for cell in cells_with(rows, prefix).values() for r in cell]


def _trained_count(cell: Sequence[Row]) -> str:
    return f"{len(trained_rows(cell))}/{len(cell)}"


def _interval(rows: Sequence[Row], name: str) -> str:
    return str(mean_interval([r.get(name) for r in rows]))


def _mean(rows: Sequence[Row], name: str) -> str:
    values = [float(r[name]) for r in rows if r.get(name) is not None]
    return f"{sum(values) / len(values):.3f}" if values else "–"


def _pct(interval: Interval | None) -> str:
    if interval is None or math.isnan(interval.value):
        return "–"
    if interval.n < 2 or math.isnan(interval.halfwidth):
        return f"{100 * interval.value:.1f} (n=1)"
    return f"{100 * interval.value:.1f} ± {100 * interval.halfwidth:.1f}"
