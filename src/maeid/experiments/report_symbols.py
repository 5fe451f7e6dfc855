"""The report of an rhm32 sweep: what the encoder reads of each level of the grammar.

Reads the metrics of the `symbols` evaluation (`maeid.experiments.evaluations`), under
`symbols.`: per view (`full` image, `visible` tokens) and level k, the trained encoder's
`probe_<view>.level_k` and `knn_<view>.level_k`, the floors
`untrained_probe_<view>.level_k` (the encoder at initialisation) and
`pixels_probe_<view>.level_k` (the view's pixels), the Bayes limit `bayes_<view>.level_k`
and `chance.level_k`;
and the theory's profile of the run's (ratio, unit): `d_c_bits`, `c_share.level_k`,
`p_in_S.level_k`. Sections, each from the database alone:

- per-level probe accuracy over ratio x unit (heat maps and a table with 95 % intervals
  over seeds), beside the floors, chance and the Bayes limits;
- the theory's profile of the same cells;
- Spearman's rho between each theory quantity and what training added (trained minus
  floor) per level, over all cells and within each unit, on trained runs only
  (`maeid.experiments.report_agreement`), and the verdict per level;
- whether trained encoders determine the class: the class through the root's rules from
  the level-1 probes (`rules_<view>.level_0`), beside its floors and the Bayes limits,
  and climbed from every deeper level (`rules_from_<view>.level_k`) where it was measured;
- the pre-registered readouts (`maeid.experiments.report_readouts`): information per
  level from probes (G), a class-only probe at two label budgets, and the rules readout
  as a share of its floor-to-Bayes gap;
- the class probe against the ratio per unit, beside the shape of the paper's Table 1.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maeid.evaluate.intervals import mean_interval
from maeid.evaluate.symbols import READOUTS
from maeid.experiments import paper_results
from maeid.experiments.report_agreement import rank_agreement, trained_rows
from maeid.experiments.report_figures import class_accuracy_vs_ratio, level_heatmaps
from maeid.experiments.results_db import RunRecord
from maeid.train.quality import TRAINED_EXCESS

Row = dict[str, Any]
PREFIX = "symbols"
VIEWS = {"full": "full image", "visible": "visible tokens"}
CLIMBERS = ("", "untrained_", "pixels_")  # the trained encoder, its floor, the pixels
# Theory quantities held against the measurement: name -> (metric for a level, label).
THEORY = {
    "d_c_bits": (lambda level: f"{PREFIX}.d_c_bits", "d_c (bits)"),
    "c_share": (lambda level: f"{PREFIX}.c_share.{level}", "share of c at the level"),
    "p_in_S": (lambda level: f"{PREFIX}.p_in_S.{level}", "P(level in S)"),
}
VERDICT_VIEW = "full"  # a probe reads the full image, as the paper's linear probe does
VERDICT_THEORY = "p_in_S"  # the theory's claim: the MAE's code holds S(m)


def symbol_levels(rows: Sequence[Row]) -> list[str]:
    """Levels with symbol accuracies (`level_0` = the class first)."""
    head = f"{PREFIX}.probe_full."
    names = {key[len(head) :] for row in rows for key in row if key.startswith(head)}
    return sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or 0))


def level_name(level: str) -> str:
    return "level 0 (class)" if level == "level_0" else level.replace("_", " ")


def metric(name: str, level: str) -> str:
    return f"{PREFIX}.{name}.{level}"


def symbols_sections(
    rows: Sequence[Row], runs: Sequence[RunRecord], out: Path, figures: list[Path]
) -> list[str]:
    """The rhm32 sections of a report, or none when no run measured `symbols`."""
    from maeid.experiments.report_readouts import readouts_section

    levels = symbol_levels(rows)
    readouts = readouts_section(rows)
    if not levels:
        return [readouts] if readouts else []
    return [
        accuracy_section(rows, runs, levels, out, figures),
        theory_profile_section(rows, levels),
        agreement_section(rows, levels),
        *([rules_section(rows)] if _measured(rows, "rules_full", "level_0") else []),
        *([readouts] if readouts else []),
        class_section(rows, out, figures),
    ]


def symbols_headline(rows: Sequence[Row]) -> str | None:
    """Markdown: per cell, trained runs and the full-image probe beside its floor per level."""
    levels = symbol_levels(rows)
    if not levels:
        return None
    head = ["ratio", "unit", "trained runs"] + [
        f"{lv.replace('level_', 'L')} probe / floor" for lv in levels
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in _cells(rows).items():
        trained = len(trained_rows(cell))
        values = [
            f"{_mean(cell, metric('probe_full', lv))} / "
            f"{_mean(cell, metric('untrained_probe_full', lv))}"
            for lv in levels
        ]
        lines.append(f"| {ratio:g} | {unit} | {trained}/{len(cell)} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def symbols_verdict(rows: Sequence[Row]) -> str:
    """One line per level: does what training added follow the theory's P(level in S)?"""
    return "\n".join(
        f"symbols, {level_name(lv)}: {level_verdict(rows, lv, VERDICT_VIEW, VERDICT_THEORY)[3]}"
        for lv in symbol_levels(rows)
    )


