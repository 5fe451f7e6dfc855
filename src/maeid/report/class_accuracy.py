"""An rhm32 sweep's class probe against the masking ratio, beside the paper's Table 1.

Reads the `symbols` measure's class probe (`symbols.probe_full.level_0`), its untrained
floor and chance, per unit; shows the table, the peak ratio per unit and the figure.
"""

from __future__ import annotations

from maeid.evaluate.intervals import mean_interval
from maeid.experiments import paper_results
from maeid.report.cells import by_ratio, mean, ratios_of, units_of
from maeid.report.figures import class_accuracy_vs_ratio
from maeid.report.registry import Page, section
from maeid.report.symbols import metric, symbol_levels
from maeid.report.table import MISSING, Table, percent_text

MEASURED = metric("probe_full", "level_0")
FLOOR = metric("untrained_probe_full", "level_0")
CHANCE = metric("chance", "level_0")


@section("class_accuracy", reads=(MEASURED, FLOOR, CHANCE))
def class_accuracy_section(page: Page) -> list[str]:
    """None without symbol accuracies; else the class probe per ratio and unit."""
    rows = page.rows
    if not symbol_levels(rows):
        return []
    title = "## Class accuracy against the masking ratio, beside the paper's Table 1"
    fig = page.figure(
        class_accuracy_vs_ratio(rows, MEASURED, FLOOR, CHANCE, page.out / "class_vs_ratio.png")
    )
    paper = paper_results.linear_probe_vs_ratio()
    units = units_of(rows)
    curves = {unit: by_ratio(rows, MEASURED, unit) for unit in units}
    table = Table("ratio", "paper Table 1 (IN1K %)", *(f"unit {u} (%)" for u in units))
    for ratio in sorted(set(ratios_of(rows)) | set(paper)):
        published = f"{paper[ratio]:.1f}" if ratio in paper else MISSING
        ours = [percent_text(mean_interval(curves[u][ratio])) if ratio in curves[u] else MISSING
                for u in units]  # fmt: skip
        table.add(f"{ratio:g}", published, *ours)
    peaks = [
        f"unit {unit}: {max(curve, key=lambda x: mean(curve[x])):g}"
        for unit, curve in curves.items()
        if curve
    ]
    paper_peak = max(paper, key=paper.get)
    text = (
        f"{title}\n\n"
        "Linear-probe accuracy to the class on the full image (mean ± 95 % half-width over "
        f"seeds), beside {paper_results.CITATION}, which peaks at ratio {paper_peak:g}. "
        "Compare shapes, not levels.\n\n"
        + str(table)
        + f"\n\nPeak ratio: {'; '.join(peaks) or 'none measured'} (paper: {paper_peak:g})."
    )
    if fig is None:
        return [text + "\n\n_The sweep varies the masking ratio over fewer than two values._"]
    return [text + f"\n\n![class accuracy against the ratio]({fig.name})"]
