"""Each finished run's own figures, copied beside the report so that its folder stands
on its own."""

from __future__ import annotations

import shutil
from pathlib import Path

from maeid.report.registry import Page, section
from maeid.report.runs import point_text

# Per-run figures, by artefact name, as the report names them (in this order).
PER_RUN_IMAGES = {"attention": "attention maps", "reconstructions": "reconstructions",
                  "tsne": "t-SNE"}  # fmt: skip


@section("per_run_figures", reads=())  # the runs' artefacts, no metric
def per_run_figures_section(page: Page) -> list[str]:
    """The runs' own figures; the title names only the kinds some run has."""
    blocks, kinds = [], set()
    for run in page.runs:
        if run.status != "done" or not run.artefacts:
            continue
        images = [
            (name, Path(run.artefacts[name]))
            for name in PER_RUN_IMAGES
            if name in run.artefacts and Path(run.artefacts[name]).is_file()
        ]
        if images:
            kinds.update(name for name, _ in images)
            copies = [
                (name, _copy_into(page.out / "runs", f"{run.id}_{name}", p)) for name, p in images
            ]
            links = " ".join(f"![{name}]({p.relative_to(page.out)})" for name, p in copies)
            blocks.append(f"**Run {run.id}** ({point_text(run.params)})\n\n{links}")
    if not blocks:
        return ["## Per-run figures\n\n_No run has attention, reconstruction or t-SNE images._"]
    shown = [label for name, label in PER_RUN_IMAGES.items() if name in kinds]
    return [f"## Per run: {', '.join(shown)}\n\n" + "\n\n".join(blocks)]


def _copy_into(folder: Path, stem: str, source: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / f"{stem}{source.suffix}"
    shutil.copyfile(source, target)
    return target
