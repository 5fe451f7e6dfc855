"""The runs a report reads: one line per run, its state, and the grid cells skipped."""

from __future__ import annotations

from pathlib import Path

from maeid.report.registry import Page, section
from maeid.report.table import Table


def point_text(params: dict) -> str:
    """A run's point in the sweep, as the tables name it: `mask_ratio=0.5 seed=0`."""
    return " ".join(f"{k}={v}" for k, v in params.items())


@section("runs", reads=())  # the runs' records, no metric
def runs_section(page: Page) -> list[str]:
    """Every run: point, status, attempts, time and folder; the failures' last error line;
    the grid cells that cannot run, with the reason."""
    impossible = [f"- {point_text(cell['params'])}: {cell['reason']}" for cell in page.skipped]
    note = (
        f"\n\n{len(impossible)} grid cell(s) cannot run and were skipped:\n\n"
        + "\n".join(impossible)
        if impossible
        else ""
    )
    if not page.runs:
        return ["## Runs\n\n_The database holds no runs yet._" + note]
    counts: dict[str, int] = {}
    for run in page.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    table = Table("id", "point", "status", "attempts", "time (s)", "run folder")
    for run in page.runs:
        secs = "–" if run.duration_s is None else f"{run.duration_s:.0f}"
        table.add(run.id, point_text(run.params), run.status, run.attempts, secs,
                  f"`{Path(run.run_dir).name}`")  # fmt: skip
    lines = ["## Runs", "", ", ".join(f"{n} {status}" for status, n in counts.items()) + ".", ""]
    lines += table.lines()
    for run in page.runs:
        if run.status == "failed" and run.error:
            lines.append(f"\nRun {run.id} failed: `{run.error.strip().splitlines()[-1]}`")
    return ["\n".join(lines) + note]
