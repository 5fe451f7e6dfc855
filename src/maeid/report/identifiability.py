"""Identifiability: the theory's predicted R² of each latent level beside the trained
encoder's measured R², over the sweep's (ratio, unit) cells (synthetic-data sweeps).

Metrics (written by the `identifiability` measure), per latent level `level_L`:
`identifiability.predicted` (the theory's mean R² over masks from the training sampler),
`.limit_visible` (the exact limit from the visible side), `.measured` (the encoder on
the visible tokens), `.measured_region` (read per latent region), `.untrained` (the
encoder at initialisation, visible tokens), `.measured_full` and `.untrained_full` (the
full image).
"""

from __future__ import annotations

from collections.abc import Sequence

from maeid.report.cells import Row, in_numeric_order, mean_of
from maeid.report.figures import r2_heatmaps
from maeid.report.registry import Page, section
from maeid.report.table import cell_means_table, value_text

PREFIX = "identifiability"
# Every R² source, in figure order: metric prefix -> title.
R2_SOURCES = {
    f"{PREFIX}.predicted": "predicted (theory)",
    f"{PREFIX}.limit_visible": "exact limit, visible side",
    f"{PREFIX}.measured": "measured: visible tokens",
    f"{PREFIX}.measured_region": "measured: visible, region readout",
    f"{PREFIX}.untrained": "floor: untrained, visible tokens",
    f"{PREFIX}.measured_full": "measured: full image",
}
# Headline table columns: source prefix -> short name.
HEADLINE = {
    f"{PREFIX}.predicted": "pred",
    f"{PREFIX}.limit_visible": "limit",
    f"{PREFIX}.measured": "meas",
    f"{PREFIX}.measured_region": "region",
    f"{PREFIX}.untrained": "init",
}
UNTRAINED_FULL = f"{PREFIX}.untrained_full"
MISSING_TEXT = "_No identifiability results (synthetic-data runs) in this database._"


def r2_levels(rows: Sequence[Row]) -> list[str]:
    """Latent levels with R² metrics, in level order (`level_0`, `level_1`, ...)."""
    return in_numeric_order({
        key.rpartition(".")[2]
        for row in rows
        for key in row
        if key.startswith(f"{PREFIX}.") and key.rpartition(".")[2].startswith("level_")
    })  # fmt: skip


def identifiability_table(rows: Sequence[Row]) -> str | None:
    """Markdown: per (ratio, unit), predicted and measured R² for each latent level; None
    without R² metrics."""
    levels = r2_levels(rows)
    if not levels:
        return None
    sources = [p for p in HEADLINE if _has(rows, p, levels)]
    columns = [
        (f"{p}.{lv}", f"{lv.replace('_', ' ')} {HEADLINE[p]}", ".2f")
        for lv in levels
        for p in sources
    ]
    return cell_means_table(rows, columns)


@section("identifiability", reads=(*(f"{p}.level_*" for p in R2_SOURCES),
                                   f"{UNTRAINED_FULL}.level_*"),
         headline=identifiability_table)  # fmt: skip
def identifiability_section(page: Page) -> list[str]:
    title = "## Identifiability: the theory's prediction against the trained encoder"
    rows, levels = page.rows, r2_levels(page.rows)
    if not levels:
        return [f"{title}\n\n{MISSING_TEXT}"]
    sources = [(p, t) for p, t in R2_SOURCES.items() if _has(rows, p, levels)]
    fig = page.figure(r2_heatmaps(rows, levels, sources, page.out / "r2_heatmaps.png"))
    return [
        f"{title}\n\n"
        "Predicted (`pred`): the theory's mean R² per latent level over masks drawn at the "
        "run's ratio and unit, exactly: 1 inside S(m), else R²*(z | S(m)) from the known "
        "model. Exact limit (`limit`): E_m[R²*(z | latent ancestors of the visible side)], "
        "the most any feature of the visible tokens can reach. Measured: a non-linear "
        "regressor (kernel ridge) from the encoder's features to the true latents, on "
        "held-out samples: mean-pooled visible tokens (`meas`), and per latent the mean of "
        "the visible tokens over its own region (`region`), a readout that keeps positions. "
        "Floor (`init`): the same encoder before training, with the same masks.\n\n"
        f"![R² heatmaps]({fig.name})\n\n{identifiability_table(rows)}"
        f"{_untrained_note(rows, levels)}"
    ]


def _untrained_note(rows: Sequence[Row], levels: Sequence[str]) -> str:
    """The floor: R² of the same encoder before training (full image), averaged."""
    values = [
        f"{lv.replace('_', ' ')} {value_text(floor, '.2f')}"
        for lv in levels
        if (floor := mean_of(rows, f"{UNTRAINED_FULL}.{lv}")) is not None
    ]
    if not values:
        return ""
    return (
        "\n\nFloor: the same encoder *before* training (full image) reaches R² "
        + ", ".join(values)
        + ". Random ViT features already carry much of the image; what training adds is "
        "the difference to the measured values."
    )


def _has(rows: Sequence[Row], prefix: str, levels: Sequence[str]) -> bool:
    return any(row.get(f"{prefix}.{lv}") is not None for row in rows for lv in levels)
