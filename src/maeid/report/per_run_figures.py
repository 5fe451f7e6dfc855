"""Each finished run's own figures: its held-out curve and the figures its evaluation drew.

An image inside the report's folder (a sweep whose runs live under it) is linked where it
lies; one outside is copied into `OUT/runs/` so that the report's folder stands on its own.
"""

from __future__ import annotations

from pathlib import Path

from maeid import atomic
from maeid.experiments.results_db import RunRecord
from maeid.report.registry import Page, section
from maeid.report.runs import point_text
from maeid.train.quality import TRAINED_EXCESS

# Per-run figures, by artefact name, as the report names them (in this order).
PER_RUN_IMAGES = {"heldout": "held-out loss", "attention": "[CLS] attention maps",
                  "reconstructions": "reconstructions", "tsne": "t-SNE"}  # fmt: skip
# Where a sweep point's training draws its held-out curve (`maeid.experiments.pipeline`
# trains into RUN/train; `maeid.train.heldout_plot` draws there), relative to the run.
HELDOUT_CURVE = Path("train") / "heldout.png"


@section("per_run_figures", reads=())  # the runs' artefacts, no metric
def per_run_figures_section(page: Page) -> list[str]:
    """The runs' own figures; the title names only the kinds some run has."""
    blocks, kinds = [], set()
    for run in page.runs:
        images = run_images(run) if run.status == "done" else []
        if not images:
            continue
        kinds.update(name for name, _ in images)
        links = " ".join(
            f"![{alt_text(name)}]({in_report(page.out, f'{run.id}_{name}', path)})"
            for name, path in images
        )
        folder = Path(run.run_dir).name
        blocks.append(f"**Run {run.id}** ({point_text(run.params)}; folder `{folder}`)\n\n{links}")
    if not blocks:
        return [
            "## Per-run figures\n\n_No run has a held-out curve, attention maps, "
            "reconstructions or a t-SNE map._"
        ]
    shown = [label for name, label in PER_RUN_IMAGES.items() if name in kinds]
    intro = (
        "Each run's own figures. A figure's title opens with the run's folder and whether "
        f"its model is trained (held-out normalised excess at most {TRAINED_EXCESS}) or "
        "under-trained."
    )
    return [f"## Per run: {', '.join(shown)}\n\n{intro}\n\n" + "\n\n".join(blocks)]


def run_images(run: RunRecord) -> list[tuple[str, Path]]:
    """(name, path) of the run's figures that exist, in `PER_RUN_IMAGES` order."""
    found = {name: Path(p) for name, p in (run.artefacts or {}).items() if name in PER_RUN_IMAGES}
    found.setdefault("heldout", Path(run.run_dir) / HELDOUT_CURVE)
    return [
        (name, found[name]) for name in PER_RUN_IMAGES if name in found and found[name].is_file()
    ]


def alt_text(name: str) -> str:
    """The figure's label as a Markdown image's text (brackets would end it early)."""
    return PER_RUN_IMAGES[name].replace("[", "").replace("]", "")


def in_report(out: Path, stem: str, image: Path) -> str:
    """The link from the report to `image`: where it lies when inside the report's folder
    `out`, else to a copy `OUT/runs/STEM.png`."""
    out, image = out.resolve(), image.resolve()
    if not image.is_relative_to(out):
        copy = out / "runs" / f"{stem}{image.suffix}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(copy, image.read_bytes())
        image = copy
    return image.relative_to(out).as_posix()
