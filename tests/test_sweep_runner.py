"""Sweeps: spec parsing, idempotent reruns, SIGKILL mid-run, concurrent sweep processes.

The run function here is a stand-in that "trains" by sleeping through `run.steps` steps,
checkpointing its step after each one, and logs every start and finish to a shared
events file, so the tests can count how often each point ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from maeid.experiments.results_db import ResultsDB
from maeid.experiments.runner import register, run_sweep
from maeid.experiments.sweep_spec import SweepSpec

STUB = """
import json, os, time
from pathlib import Path
from maeid.experiments.runner import RunOutcome

def _log(ctx, event, step):
    line = json.dumps({"event": event, "hash": ctx.run_dir.name, "step": step,
                       "pid": os.getpid(), "resume": ctx.resume}) + "\\n"
    fd = os.open(ctx.run_dir.parent / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, line.encode())  # one O_APPEND write: lines never interleave
    os.close(fd)

def sleepy_run(ctx):
    steps = ctx.config["train"]["run"]["steps"]
    state = ctx.run_dir / "state.json"
    step = json.loads(state.read_text())["step"] if ctx.resume and state.exists() else 0
    _log(ctx, "start", step)
    while step < steps:
        time.sleep(float(os.environ.get("STUB_STEP_S", "0.02")))
        step += 1
        tmp = ctx.run_dir / ".state.tmp"
        tmp.write_text(json.dumps({"step": step}))
        os.replace(tmp, state)
    _log(ctx, "finish", step)
    ratio = ctx.config["train"]["mask"]["ratio"]
    return RunOutcome({"score": ratio * 10 + ctx.config["train"]["run"]["seed"],
                       "nested": {"steps": step}}, {"state": str(state)})

def threads_run(ctx):
    import torch
    return RunOutcome({"threads": torch.get_num_threads()}, {})

def broken_run(ctx):
    if ctx.config["train"]["mask"]["ratio"] > 0.5:
        raise RuntimeError("diverged")
    return sleepy_run(ctx)
"""

DRIVER = """
import os, sys, time
gate = os.environ.get("GATE")
while gate and not os.path.exists(gate):  # start together with the other driver
    time.sleep(0.01)
from maeid.experiments.runner import run_sweep
from maeid.experiments.sweep_spec import SweepSpec
summary = run_sweep(SweepSpec.from_yaml(sys.argv[1]), sys.argv[2], workers=int(sys.argv[3]),
                    heartbeat_s=0.2, progress=False)