def level_verdict(rows: Sequence[Row], level: str, view: str, theory: str):
    """`rank_agreement` of a theory quantity and the probe's gain over its floor."""
    return rank_agreement(
        rows,
        THEORY[theory][0](level),
        metric(f"probe_{view}", level),
        metric(f"untrained_probe_{view}", level),
    )


# ------------------------------------------------------------------------------ sections
def accuracy_section(
    rows: Sequence[Row], runs: Sequence[RunRecord], levels: Sequence[str], out: Path,
    figures: list[Path],
) -> str:  # fmt: skip
    pool = _pool(runs)
    notes = {}
    for lv in levels:
        chance = _mean(rows, metric("chance", lv))
        bayes = _mean(rows, metric("bayes_full", lv))
        notes[lv] = f"chance {chance}\nBayes, full {bayes}"
    sources = [
        (f"{PREFIX}.{name}", label)
        for name, label in (
            ("probe_full", "trained: full image"),
            ("untrained_probe_full", "floor: untrained, full image"),
            ("pixels_probe_full", "floor: pixels, full image"),
            ("probe_visible", "trained: visible tokens"),
            ("untrained_probe_visible", "floor: untrained, visible"),
            ("pixels_probe_visible", "floor: pixels, visible"),
            ("bayes_visible", "Bayes limit: visible side"),
        )
        if _measured(rows, name, levels[0])
    ]
    fig = level_heatmaps(
        rows, levels, sources, out / "symbol_heatmaps.png", "accuracy",
        "rhm32: linear-probe accuracy per level of the grammar", notes,
    )  # fmt: skip
    figures.append(fig)
    columns = [
        ("probe_full", "probe, full"),
        ("untrained_probe_full", "floor, full"),
        ("pixels_probe_full", "pixels, full"),
        ("knn_full", "kNN, full"),
        ("bayes_full", "Bayes, full"),
        ("probe_visible", "probe, visible"),
        ("untrained_probe_visible", "floor, visible"),
        ("pixels_probe_visible", "pixels, visible"),
        ("bayes_visible", "Bayes, visible"),
        ("chance", "chance"),
    ]
    columns = [(name, label) for name, label in columns if _measured(rows, name, levels[0])]
    head = ["ratio", "unit", "level", "trained runs"] + [label for _, label in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in _cells(rows).items():
        trained = len(trained_rows(cell))
        for lv in levels:
            values = [str(mean_interval([r.get(metric(name, lv)) for r in cell]))
                      for name, _ in columns]  # fmt: skip
            lines.append(
                f"| {ratio:g} | {unit} | {lv.replace('level_', '')} | {trained}/{len(cell)} | "
                + " | ".join(values)
                + " |"
            )
    missing = missing_cells(rows, runs, PREFIX)
    gap = (
        "\n\nCells without a finished run (blank in the heat maps): "
        + "; ".join(f"ratio {r:g} unit {u} ({why})" for (r, u), why in missing.items())
        + "."
        if missing
        else ""
    )
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
        f"![symbol accuracy heat maps]({fig.name})\n\n" + "\n".join(lines) + gap
    )


