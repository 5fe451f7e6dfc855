"""Running a sweep: register its points, then claim, run and record them one by one.

A *run function* does the work of one point; the default trains an MAE and evaluates it
(`maeid.experiments.pipeline`), tests plug in a cheap stand-in. It receives a
`RunContext` and returns a `RunOutcome`:

```python
def my_run(ctx: RunContext) -> RunOutcome:
    ...  # ctx.config["train"], ctx.run_dir, ctx.resume
    return RunOutcome(metrics={"r2": {"level_0": 0.9}}, artefacts={"ckpt": "..."})
```

Crash safety, in order of events for one run:

1. `claim_next` marks it `running` (atomic; see `results_db`), a thread heartbeats.
2. The run function works in `run_dir`; on a retry, `ctx.resume` is True and training
   continues from the run's last checkpoint.
3. Its outcome goes to `run_dir/result.json` (atomic rename), then into the database
   with `status = done` in one transaction. A kill between the two loses nothing: the
   next sweep finds `result.json` and records it without rerunning (`harvest`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maeid import atomic
from maeid.experiments.results_db import Claim, ResultsDB, RunRecord, finite_or_none
from maeid.experiments.sweep_spec import SkippedPoint, SweepPoint, SweepSpec
from maeid.output_path import check_output_dir
from maeid.progress import tqdm
from maeid.threads import resolve_threads, torch_threads

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class RunContext:
    """What a run function gets: the point, where to work, and whether to resume."""

    run_id: int
    config: dict[str, Any]  # {"train": ..., "evaluate": {name: options}}
    params: dict[str, Any]
    run_dir: Path
    resume: bool  # an earlier attempt of this run left its state in run_dir
    show_progress: bool = True


@dataclass(frozen=True)
class RunOutcome:
    """What a run function returns: metrics (nested dicts of numbers) and artefact paths."""

    metrics: dict[str, Any]
    artefacts: dict[str, str] = field(default_factory=dict)


RunFn = Callable[[RunContext], RunOutcome]


def load_run_fn(path: str) -> RunFn:
    """The function named by an import path `package.module:function`."""
    module_name, _, attr = path.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"run function {path!r} cannot be imported ({err}); give an importable "
            "'package.module:function'"
        ) from None
    if not callable(fn):
        raise ValueError(f"run function {path!r} is not callable")
    return fn


def register(
    spec: SweepSpec,
    db: ResultsDB,
    out_dir: Path,
    resolve=None,
    plan: tuple[list[SweepPoint], list[SkippedPoint]] | None = None,
) -> list[int]:
    """Add every runnable point of `spec` to the database (known points are left as they
    are) and note the impossible cells. `plan` is `spec.plan(resolve)` if already made."""
    points, skipped = plan if plan is not None else spec.plan(resolve)
    out_dir.mkdir(parents=True, exist_ok=True)
    db.set_skipped(spec.name, [{"params": s.params, "reason": s.reason} for s in skipped])
    return [
        db.add_run(
            sweep=spec.name,
            config_hash=point.config_hash,
            config=point.config,
            params=point.params,
            run_dir=point.run_dir(out_dir).resolve(),
        )
        for point in points
    ]


def write_result(run_dir: Path, outcome: RunOutcome) -> None:
    """`run_dir/result.json`, written atomically."""
    result = {"metrics": finite_or_none(outcome.metrics), "artefacts": outcome.artefacts}
    atomic.write_text(
        run_dir / RESULT_FILE, json.dumps(result, indent=1, allow_nan=False), fsync=True
    )


def read_result(run_dir: Path) -> RunOutcome | None:
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return RunOutcome(data["metrics"], data.get("artefacts", {}))


def execute(claim: Claim, run_fn: RunFn, db: ResultsDB, *, heartbeat_s: float, progress: bool):
    """Run one claimed point to its end and record it; returns the final status."""
    run = claim.run
    run_dir = Path(run.run_dir)
    outcome = read_result(run_dir)  # finished before a crash, not yet recorded
    if outcome is None:
        resume = run_dir.exists() and any(run_dir.iterdir())
        run_dir.mkdir(parents=True, exist_ok=True)
        ctx = RunContext(run.id, run.config, run.params, run_dir, resume, progress)
        with _Heartbeat(db.path, claim, heartbeat_s):
            try:
                outcome = run_fn(ctx)
            except Exception:
                db.fail(claim, traceback.format_exc(limit=8))
                return "failed"
            except KeyboardInterrupt:
                db.release(claim)
                raise
        if not isinstance(outcome, RunOutcome):
            db.fail(claim, f"run function returned {type(outcome).__name__}, not RunOutcome")
            return "failed"
        write_result(run_dir, outcome)
    return "done" if db.finish(claim, outcome.metrics, outcome.artefacts) else "lost"


def work(
    db_path: str | Path,
    sweep: str,
    run_fn: RunFn | str,
    *,
    heartbeat_s: float = 10.0,
    stale_after_s: float = 120.0,
    progress: bool = True,
    on_finish: Callable[[RunRecord, str], None] | None = None,
    threads: int | None = None,
    only: Collection[str] | None = None,
) -> dict[str, int]:
    """Claim and run the sweep's points (with `only`, those with these config hashes)
    until none is left to claim, on `threads` torch threads (None: as they are); counts
    per outcome."""
    fn = load_run_fn(run_fn) if isinstance(run_fn, str) else run_fn
    tally = {"done": 0, "failed": 0, "lost": 0}
    with torch_threads(threads), ResultsDB(db_path, stale_after_s=stale_after_s) as db:
        while (claim := db.claim_next(sweep, only=only)) is not None:
            status = execute(claim, fn, db, heartbeat_s=heartbeat_s, progress=progress)
            tally[status] += 1
            if on_finish is not None:
                on_finish(claim.run, status)
    return tally


def harvest(db: ResultsDB, sweep: str) -> int:
    """Record runs whose `result.json` exists but which the database does not show done.

    Claims each such run first, so a worker running it right now is not disturbed.
    """
    recorded = 0
    for run in db.runs(sweep):
        if run.status == "done" or read_result(Path(run.run_dir)) is None:
            continue
        claim = db.claim_one(run.id)
        if claim is None:
            continue
        outcome = read_result(Path(run.run_dir))
        recorded += db.finish(claim, outcome.metrics, outcome.artefacts)
    return recorded


@dataclass(frozen=True)
class SweepSummary:
    counts: dict[str, int]  # runs per status after the sweep
    ran: dict[str, int]  # what this invocation did: done / failed / lost
    out_dir: Path
    skipped: tuple[SkippedPoint, ...] = ()  # grid cells that cannot run, with the reason


def run_sweep(
    spec: SweepSpec,
    db_path: str | Path,
    *,
    out_dir: str | Path | None = None,
    workers: int = 1,
    threads: int | None = None,
    run_fn: RunFn | str | None = None,
    retry_failed: bool = False,
    heartbeat_s: float = 10.0,
    stale_after_s: float = 120.0,
    resolve=None,
    progress: bool = True,
) -> SweepSummary:
    """Run (or finish) a sweep locally with `workers` processes; idempotent.

    Done runs are skipped, interrupted ones resume, failed ones are retried only with
    `retry_failed`. `threads` is torch's thread count in each worker (None or 0: the free
    cores shared among the workers, by `maeid.threads.resolve_threads`). `run_fn`
    overrides the spec's `run` (with workers > 1 it must be an import path or a
    module-level function, so that it reaches the worker processes).
    """
    if workers < 1:
        raise ValueError(f"--workers {workers}: need at least 1 worker process")
    threads = resolve_threads(threads, workers=workers)
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec, db_path)
    check_output_dir(out)
    run_fn = run_fn or spec.run
    if isinstance(run_fn, str):
        load_run_fn(run_fn)  # fail now, not in every worker
    plan = spec.plan(resolve)  # every point checked before the database is touched
    # This spec's points only: the sweep's name may also hold a wider grid's (a narrowed
    # copy of a spec runs what it lists, not everything still pending under the name).
    only = frozenset(point.config_hash for point in plan[0])
    with ResultsDB(db_path, stale_after_s=stale_after_s) as db:
        register(spec, db, out, resolve, plan)
        if retry_failed:
            db.retry_failed(spec.name)
        harvest(db, spec.name)
        before = db.counts(spec.name, only)
        total = sum(before.values())
        bar = tqdm(
            total=total,
            initial=before["done"],
            desc=f"sweep {spec.name}",
            unit="run",
            disable=not progress,
            file=sys.stderr,
            position=0,
            leave=True,
        )
        if workers == 1:

            def advance(run: RunRecord, status: str) -> None:
                bar.update(1)
                bar.set_postfix_str(f"last: {_describe(run.params)} {status}")

            ran = work(
                db_path,
                spec.name,
                run_fn,
                heartbeat_s=heartbeat_s,
                stale_after_s=stale_after_s,
                progress=progress,
                on_finish=advance,
                threads=threads,
                only=only,
            )
        else:
            ran = _work_in_processes(
                db, db_path, spec.name, run_fn, workers, threads, bar, heartbeat_s, stale_after_s,
                only,
            )  # fmt: skip
        bar.close()
        return SweepSummary(db.counts(spec.name, only), ran, out, tuple(plan[1]))


def default_out_dir(spec: SweepSpec, db_path: str | Path) -> Path:
    """The spec's `out`, else a folder named after the sweep beside the database."""
    return spec.out if spec.out is not None else Path(db_path).resolve().parent / spec.name