print(summary.counts)
"""


@pytest.fixture
def stub_env(tmp_path, monkeypatch):
    """A stub run module importable here and in child processes."""
    (tmp_path / "stub_runs.py").write_text(STUB)
    (tmp_path / "driver.py").write_text(DRIVER)
    monkeypatch.syspath_prepend(str(tmp_path))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    return tmp_path


def write_spec(path: Path, steps: int, ratios, seeds=(0,), run="stub_runs:sleepy_run") -> Path:
    spec = {
        "name": "stub",
        "config": {"run": {"steps": steps, "progress": False}},
        "grid": {"mask_ratio": list(ratios), "seed": list(seeds)},
        "evaluate": [],
        "run": run,
        "out": str(path.parent / "runs"),
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def events(out: Path) -> list[dict]:
    log = out / "events.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def finished_once_each(db_path: Path, out: Path, n: int) -> None:
    with ResultsDB(db_path) as db:
        runs = db.runs()
        assert len(runs) == n and all(r.status == "done" for r in runs)
        hashes = {Path(r.run_dir).name for r in runs}
    finishes = [e["hash"] for e in events(out) if e["event"] == "finish"]
    assert sorted(finishes) == sorted(hashes)  # every point finished exactly once


def test_spec_expands_the_grid_with_resolved_configs(tmp_path):
    spec = SweepSpec.from_yaml(write_spec(tmp_path / "s.yaml", 3, [0.25, 0.75], seeds=[0, 1]))
    points = spec.points()
    assert spec.size == len(points) == 4
    assert [p.params for p in points][:2] == [
        {"mask_ratio": 0.25, "seed": 0},
        {"mask_ratio": 0.25, "seed": 1},
    ]
    train = points[1].config["train"]
    assert train["mask"]["ratio"] == 0.25 and train["run"]["seed"] == 1
    assert train["optim"]["betas"] == [0.9, 0.95]  # defaults filled in by the resolver
    assert len({p.config_hash for p in points}) == 4


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"grid": {}}, "grid"),
        ({"grid": {"mask_ratio": []}}, "non-empty"),
        ({"grid": {"mask_ratio": [0.5, 0.5]}}, "repeats"),
        ({"colour": 1}, "unknown key"),
        ({"run": "no_colon"}, "import path"),
        ({"base": "x.yaml"}, "exactly one"),
    ],
)
def test_bad_specs_are_refused_by_name(tmp_path, patch, message):
    raw = {"name": "s", "config": {}, "grid": {"mask_ratio": [0.5]}, **patch}
    with pytest.raises(ValueError, match=message):
        SweepSpec.from_dict(raw)


def test_unknown_config_key_in_the_grid_fails_before_any_run(tmp_path):
    spec = SweepSpec.from_dict({"name": "s", "config": {}, "grid": {"mask.colour": [1]}})
    with pytest.raises(ValueError, match="mask.colour"):
        spec.points()


def test_rerun_skips_done_runs(stub_env):
    spec_path = write_spec(stub_env / "s.yaml", 2, [0.25, 0.5, 0.75])
    spec = SweepSpec.from_yaml(spec_path)
    db_path = stub_env / "r.db"
    first = run_sweep(spec, db_path, progress=False)
    assert first.counts["done"] == 3 and first.ran["done"] == 3
    second = run_sweep(spec, db_path, progress=False)
    assert second.ran == {"done": 0, "failed": 0, "lost": 0}
    finished_once_each(db_path, stub_env / "runs", 3)
    with ResultsDB(db_path) as db:
        table = sorted(db.metric_table("stub"), key=lambda r: r["mask_ratio"])
    assert [row["score"] for row in table] == [2.5, 5.0, 7.5]
    assert table[0]["nested.steps"] == 2


def test_failed_runs_are_recorded_and_retried_on_request(stub_env):
    spec = SweepSpec.from_yaml(
        write_spec(stub_env / "s.yaml", 1, [0.25, 0.75], run="stub_runs:broken_run")
    )
    db_path = stub_env / "r.db"
    summary = run_sweep(spec, db_path, progress=False)
    assert summary.counts == {"pending": 0, "running": 0, "done": 1, "failed": 1}
    with ResultsDB(db_path) as db:
        assert "diverged" in db.runs(status="failed")[0].error
    again = run_sweep(spec, db_path, progress=False, retry_failed=True)
    assert again.ran["failed"] == 1 and again.counts["done"] == 1


def test_a_result_written_before_a_crash_is_recorded_without_rerunning(stub_env):
    spec = SweepSpec.from_yaml(write_spec(stub_env / "s.yaml", 1, [0.5]))
    db_path = stub_env / "r.db"
    run_sweep(spec, db_path, progress=False)
    with ResultsDB(db_path) as db:  # simulate a kill between result.json and the DB write
        db._conn.execute("UPDATE runs SET status = 'pending', metrics = NULL")
    summary = run_sweep(spec, db_path, progress=False)
    assert summary.counts["done"] == 1
    assert len([e for e in events(stub_env / "runs") if e["event"] == "start"]) == 1


def test_sigkill_mid_run_then_rerun_completes_every_run_exactly_once(stub_env):
    spec_path = write_spec(stub_env / "s.yaml", 12, [0.25, 0.5, 0.75])
    db_path, out = stub_env / "r.db", stub_env / "runs"
    cmd = [sys.executable, str(stub_env / "driver.py"), str(spec_path), str(db_path), "1"]
    env = {**os.environ, "STUB_STEP_S": "0.05"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    # Kill while the second run is half-way through its steps.
    while time.monotonic() < deadline:
        started = [e for e in events(out) if e["event"] == "start"]
        if len(started) == 2:
            state = out / started[1]["hash"] / "state.json"
            if state.exists() and json.loads(state.read_text())["step"] >= 3:
                break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the sweep never reached its second run")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with ResultsDB(db_path) as db:
        assert db.counts() == {"pending": 1, "running": 1, "done": 1, "failed": 0}

    subprocess.run(cmd, env=env, check=True, capture_output=True)
    finished_once_each(db_path, out, 3)
    log = events(out)
    killed = started[1]["hash"]
    restarts = [e for e in log if e["hash"] == killed and e["event"] == "start"]
    assert len(restarts) == 2 and restarts[1]["resume"] and restarts[1]["step"] >= 3
    first = started[0]["hash"]
    assert len([e for e in log if e["hash"] == first and e["event"] == "start"]) == 1
    with ResultsDB(db_path) as db:
        assert {Path(r.run_dir).name: r.attempts for r in db.runs()}[killed] == 2


def test_two_concurrent_sweeps_on_one_database_never_duplicate_a_run(stub_env):
    spec_path = write_spec(stub_env / "s.yaml", 5, [0.1, 0.25, 0.5, 0.75], seeds=[0, 1])
    db_path, out = stub_env / "r.db", stub_env / "runs"
    cmd = [sys.executable, str(stub_env / "driver.py"), str(spec_path), str(db_path), "1"]
    env = {**os.environ, "GATE": str(stub_env / "go"), "STUB_STEP_S": "0.03"}
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(0.5)
    (stub_env / "go").touch()  # both register and claim at the same moment
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finished_once_each(db_path, out, 8)
    starts = [e["hash"] for e in events(out) if e["event"] == "start"]
    assert len(starts) == len(set(starts)) == 8  # no run was ever started twice


def test_parallel_local_workers_share_the_grid(stub_env):
    spec = SweepSpec.from_yaml(write_spec(stub_env / "s.yaml", 3, [0.25, 0.5, 0.75, 0.9]))
    summary = run_sweep(spec, stub_env / "r.db", workers=2, progress=False)
    assert summary.counts["done"] == 4 and summary.ran["done"] == 4
    finished_once_each(stub_env / "r.db", stub_env / "runs", 4)


def test_threads_per_worker_are_set_and_checked(stub_env):
    path = write_spec(stub_env / "s.yaml", 1, [0.25, 0.5], run="stub_runs:threads_run")
    spec = SweepSpec.from_yaml(path)
    with pytest.raises(ValueError, match="--threads -1: use a positive count"):
        run_sweep(spec, stub_env / "r.db", threads=-1, progress=False)
    run_sweep(spec, stub_env / "r.db", workers=2, threads=3, progress=False)
    with ResultsDB(stub_env / "r.db") as db:
        assert [r.metrics["threads"] for r in db.runs()] == [3, 3]  # not cores / workers


def test_threads_zero_runs_on_the_free_cores_and_puts_the_count_back(stub_env, monkeypatch):
    from maeid import threads

    monkeypatch.setattr(threads, "free_cores", lambda: 2)
    path = write_spec(stub_env / "s.yaml", 1, [0.25], run="stub_runs:threads_run")
    run_sweep(SweepSpec.from_yaml(path), stub_env / "r.db", threads=0, progress=False)
    with ResultsDB(stub_env / "r.db") as db:
        assert [r.metrics["threads"] for r in db.runs()] == [2]
    assert torch.get_num_threads() == 1  # the in-process worker restored it


@pytest.mark.parametrize("workers", [1, 2])
def test_a_narrowed_copy_of_a_spec_runs_only_its_own_points(stub_env, workers):
    db_path = stub_env / "r.db"
    wide = SweepSpec.from_yaml(write_spec(stub_env / "wide.yaml", 1, [0.25, 0.5], seeds=(0, 1)))
    with ResultsDB(db_path) as db:  # the wide grid is registered, nothing has run
        register(wide, db, stub_env / "runs", None, wide.plan())
    narrow = SweepSpec.from_yaml(write_spec(stub_env / "narrow.yaml", 1, [0.25], seeds=(1,)))
    assert narrow.name == wide.name
    summary = run_sweep(narrow, db_path, workers=workers, progress=False)
    assert summary.ran["done"] == 1 and summary.counts == {
        "pending": 0, "running": 0, "done": 1, "failed": 0}  # fmt: skip
    with ResultsDB(db_path) as db:
        status = {(r.params["mask_ratio"], r.params["seed"]): r.status for r in db.runs("stub")}
    assert status == {(0.25, 0): "pending", (0.5, 0): "pending", (0.25, 1): "done",
                      (0.5, 1): "pending"}  # fmt: skip
    assert run_sweep(wide, db_path, progress=False).ran["done"] == 3  # the rest, once each
    finished_once_each(db_path, stub_env / "runs", 4)


def test_a_failing_heartbeat_warns_once_and_keeps_beating(monkeypatch, capsys):
    """A transient database error (seen: `disk I/O error` while another sweep process on
    the same database exited) must not end the heartbeat thread: the claim would then look
    stale and the run's own result could not be recorded."""
    import sqlite3
    import time
    from types import SimpleNamespace

    from maeid.experiments import runner

    beats = []

    class FlakyDB:
        def __init__(self, path):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def heartbeat(self, claim):
            beats.append(time.monotonic())
            if len(beats) <= 2:
                raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(runner, "ResultsDB", FlakyDB)
    claim = SimpleNamespace(run=SimpleNamespace(id=7))
    with runner._Heartbeat("unused.db", claim, every_s=0.01):
        deadline = time.monotonic() + 5
        while len(beats) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 5  # it kept beating after two failures
    err = capsys.readouterr().err
    assert err.count("heartbeat of run 7 failed (disk I/O error)") == 1