def theory_profile_section(rows: Sequence[Row], levels: Sequence[str]) -> str:
    head = ["ratio", "unit", "d_c (bits)"]
    head += [f"c share {lv.replace('level_', 'L')}" for lv in levels]
    head += [f"P({lv.replace('level_', 'L')} in S)" for lv in levels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (ratio, unit), cell in _cells(rows).items():
        values = [_mean(cell, f"{PREFIX}.d_c_bits", ".1f")]
        values += [_mean(cell, metric("c_share", lv)) for lv in levels]
        values += [_mean(cell, metric("p_in_S", lv)) for lv in levels]
        lines.append(f"| {ratio:g} | {unit} | " + " | ".join(values) + " |")
    return (
        "## The theory's profile of the same cells\n\n"
        "Over masks from the MAE's own sampler at each cell's ratio and unit: the mean code "
        "size d_c in bits (log2 of the number of classes for the root, and for every other "
        "latent in S(m) log2 of its parent level's rule count), the mean share of c's "
        "members at each level, and the probability that a "
        "latent of the level is in S(m).\n\n" + "\n".join(lines)
    )


def agreement_section(rows: Sequence[Row], levels: Sequence[str]) -> str:
    units = sorted({r["mask_unit"] for r in rows if r.get("mask_unit") is not None})
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
        if not _measured(rows, f"probe_{view}", levels[0]):
            continue
        head = ["level", "theory quantity", "trained runs", "under-trained runs",
                "all cells: rho [95 %]", "verdict"] + [f"unit {u}" for u in units]  # fmt: skip
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lv in levels:
            for theory, (_, label) in THEORY.items():
                rho, n_trained, n_under, outcome = level_verdict(rows, lv, view, theory)
                within = []
                for unit in units:
                    unit_rows = [r for r in rows if r.get("mask_unit") == unit]
                    u_rho, _, _, u_outcome = level_verdict(unit_rows, lv, view, theory)
                    within.append(_rho_text(u_rho, u_outcome))
                    if view == VERDICT_VIEW and u_outcome == "agrees":
                        tracks[f"{lv}@{unit}"].append(label)
                if view == VERDICT_VIEW and outcome == "agrees":
                    tracks[lv].append(label)
                lines.append(
                    f"| {level_name(lv)} | {label} | {n_trained} | {n_under} | "
                    f"{_rho_text(rho, outcome, verdict=False)} | {outcome} | "
                    + " | ".join(within)
                    + " |"
                )
        parts += ["", f"**{view_label}**", "", *lines]
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


def _ceiling_note(rows: Sequence[Row], level: str) -> str:
    """A warning where the floor leaves training almost nothing to add at `level`."""
    floors = [r[k] for r in rows if (k := metric(f"untrained_probe_{VERDICT_VIEW}", level)) in r]
    limits = [r[k] for r in rows if (k := metric(f"bayes_{VERDICT_VIEW}", level)) in r]
    if not floors or not limits:
        return ""
    floor, limit = sum(floors) / len(floors), sum(limits) / len(limits)
    if limit - floor > CEILING_ROOM:
        return ""
    return (
        f"; the untrained floor already reads this level at {floor:.3f} of a Bayes limit of "
        f"{limit:.3f}, so what training adds is capped near {limit - floor:.3f} and its "
        "ranks are mostly noise"
    )


def rules_section(rows: Sequence[Row]) -> str:
    """Does a trained encoder determine the class, as S(m) holds it? The class read through
    the root's rules from the level-1 probes, beside its floors and Bayes limits."""
    columns = [
        ("rules_full", "trained, full"),
        ("untrained_rules_full", "floor, full"),
        ("pixels_rules_full", "pixels, full"),
        ("bayes_full", "Bayes, full"),
        ("rules_visible", "trained, visible"),
        ("untrained_rules_visible", "floor, visible"),
        ("pixels_rules_visible", "pixels, visible"),
        ("bayes_visible", "Bayes, visible"),
        ("probe_full", "linear class probe, full"),
    ]
    head = ["ratio", "unit", "trained runs", "P(class in S)"] + [label for _, label in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for (ratio, unit), cell in _cells(rows).items():
        trained = trained_rows(cell)
        values = [str(mean_interval([r.get(metric(name, "level_0")) for r in cell]))
                  for name, _ in columns]  # fmt: skip
        shared = _mean(cell, metric("p_in_S", "level_0"))
        lines.append(f"| {ratio:g} | {unit} | {len(trained)}/{len(cell)} | {shared} | "
                     + " | ".join(values) + " |")  # fmt: skip
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
        + "\n".join(lines)
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
    head = ["ratio", "unit", "trained runs", "view"]
    head += [f"from level {k}: trained / floor / pixels" for k in levels] + ["Bayes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reached = []
    for (ratio, unit), cell in _cells(rows).items():
        trained = trained_rows(cell)
        for view, label in VIEWS.items():
            read = {k: _climbs(cell, view, k) for k in levels}
            if all(i.n == 0 for k in levels for i in read[k]):
                continue  # a cell whose runs were not climbed: nothing to show
            bayes = mean_interval([r.get(metric(f"bayes_{view}", "level_0")) for r in cell])
            lines.append(f"| {ratio:g} | {unit} | {len(trained)}/{len(cell)} | {label} | "
                         + " | ".join(" / ".join(map(str, read[k])) for k in levels)
                         + f" | {bayes} |")  # fmt: skip
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
        "is the table above.\n\n" + "\n".join(lines) + ("\n\n" + found if found else "")
    )


def _climbs(rows: Sequence[Row], view: str, level: int) -> list[Any]:
    """The climb from `level` of the trained encoder, the floor and the pixels, over rows."""
    names = [metric(f"{who}rules_from_{view}", f"level_{level}") for who in CLIMBERS]
    return [mean_interval([r.get(name) for r in rows]) for name in names]


def _first_level_at_bayes(
    trained: Sequence[Row], view: str, levels: Sequence[int], ratio: float, unit: Any
) -> str:
    """The first level from which the trained runs' climb comes within CEILING_ROOM of the
    view's Bayes limit, with the floor's and the pixels' climb from that level."""
    limit = mean_interval([r.get(metric(f"bayes_{view}", "level_0")) for r in trained])
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
    read = mean_interval([r.get(metric(f"rules_{view}", "level_0")) for r in trained])
    limit = mean_interval([r.get(metric(f"bayes_{view}", "level_0")) for r in trained])
    if math.isnan(read.value) or math.isnan(limit.value):
        return ""
    outcome = "agrees" if read.value >= limit.value - CEILING_ROOM else "disagrees"
    return f"{VIEWS[view]} {outcome} ({read}, Bayes {limit.value:.3f})"


def class_section(rows: Sequence[Row], out: Path, figures: list[Path]) -> str:
    title = "## Class accuracy against the masking ratio, beside the paper's Table 1"
    measured, floor = metric("probe_full", "level_0"), metric("untrained_probe_full", "level_0")
    fig = class_accuracy_vs_ratio(rows, measured, floor, metric("chance", "level_0"),
                                  out / "class_vs_ratio.png")  # fmt: skip
    paper = paper_results.linear_probe_vs_ratio()
    units = sorted({r["mask_unit"] for r in rows if r.get("mask_unit") is not None})
    ratios = sorted({r["mask_ratio"] for r in rows if r.get("mask_ratio") is not None} | set(paper))
    head = ["ratio", "paper Table 1 (IN1K %)"] + [f"unit {u} (%)" for u in units]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ratio in ratios:
        cells = []
        for unit in units:
            values = [100 * r[measured] for r in rows
                      if r.get("mask_ratio") == ratio and r.get("mask_unit") == unit
                      and r.get(measured) is not None]  # fmt: skip
            cells.append(_interval_text(values))
        published = f"{paper[ratio]:.1f}" if ratio in paper else "–"
        lines.append(f"| {ratio:g} | {published} | " + " | ".join(cells) + " |")
    peaks = []
    for unit in units:
        means = _ratio_means(rows, measured, unit)
        if means:
            best = max(means, key=means.get)
            peaks.append(f"unit {unit}: {best:g}")
    paper_peak = max(paper, key=paper.get)
    text = (
        f"{title}\n\n"
        "Linear-probe accuracy to the class on the full image (mean ± 95 % half-width over "
        f"seeds), beside {paper_results.CITATION}, which peaks at ratio {paper_peak:g}. "
        "Compare shapes, not levels.\n\n"
        + "\n".join(lines)
        + f"\n\nPeak ratio: {'; '.join(peaks) or 'none measured'} (paper: {paper_peak:g})."
    )
    if fig is None:
        return text + "\n\n_The sweep varies the masking ratio over fewer than two values._"
    figures.append(fig)
    return text + f"\n\n![class accuracy against the ratio]({fig.name})"


# ------------------------------------------------------------------------------ helpers
def cells_with(rows: Sequence[Row], prefix: str) -> dict[tuple[float, Any], list[Row]]:
    """Rows with a metric under `prefix`, grouped by (ratio, unit), in order."""
    cells: dict[tuple[float, Any], list[Row]] = defaultdict(list)
    for row in rows:
        if row.get("mask_ratio") is not None and row.get("mask_unit") is not None:
            if any(k.startswith(f"{prefix}.") for k in row):
                cells[(row["mask_ratio"], row["mask_unit"])].append(row)
    return dict(sorted(cells.items()))


def _cells(rows: Sequence[Row]) -> dict[tuple[float, Any], list[Row]]:
    return cells_with(rows, PREFIX)


def missing_cells(rows: Sequence[Row], runs: Sequence[RunRecord], prefix: str) -> dict[tuple, str]:
    """Cells of the sweep's runs that asked for the measure `prefix` but that no finished
    run measured, with their runs' states."""
    done = set(cells_with(rows, prefix))
    states: dict[tuple, set[str]] = defaultdict(set)
    for run in runs:
        requested = (run.config or {}).get("evaluate")  # names, or names mapped to options
        if requested is not None and prefix not in requested:
            continue  # the run was never asked for this measure
        if run.mask_ratio is not None and run.mask_unit is not None:
            states[(run.mask_ratio, run.mask_unit)].add(run.status)
    return {cell: ", ".join(sorted(s)) for cell, s in sorted(states.items()) if cell not in done}


# Room between the untrained floor and the Bayes limit below which a level's gain is too
# small to rank (the all-token readout of an untrained encoder reads rhm32's leaves at 0.99).
CEILING_ROOM = 0.05


def _measured(rows: Sequence[Row], name: str, level: str) -> bool:
    """Whether any run holds the metric `name` at `level` (older sweeps lack some)."""
    return any(r.get(metric(name, level)) is not None for r in rows)


def _ratio_means(rows: Sequence[Row], name: str, unit: int) -> dict[float, float]:
    groups: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r.get("mask_unit") == unit and r.get(name) is not None:
            groups[r["mask_ratio"]].append(float(r[name]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


def _mean(rows: Sequence[Row], name: str, style: str = ".3f") -> str:
    values = [float(r[name]) for r in rows if r.get(name) is not None]
    return format(sum(values) / len(values), style) if values else "–"


def _interval_text(values: Sequence[float]) -> str:
    if not values:
        return "–"
    interval = mean_interval(values)
    if interval.n < 2:
        return f"{interval.value:.1f} (n=1)"
    return f"{interval.value:.1f} ± {interval.halfwidth:.1f}"


def _rho_text(rho, outcome: str, verdict: bool = True) -> str:
    if rho is None or math.isnan(rho.value):
        return "–"
    if math.isnan(rho.low):
        text = f"{rho.value:+.2f} (no interval)"
    else:
        text = f"{rho.value:+.2f} [{rho.low:+.2f}, {rho.high:+.2f}]"
    return f"{text} {outcome.split(' ')[0]}" if verdict else text


def _pool(runs: Sequence[RunRecord]) -> str:
    """The readout the sweep's `symbols` metrics hold (mean unless the sweep says
    otherwise; `maeid.evaluate.symbols.POOLS`)."""
    pools = {
        str(((run.config or {}).get("evaluate") or {}).get("symbols", {}).get("pool", "mean"))
        for run in runs
        if "symbols" in (((run.config or {}).get("evaluate")) or {})
    }
    return "/".join(sorted(pools)) or "mean"
