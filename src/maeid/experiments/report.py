"""`maeid report`: a results database -> `report.md` plus PNG figures.

Every section reads only what the database holds. A section without data says so and
the report goes on, so a half-finished sweep already gives a useful report.

Metric names the report understands (written by `maeid.experiments.pipeline`):

- `identifiability.predicted.level_L`: the theory's mean predicted R² of level L latents
  at the run's (ratio, unit), over masks from the training sampler;
- `identifiability.measured.level_L`: measured R², encoder on the visible tokens of such
  masks; `identifiability.measured_full.level_L`: the same on the full image;
- `identifiability.p_shared.level_L`: the theory's P(a level-L latent is in S(m));
- `identifiability.untrained_full.level_L`: the encoder at initialisation (the floor);
- `probe.linear_top1`, `probe.knn_top1`, `robustness.mean_top1` (fractions in [0, 1]);
- `recon.masked.{mse,psnr,ssim,fsim}` (and `recon.composed.*`, the whole composed image);
- `robustness.clean_top1`, `attention.mean_distance_last_layer` (pixels),
  `attention.cls_attention_on_object` and `attention.object_area` (fractions);
- artefacts `attention`, `tsne`, `reconstructions` (PNG paths), copied into the report's
  `runs/` folder so that the report folder stands on its own;
- per evaluation with its own sections (`EVALUATION_SECTIONS`): `symbols.*` (rhm32 sweeps,
  `maeid.experiments.report_symbols`), `shape_bias.*` and `rendition.*`
  (`maeid.experiments.report_texture`).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maeid.atomic import write_text
from maeid.experiments import paper_results
from maeid.experiments.report_agreement import (
    agreement_section,
    training_quality_section,
    verdict_summary,
)
from maeid.experiments.report_figures import (
    accuracy_vs_axis,
    cell_means,
    r2_heatmaps,
    reconstruction_vs_ratio,
)
from maeid.experiments.report_symbols import symbols_headline, symbols_sections, symbols_verdict
from maeid.experiments.report_texture import texture_headline, texture_sections, texture_verdict
from maeid.experiments.report_theory import theory_sections
from maeid.experiments.results_db import ResultsDB, RunRecord
from maeid.output_path import check_output_dir

R2_SOURCES = (
    ("identifiability.predicted", "predicted (theory)"),
    ("identifiability.limit_visible", "exact limit, visible side"),
    ("identifiability.measured", "measured: visible tokens"),
    ("identifiability.measured_region", "measured: visible, region readout"),
    ("identifiability.untrained", "floor: untrained, visible tokens"),
    ("identifiability.measured_full", "measured: full image"),
)
# Headline table columns: source prefix -> short name.
HEADLINE = {
    "identifiability.predicted": "pred",
    "identifiability.limit_visible": "limit",
    "identifiability.measured": "meas",
    "identifiability.measured_region": "region",
    "identifiability.untrained": "init",
}
# Real-image table columns: metric -> (header, format).
REAL_IMAGE_COLUMNS = {
    "probe.linear_top1": ("linear %", "pct"),
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
# Evaluations with sections of their own, in report order: (sections, headline, verdict).
# sections(rows, runs, out, figures) -> Markdown sections ([] without the evaluation's
# metrics); headline(rows) -> a Markdown table or None; verdict(rows) -> plain lines.
EVALUATION_SECTIONS = (
    (symbols_sections, symbols_headline, symbols_verdict),
    (texture_sections, texture_headline, texture_verdict),
)
# Per-run figures, by artefact name, as the report names them.
PER_RUN_IMAGES = {"attention": "attention maps", "reconstructions": "reconstructions",
                  "tsne": "t-SNE"}  # fmt: skip


@dataclass(frozen=True)
class Report:
    path: Path  # report.md
    figures: tuple[Path, ...]
    headline: str  # the leading table (Markdown), or a line saying it is missing
    verdict: str = ""  # runs trained, and the theory's verdict per level, in words


def default_report_dir(db_path: str | Path) -> Path:
    """`DB_DIR/<db stem>-report`: databases side by side get reports side by side."""
    db_path = Path(db_path).resolve()
    return db_path.parent / f"{db_path.stem}-report"


def build_report(
    db_path: str | Path,
    out_dir: str | Path | None = None,
    sweep: str | None = None,
    extra_sections: Sequence[str] = (),
    with_theory: bool = True,
) -> Report:
    """Write `out_dir/report.md` and its figures from the database at `db_path`.

    `extra_sections` (Markdown) go right after the header. `with_theory` adds the theory's
    profile of a synthetic sweep's model over the sweep's cells (the demo brings its own).
    """
    db_path = Path(db_path)
    if db_path.is_dir():
        raise ValueError(f"{db_path} is a folder; pass the database file `maeid sweep --db` wrote")
    if not db_path.is_file():
        raise FileNotFoundError(f"results database {db_path} not found; run `maeid sweep` first")
    out = Path(out_dir) if out_dir is not None else default_report_dir(db_path)
    check_output_dir(out)
    with ResultsDB(db_path, read_only=True) as db:  # read everything before writing anything
        if sweep is not None and sweep not in db.sweeps():
            raise ValueError(
                f"no sweep {sweep!r} in {db_path}; it holds {db.sweeps()}, pass one to --sweep"
            )
        runs = db.runs(sweep)
        skipped = db.skipped(sweep)
        rows = db.metric_table(sweep)
        sweeps = [sweep] if sweep else db.sweeps()
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    theory = theory_sections(runs, out) if with_theory else []
    headline = identifiability_table(rows)
    real = real_image_table(rows)
    own = [part for parts, _, _ in EVALUATION_SECTIONS for part in parts(rows, runs, out, figures)]
    # A sweep measured by its own evaluations (rhm32's symbols) has no R² to miss.
    r2 = (
        []
        if own and not r2_levels(rows)
        else [_identifiability_section(rows, out, figures, headline)]
    )
    sections = [
        _header(db_path, sweeps),
        *extra_sections,
        *theory,
        _runs_section(runs, skipped),
        *filter(None, [training_quality_section(rows)]),
        *own,
        *r2,
        *filter(None, [agreement_section(rows, r2_levels(rows))]),
        _accuracy_section(rows, out, figures, real),
        _reconstruction_section(rows, out, figures),
        _per_run_images_section(runs, out),
    ]
    path = out / "report.md"
    write_text(path, "\n\n".join(sections).rstrip() + "\n")
    tables = [table for _, table_of, _ in EVALUATION_SECTIONS if (table := table_of(rows))]
    if not r2_levels(rows) and tables:
        headline = tables[0]  # e.g. an rhm32 sweep: symbol accuracy per level leads
    elif not r2_levels(rows) and real is not None:
        headline = real  # a real-image sweep: its accuracies lead
    verdict = "\n".join(
        filter(None, [verdict_summary(rows, r2_levels(rows)),
                      *(verdict_of(rows) for _, _, verdict_of in EVALUATION_SECTIONS)])
    )  # fmt: skip
    return Report(path, tuple(figures), headline, verdict)


def r2_levels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Latent levels with R² metrics, in level order (`level_0`, `level_1`, ...)."""
    names = {
        key.rpartition(".")[2]
        for row in rows
        for key in row
        if key.startswith("identifiability.") and key.rpartition(".")[2].startswith("level_")
    }
    return sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or 0))