def test_sigterm_ends_a_sweep_with_workers_as_ctrl_c_does(stub_env):
    """`kill PID` on the sweep reaches only the parent: its workers must still hand their
    runs back and end, not train on as orphans after it has gone."""
    spec_path = write_spec(stub_env / "s.yaml", 400, [0.25, 0.5])
    db_path, out = stub_env / "r.db", stub_env / "runs"
    driver = stub_env / "pool_driver.py"  # spawned workers re-import the main module
    driver.write_text("if __name__ == '__main__':\n" + "".join(
        f"    {line}\n" for line in DRIVER.strip().splitlines()))  # fmt: skip
    cmd = [sys.executable, str(driver), str(spec_path), str(db_path), "2"]
    env = {**os.environ, "STUB_STEP_S": "0.05"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len([e for e in events(out) if e["event"] == "start"]) < 2:
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the two workers never started")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the parent only, as `kill PID` does
    proc.wait(timeout=60)
    steps = {p: p.read_text() for p in out.glob("*/state.json")}
    time.sleep(0.5)  # an orphan would still be stepping
    assert {p: p.read_text() for p in out.glob("*/state.json")} == steps
    with ResultsDB(db_path) as db:
        assert db.counts() == {"pending": 2, "running": 0, "done": 0, "failed": 0}
