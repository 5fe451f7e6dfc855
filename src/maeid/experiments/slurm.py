"""Running a sweep's points as a SLURM job array, through submitit (optional dependency).

The results database stays on the submitting host: SQLite's WAL mode needs every process
on one machine, and network file systems lock unreliably. So compute nodes never open it.
Each array task runs one point in its run folder (on the shared file system) and writes
`result.json`; the submitter claims the points it submits, heartbeats them while it
waits, and records each result as its task ends. If the submitter dies, rerunning the
same `maeid sweep` records the results that tasks wrote meanwhile (`runner.harvest`) and
resubmits the rest, which resume from their last checkpoints.

`--dry-run` prints the array it would submit and needs no submitit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maeid.experiments.dry_run import PlannedRun
from maeid.experiments.results_db import ResultsDB, RunRecord
from maeid.experiments.runner import (
    RunContext,
    RunOutcome,
    harvest,
    load_run_fn,
    read_result,
    register,
    write_result,
)
from maeid.experiments.sweep_spec import SweepSpec


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each array task (submitit's `slurm_*` parameters)."""

    partition: str | None = None
    time_min: int = 120
    nodes: int = 1
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: int = 32
    array_parallelism: int = 64  # tasks running at once
    account: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more sbatch options

    def executor_parameters(self, job_name: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": job_name,
            "timeout_min": self.time_min,
            "nodes": self.nodes,
            "gpus_per_node": self.gpus_per_node,
            "cpus_per_task": self.cpus_per_task,
            "mem_gb": self.mem_gb,
            "slurm_array_parallelism": self.array_parallelism,
        }
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.account:
            params["slurm_account"] = self.account
        if self.extra:
            params["slurm_additional_parameters"] = dict(self.extra)
        return params


def pending_runs(
    spec: SweepSpec, db: ResultsDB, out_dir: Path, resolve=None, plan=None
) -> list[RunRecord]:
    """Register the sweep, record finished results, and list the runs still to do."""
    register(spec, db, out_dir, resolve, plan)
    harvest(db, spec.name)
    return [run for run in db.runs(spec.name) if run.status == "pending" or db.is_abandoned(run)]


def describe_jobs(
    spec: SweepSpec, runs: Sequence[RunRecord | PlannedRun], options: SlurmOptions
) -> str:
    """The dry-run listing: the executor parameters, then one line per array task (a run
    the database does not hold yet shows as `new run`)."""
    lines = [f"# sweep {spec.name}: {len(runs)} run(s) to submit as one SLURM job array"]
    params = options.executor_parameters(f"maeid-{spec.name}")
    lines += [f"#   {key} = {value}" for key, value in params.items()]
    lines.append(f"#   function = {spec.run}")
    for index, run in enumerate(runs):
        axes = " ".join(f"{k}={v}" for k, v in run.params.items())
        name = "new run" if run.id is None else f"run {run.id}"
        lines.append(f"task {index}: {name} [{run.config_hash[:12]}] {axes} -> {run.run_dir}")
    return "\n".join(lines)


def run_task(run_fn_path: str, run_id: int, config: dict, params: dict, run_dir: str) -> dict:
    """What one array task executes on its compute node."""
    path = Path(run_dir)
    existing = read_result(path)
    if existing is not None:
        return {"metrics": existing.metrics, "artefacts": existing.artefacts}
    resume = path.exists() and any(path.iterdir())
    path.mkdir(parents=True, exist_ok=True)
    outcome = load_run_fn(run_fn_path)(RunContext(run_id, config, params, path, resume, False))
    write_result(path, outcome)
    return {"metrics": outcome.metrics, "artefacts": outcome.artefacts}


def submit(
    spec: SweepSpec,
    db_path: str | Path,
    out_dir: Path,
    options: SlurmOptions,
    *,
    poll_s: float = 30.0,
) -> dict[str, int]:
    """Submit the sweep's remaining runs as one job array and record results as they come."""
    try:
        import submitit
    except ImportError as err:
        raise ValueError(
            "the SLURM launcher needs submitit: pip install 'maeid[slurm]' "
            "(or use --dry-run to see the jobs without it)"
        ) from err
    tally = {"done": 0, "failed": 0, "lost": 0}
    with ResultsDB(db_path) as db:
        claims = [c for run in pending_runs(spec, db, out_dir) if (c := db.claim_one(run.id))]
        if not claims:
            return tally
        executor = submitit.AutoExecutor(folder=out_dir / "slurm" / "%j")
        executor.update_parameters(**options.executor_parameters(f"maeid-{spec.name}"))
        with executor.batch():
            jobs = [
                executor.submit(
                    run_task, spec.run, c.run.id, c.run.config, c.run.params, c.run.run_dir
                )
                for c in claims
            ]
        print(f"submitted {len(jobs)} task(s): job {jobs[0].job_id.split('_')[0]}", file=sys.stderr)
        waiting = dict(zip(jobs, claims, strict=True))
        while waiting:
            for job, claim in list(waiting.items()):
                if not job.done():
                    db.heartbeat(claim)
                    continue
                del waiting[job]
                try:
                    result = job.result()
                except Exception as err:  # the task's exception, re-raised by submitit
                    tally["failed"] += db.fail(claim, f"SLURM job {job.job_id}: {err}")
                    continue
                ok = db.finish(claim, result["metrics"], result["artefacts"])
                tally["done" if ok else "lost"] += 1
            if waiting:
                time.sleep(poll_s)
    return tally


__all__ = ["RunOutcome", "SlurmOptions", "describe_jobs", "pending_runs", "run_task", "submit"]
