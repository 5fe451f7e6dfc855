"""`maeid sweep`: run a grid of pre-train + evaluate points into a results database."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from maeid.experiments.dry_run import planned_runs
from maeid.experiments.results_db import ResultsDB
from maeid.experiments.runner import default_out_dir, run_sweep
from maeid.experiments.slurm import SlurmOptions, describe_jobs, submit
from maeid.experiments.sweep_spec import SkippedPoint, SweepSpec
from maeid.output_path import check_output_dir, check_output_file
from maeid.threads import add_threads_argument, resolve_threads

DESCRIPTION = """\
Run every point of a sweep (a grid over masking ratio x masking unit x seed, or any config
key): pre-train an MAE, evaluate it, and store config, status, timings, metrics and
artefact paths in a SQLite results database (one row per run, keyed by config hash).

Grid cells that cannot run (a ratio that leaves no masking unit visible, a unit that
does not tile the image) are listed by --dry-run, skipped with a note, and named in the
report; the sweep still ends with status 0.

Idempotent: rerunning the same command skips finished runs, resumes interrupted ones
from their last checkpoint, and is safe to start twice on the same database. See
configs/sweeps/ for examples; `maeid report DB` turns the database into a report.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run a grid of MAE trainings + evaluations into a results database",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", type=Path, help="sweep YAML (e.g. configs/sweeps/demo.yaml)")
    p.add_argument("--db", type=Path, required=True, help="results database (SQLite file)")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for the run folders (default: the spec's `out`, else DB_DIR/SWEEP_NAME)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local processes running points in parallel (they share the CPU cores; default 1)",
    )
    add_threads_argument(p, per_worker=True)
    p.add_argument(
        "--launcher",
        choices=("local", "slurm"),
        default="local",
        help="local: this machine; slurm: one job array through submitit (pip install "
        "'maeid[slurm]'), results recorded here as tasks end",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would run (for slurm: the job array and its resources) beside what "
        "the database holds; writes nothing (no database, no folder)",
    )
    p.add_argument("--retry-failed", action="store_true", help="run failed points again")
    g = p.add_argument_group("slurm launcher (submitit)")
    g.add_argument("--partition", help="SLURM partition")
    g.add_argument("--account", help="SLURM account")
    g.add_argument("--time-min", type=int, default=120, help="time limit per run (minutes)")
    g.add_argument(
        "--gpus-per-node",
        type=int,
        default=1,
        help="GPUs per task; to train each run on several, also set the spec's "
        "`launch: {nproc_per_node: K}` (torchrun)",
    )
    g.add_argument("--cpus-per-task", type=int, default=8)
    g.add_argument("--mem-gb", type=int, default=32)
    g.add_argument("--parallel", type=int, default=64, help="array tasks running at once")
    p.set_defaults(func=run, on_interrupt=resume_hint)


def run(args: argparse.Namespace) -> int:
    spec = SweepSpec.from_yaml(args.spec)
    writes = not args.dry_run  # a dry run may look at a folder it could not write to
    out_dir = check_output_dir(args.out or default_out_dir(spec, args.db), writable=writes)
    check_output_file(args.db, "--db", writable=writes)
    if writes and args.db.exists() and not os.access(args.db, os.W_OK):
        raise ValueError(f"--db {args.db} is read-only; make it writable or pick another --db")
    for option in ("workers", "time_min", "gpus_per_node", "cpus_per_task", "mem_gb", "parallel"):
        if getattr(args, option) < 1:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag} {getattr(args, option)}: give a count of at least 1")
    resolve_threads(args.threads)  # a negative count is refused before anything is written
    plan = spec.plan()  # every point resolved and checked before anything is written
    if args.launcher == "slurm":
        return _slurm(args, spec, out_dir, plan)
    if args.dry_run:
        return _local_dry_run(args, spec, out_dir, plan)
    workers = args.workers
    if workers > max(len(plan[0]), 1):  # a worker process with no point would only start up
        workers = max(len(plan[0]), 1)
        print(f"--workers {args.workers}: the sweep has {len(plan[0])} point(s) to run, so "
              f"{workers} worker(s)", file=sys.stderr)  # fmt: skip
    summary = run_sweep(
        spec,
        args.db,
        out_dir=out_dir,
        workers=workers,
        threads=args.threads,
        retry_failed=args.retry_failed,
    )
    _print_summary(spec, args.db, summary.counts, out_dir, plan[1])
    return 0 if summary.counts["failed"] == 0 else 1


def _slurm(args: argparse.Namespace, spec: SweepSpec, out_dir: Path, plan) -> int:
    options = SlurmOptions(
        partition=args.partition,
        account=args.account,
        time_min=args.time_min,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        array_parallelism=args.parallel,
    )
    if args.dry_run:
        runs = planned_runs(plan[0], args.db, out_dir)
        print(describe_jobs(spec, [r for r in runs if r.will_run(args.retry_failed)], options))
        _print_skipped(plan[1], sys.stdout)
        return 0
    with ResultsDB(args.db) as db:
        if args.retry_failed:
            db.retry_failed(spec.name)
    submit(spec, args.db, out_dir, options)
    with ResultsDB(args.db) as db:
        counts = db.counts(spec.name)
    _print_summary(spec, args.db, counts, out_dir, plan[1])
    return 0 if counts["failed"] == 0 else 1


def _local_dry_run(args: argparse.Namespace, spec: SweepSpec, out_dir: Path, plan) -> int:
    runs = planned_runs(plan[0], args.db, out_dir)
    skipped = f" and {len(plan[1])} impossible cell(s), skipped" if plan[1] else ""
    print(f"# sweep {spec.name}: {len(runs)} point(s){skipped}, run function {spec.run}")
    for run in runs:
        todo = "run" if run.will_run(args.retry_failed) else "skip"
        name = "new run" if run.id is None else f"run {run.id}"
        print(f"{todo:4s} {name} [{run.status}] {run.describe()} -> {run.run_dir}")
    _print_skipped(plan[1], sys.stdout)
    return 0


def resume_hint(args: argparse.Namespace) -> str:
    """After Ctrl-C: the same command goes on where this one stopped."""
    return "finished runs are kept; to go on, run the same command again: maeid " + shlex.join(
        args.argv
    )


def _print_skipped(skipped: Sequence[SkippedPoint], stream: TextIO) -> None:
    for cell in skipped:
        print(f"impossible, skipped: {cell.describe()}", file=stream)


def _print_summary(
    spec: SweepSpec,
    db_path: Path,
    counts: dict[str, int],
    out_dir: Path,
    skipped: Sequence[SkippedPoint] = (),
) -> None:
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no runs"
    if skipped:
        parts += f", {len(skipped)} impossible cell(s) skipped"
    print(f"sweep {spec.name}: {parts}; runs in {out_dir}; results in {db_path}", file=sys.stderr)
    _print_skipped(skipped, sys.stderr)
    if counts["running"]:
        print(
            f"  {counts['running']} run(s) are held by another live sweep process; rerun this "
            "command once it ends (or after it dies) to finish them",
            file=sys.stderr,
        )
    print(f"  next: maeid report {db_path}", file=sys.stderr)