def _work_in_processes(
    db, db_path, sweep, run_fn, workers, threads, bar, heartbeat_s, stale_after_s, only
):
    ctx = mp.get_context("spawn")  # no forked torch/sqlite state in the children
    procs = [
        ctx.Process(
            target=_worker,
            args=(str(db_path), sweep, run_fn),
            kwargs=dict(
                heartbeat_s=heartbeat_s,
                stale_after_s=stale_after_s,
                progress=False,  # N interleaved bars are noise; the sweep bar tracks them
                threads=threads,
                only=only,
            ),
            daemon=False,
        )
        for _ in range(workers)
    ]
    start = db.counts(sweep, only)
    for p in procs:
        p.start()
    try:
        with _term_as_interrupt(procs):
            _watch(db, sweep, only, procs, bar)
    finally:
        for p in procs:
            p.join()
    end = db.counts(sweep, only)
    return {
        "done": end["done"] - start["done"],
        "failed": end["failed"] - start["failed"],
        "lost": 0,
    }


def _watch(db, sweep, only, procs, bar) -> None:
    """Until every worker has ended, redraw the sweep bar with the runs' step progress."""
    shown = None
    while any(p.is_alive() for p in procs):
        time.sleep(1.0)
        counts = db.counts(sweep, only)
        running = [r for r in db.runs(sweep, status="running") if r.config_hash in only]
        status = (counts["done"], " | ".join(_step_progress(r) for r in running))
        if status != shown:  # redraw on news only: logs stay readable off a terminal
            bar.n, shown = status[0], status
            bar.set_postfix_str(status[1], refresh=False)
            bar.refresh()


