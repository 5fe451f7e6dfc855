"""What a sweep would do, read without writing: the plan's points beside the database.

`maeid sweep --dry-run` lists every runnable point with what the results database says
of it, or `new` for a point it does not hold yet (or when there is no database). A dry
run writes nothing: no database, no run folder, no registered points; an existing
database is opened read-only (and refused if it is another program's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maeid.experiments.results_db import ResultsDB
from maeid.experiments.runner import read_result
from maeid.experiments.sweep_spec import SweepPoint


@dataclass(frozen=True)
class PlannedRun:
    """One runnable point of a sweep and where it stands."""

    id: int | None  # its row in the database; None for a point not registered yet
    config_hash: str
    params: dict[str, Any]
    run_dir: str
    # new | pending | running | done | failed; `done` also when its result.json is
    # written but not yet recorded (the next sweep records it without running it again)
    status: str
    abandoned: bool = False  # running, but its owner is dead or silent: free to take

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items())

    def will_run(self, retry_failed: bool = False) -> bool:
        """Whether the next sweep would work on it (it would resume a started one)."""
        return (
            self.status in ("new", "pending")
            or self.abandoned
            or (self.status == "failed" and retry_failed)
        )


def planned_runs(points: list[SweepPoint], db_path: Path, out_dir: Path) -> list[PlannedRun]:
    """`points` (a spec's plan) as the database and the run folders show them."""
    known = {}
    if db_path.is_file():
        with ResultsDB(db_path, read_only=True) as db:
            known = {run.config_hash: (run, db.is_abandoned(run)) for run in db.runs()}
    planned = []
    for point in points:
        run, abandoned = known.get(point.config_hash, (None, False))
        run_dir = Path(run.run_dir) if run else point.run_dir(out_dir).resolve()
        status = run.status if run else "new"
        if status != "done" and read_result(run_dir) is not None:
            status, abandoned = "done", False
        planned.append(PlannedRun(run.id if run else None, point.config_hash, point.params,
                                  str(run_dir), status, abandoned))  # fmt: skip
    return planned
