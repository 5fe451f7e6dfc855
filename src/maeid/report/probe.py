"""Real-image sweeps: linear probe, kNN and robustness accuracy against the masking ratio
and unit, beside the paper's Table 1 trends; reconstruction and attention in the table.

Metrics: `probe.linear_top1`, `probe.knn_top1`, `robustness.clean_top1` and
`robustness.mean_top1` (fractions in [0, 1]); `recon.masked.{mse,psnr,ssim,fsim}`;
`attention.mean_distance_last_layer` (pixels), `attention.cls_attention_on_object` and
`attention.object_area` (fractions); `run.patch_size` puts units in ViT patches.
"""

from __future__ import annotations

from collections.abc import Sequence

from maeid.experiments import paper_results
from maeid.report.cells import Row
from maeid.report.figures import ACCURACIES, accuracy_vs_axis
from maeid.report.registry import Page, section
from maeid.report.table import cell_means_table

LINEAR = "probe.linear_top1"
# Table columns: metric -> (header, style of `maeid.report.table.value_text`).
COLUMNS = {
    LINEAR: ("linear %", "pct"),
    "probe.knn_top1": ("kNN %", "pct"),
    "robustness.clean_top1": ("clean %", "pct"),
    "robustness.mean_top1": ("corrupted %", "pct"),
    "recon.masked.mse": ("masked MSE", ".3f"),
    "recon.masked.psnr": ("PSNR", ".1f"),
    "recon.masked.ssim": ("SSIM", ".3f"),
    "recon.masked.fsim": ("FSIM", ".3f"),
    "attention.mean_distance_last_layer": ("attn dist px", ".1f"),
    "attention.cls_attention_on_object": ("attn on object %", "pct"),
    "attention.object_area": ("object area %", "pct"),
}
PATCH_SIZE = "run.patch_size"


def real_image_table(rows: Sequence[Row]) -> str | None:
    """Markdown: per (ratio, unit), probe, kNN and robustness accuracy, reconstruction and
    attention; only the columns some run has. None without any such metric."""
    columns = [
        (metric, header, style)
        for metric, (header, style) in COLUMNS.items()
        if any(row.get(metric) is not None for row in rows)
    ]
    return cell_means_table(rows, columns) if columns else None


@section("probe", reads=(*COLUMNS, *(m for _, m, _ in ACCURACIES), PATCH_SIZE),
         headline=real_image_table)  # fmt: skip
def probe_section(page: Page) -> list[str]:
    title = "## Linear probe, kNN and robustness against masking ratio and unit"
    rows = page.rows
    if not any(row.get(LINEAR) is not None for row in rows):
        return [f"{title}\n\n_No probe results (real-image runs) in this database._"]
    parts = [
        title,
        "",
        "Top-1 accuracy on the test split of a linear probe and a kNN classifier on frozen "
        "encoder features ([CLS] unless the sweep sets `pool`), and of the probe on clean "
        "and corrupted test images (mean over the corruptions and severities); "
        "reconstruction metrics on the masked patches.",
        "",
        real_image_table(rows) or "",
        "",
        f"Dashed lines: the paper's trends, {paper_results.CITATION}, each "
        "series divided by its best value. Our data set and model are far smaller; "
        "compare shapes, not levels.",
    ]
    for axis, name in (("mask_ratio", "ratio"), ("mask_unit", "unit")):
        fig = page.figure(accuracy_vs_axis(rows, axis, page.out / f"accuracy_vs_{name}.png"))
        if fig is None:
            parts.append(f"\n_The sweep varies the masking {name} over fewer than two values._")
        else:
            parts.append(f"\n![accuracy against {name}]({fig.name})")
    return ["\n".join(parts)]