@contextlib.contextmanager
def _term_as_interrupt(procs) -> Iterator[None]:
    """SIGTERM to the sweep (`kill PID`, a scheduler's preemption) ends it as Ctrl-C does:
    the workers get SIGINT, hand their runs back and end, instead of training on as
    orphans after the parent has gone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _worker(*args: Any, **kwargs: Any) -> None:
    """A worker process's `work`. Ctrl-C reaches every process of the terminal's group;
    `execute` has handed the run back by the time it gets here, and the parent says what
    happened, so the worker ends without a traceback of its own."""
    try:
        work(*args, **kwargs)
    except KeyboardInterrupt:
        sys.exit(130)


def _step_progress(run: RunRecord) -> str:
    """`ratio=0.5 unit=4: 60/120`, from the last line of the run's training log.

    The training loop appends one JSON line per logged step to `metrics.jsonl`; workers
    in other processes cannot share a progress bar, so the sweep bar reads their logs.
    """
    label = _describe(run.params)
    total = run.config.get("train", {}).get("run", {}).get("steps")
    log = Path(run.run_dir) / "train" / "metrics.jsonl"
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 4096))
            step = json.loads(f.read().splitlines()[-1])["step"]
    except (OSError, ValueError, IndexError, KeyError):
        return f"{label}: starting"
    if total and step >= total:
        return f"{label}: evaluating"
    return f"{label}: step {step}/{total}" if total else f"{label}: step {step}"


def _describe(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


class _Heartbeat:
    """A daemon thread that refreshes a claim's heartbeat while the run works."""

    def __init__(self, db_path: Path, claim: Claim, every_s: float):
        self._db_path, self._claim, self._every_s = db_path, claim, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        # Its own connection: sqlite3 connections belong to the thread that opened them.
        with ResultsDB(self._db_path) as db:
            warned = False
            while not self._stop.wait(self._every_s):
                try:
                    db.heartbeat(self._claim)
                except sqlite3.Error as err:  # keep beating: a missed beat is not a lost run
                    if not warned:
                        run = self._claim.run.id
                        print(
                            f"maeid sweep: a heartbeat of run {run} failed ({err}); "
                            f"retrying every {self._every_s:g} s",
                            file=sys.stderr,
                        )
                        warned = True

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