def identifiability_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: per (ratio, unit), predicted and measured R² for each latent level."""
    levels = r2_levels(rows)
    if not levels:
        return "_No identifiability results (synthetic-data runs) in this database._"
    sources = [p for p, _ in R2_SOURCES if p in HEADLINE and _has(rows, p, levels)]
    columns = [
        (f"{p}.{lv}", f"{lv.replace('_', ' ')} {HEADLINE[p]}", ".2f")
        for lv in levels
        for p in sources
    ]
    return _cell_table(rows, columns)


def real_image_table(rows: Sequence[dict[str, Any]]) -> str | None:
    """Markdown: per (ratio, unit), probe, kNN and robustness accuracy, reconstruction and
    attention distance; only the columns some run has. None without any such metric."""
    columns = [
        (metric, header, style)
        for metric, (header, style) in REAL_IMAGE_COLUMNS.items()
        if any(row.get(metric) is not None for row in rows)
    ]
    return _cell_table(rows, columns) if columns else None


def _cell_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """One line per (ratio, unit) cell, one column per (metric, header, style): the mean
    over the cell's seeds, as a percentage (style `pct`) or in a format spec; – if none."""
    cells = {m: cell_means(rows, m, "mask_ratio", "mask_unit") for m, _, _ in columns}
    keys = sorted({k for means in cells.values() for k in means})
    head = ["ratio", "unit"] + [header for _, header, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ratio, unit in keys:
        values = [_format(cells[m].get((ratio, unit)), style) for m, _, style in columns]
        lines.append(f"| {ratio:g} | {unit} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _format(value: float | None, style: str) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if style == "pct" else format(value, style)


def _has(rows, prefix: str, levels: Sequence[str]) -> bool:
    return any(row.get(f"{prefix}.{lv}") is not None for row in rows for lv in levels)


def _header(db_path: Path, sweeps: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# maeid sweep report\n\n"
        f"Database `{db_path}`, sweep(s): {', '.join(sweeps) or 'none'}; written {now}.\n"
        "Values are means over seeds for each (masking ratio, masking unit) cell; units are "
        "in pixels."
    )


def _runs_section(runs: list[RunRecord], skipped: Sequence[dict[str, Any]] = ()) -> str:
    impossible = [
        "- " + " ".join(f"{k}={v}" for k, v in cell["params"].items()) + f": {cell['reason']}"
        for cell in skipped
    ]
    note = (
        f"\n\n{len(impossible)} grid cell(s) cannot run and were skipped:\n\n"
        + "\n".join(impossible)
        if impossible
        else ""
    )
    if not runs:
        return "## Runs\n\n_The database holds no runs yet._" + note
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    lines = [
        "## Runs",
        "",
        ", ".join(f"{n} {status}" for status, n in counts.items()) + ".",
        "",
        "| id | point | status | attempts | time (s) | run folder |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        point = " ".join(f"{k}={v}" for k, v in run.params.items())
        secs = "–" if run.duration_s is None else f"{run.duration_s:.0f}"
        lines.append(
            f"| {run.id} | {point} | {run.status} | {run.attempts} | {secs} | "
            f"`{Path(run.run_dir).name}` |"
        )
    failed = [r for r in runs if r.status == "failed" and r.error]
    for run in failed:
        last = run.error.strip().splitlines()[-1]
        lines.append(f"\nRun {run.id} failed: `{last}`")
    return "\n".join(lines) + note


def _identifiability_section(rows, out: Path, figures: list[Path], headline: str) -> str:
    title = "## Identifiability: the theory's prediction against the trained encoder"
    levels = r2_levels(rows)
    if not levels:
        return f"{title}\n\n{headline}"
    sources = [(p, t) for p, t in R2_SOURCES if _has(rows, p, levels)]
    fig = r2_heatmaps(rows, levels, sources, out / "r2_heatmaps.png")
    figures.append(fig)
    return (
        f"{title}\n\n"
        "Predicted (`pred`): the theory's mean R² per latent level over masks drawn at the "
        "run's ratio and unit, exactly: 1 inside S(m), else R²*(z | S(m)) from the known "
        "model. Exact limit (`limit`): E_m[R²*(z | latent ancestors of the visible side)], "
        "the most any feature of the visible tokens can reach. Measured: a non-linear "
        "regressor (kernel ridge) from the encoder's features to the true latents, on "
        "held-out samples: mean-pooled visible tokens (`meas`), and per latent the mean of "
        "the visible tokens over its own region (`region`), a readout that keeps positions. "
        "Floor (`init`): the same encoder before training, with the same masks.\n\n"
        f"![R² heatmaps]({fig.name})\n\n{headline}{_untrained_note(rows, levels)}"
    )


def _untrained_note(rows, levels: Sequence[str]) -> str:
    """The floor: R² of the same encoder before training (full image), averaged."""
    values = []
    for lv in levels:
        vals = [
            r[f"identifiability.untrained_full.{lv}"]
            for r in rows
            if r.get(f"identifiability.untrained_full.{lv}") is not None
        ]
        if vals:
            values.append(f"{lv.replace('_', ' ')} {sum(vals) / len(vals):.2f}")
    if not values:
        return ""
    return (
        "\n\nFloor: the same encoder *before* training (full image) reaches R² "
        + ", ".join(values)
        + ". Random ViT features already carry much of the image; what training adds is "
        "the difference to the measured values."
    )


def _accuracy_section(rows, out: Path, figures: list[Path], table: str | None) -> str:
    title = "## Linear probe, kNN and robustness against masking ratio and unit"
    if not any(row.get("probe.linear_top1") is not None for row in rows):
        return f"{title}\n\n_No probe results (real-image runs) in this database._"
    parts = [
        title,
        "",
        "Top-1 accuracy on the test split of a linear probe and a kNN classifier on frozen "
        "encoder features ([CLS] unless the sweep sets `pool`), and of the probe on clean "
        "and corrupted test images (mean over the corruptions and severities); "
        "reconstruction metrics on the masked patches.",
        "",
        table or "",
        "",
        f"Dashed lines: the paper's trends, {paper_results.CITATION}, each "
        "series divided by its best value. Our data set and model are far smaller; "
        "compare shapes, not levels.",
    ]
    for axis, name in (("mask_ratio", "ratio"), ("mask_unit", "unit")):
        fig = accuracy_vs_axis(rows, axis, out / f"accuracy_vs_{name}.png")
        if fig is None:
            parts.append(f"\n_The sweep varies the masking {name} over fewer than two values._")
        else:
            figures.append(fig)
            parts.append(f"\n![accuracy against {name}]({fig.name})")
    return "\n".join(parts)


def _reconstruction_section(rows, out: Path, figures: list[Path]) -> str:
    title = "## Reconstruction quality against masking ratio (paper Fig. 5)"
    if not any(row.get("recon.masked.mse") is not None for row in rows):
        return f"{title}\n\n_No reconstruction metrics in this database._"
    fig = reconstruction_vs_ratio(rows, out / "reconstruction_vs_ratio.png")
    if fig is None:
        return f"{title}\n\n_The sweep varies the masking ratio over fewer than two values._"
    figures.append(fig)
    return f"{title}\n\n![reconstruction metrics]({fig.name})"


def _per_run_images_section(runs: list[RunRecord], out: Path) -> str:
    """The runs' own figures; the title names only the kinds some run has."""
    blocks, kinds = [], set()
    for run in runs:
        if run.status != "done" or not run.artefacts:
            continue
        images = [
            (name, Path(run.artefacts[name]))
            for name in PER_RUN_IMAGES
            if name in run.artefacts and Path(run.artefacts[name]).is_file()
        ]
        if images:
            kinds.update(name for name, _ in images)
            point = " ".join(f"{k}={v}" for k, v in run.params.items())
            copies = [(name, _copy_into(out / "runs", f"{run.id}_{name}", p)) for name, p in images]
            links = " ".join(f"![{name}]({p.relative_to(out)})" for name, p in copies)
            blocks.append(f"**Run {run.id}** ({point})\n\n{links}")
    if not blocks:
        return "## Per-run figures\n\n_No run has attention, reconstruction or t-SNE images._"
    shown = [label for name, label in PER_RUN_IMAGES.items() if name in kinds]
    return f"## Per run: {', '.join(shown)}\n\n" + "\n\n".join(blocks)


def _copy_into(folder: Path, stem: str, source: Path) -> Path:
    """Copy a run's image beside the report (a report folder must stand on its own)."""
    folder.mkdir(exist_ok=True)
    target = folder / f"{stem}{source.suffix}"
    shutil.copyfile(source, target)
    return target
