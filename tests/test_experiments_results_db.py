"""The results database: schema, atomic claims, crash recovery, lost claims."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys

import pytest

from maeid.experiments.config_hash import canonical_json, config_hash
from maeid.experiments.results_db import ResultsDB, flatten_metrics


def add(db: ResultsDB, i: int, sweep: str = "s") -> int:
    config = {"train": {"mask": {"ratio": i / 10}}, "evaluate": []}
    return db.add_run(
        sweep=sweep,
        config_hash=config_hash(config),
        config=config,
        params={"mask_ratio": i / 10, "seed": 0},
        run_dir=f"/tmp/run{i}",
    )


def test_schema_has_the_promised_tables_and_columns(tmp_path):
    ResultsDB(tmp_path / "r.db").close()
    conn = sqlite3.connect(tmp_path / "r.db")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    assert {
        "id",
        "config_hash",
        "config",
        "status",
        "metrics",
        "artefacts",
        "claimed_by",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
        "duration_s",
        "mask_ratio",
        "mask_unit",
        "seed",
        "run_dir",
        "attempts",
        "error",
    } <= columns
    assert {row[1] for row in conn.execute("PRAGMA table_info(metrics)")} == {
        "run_id",
        "name",
        "value",
    }
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):  # status is constrained
        conn.execute(
            "INSERT INTO runs (config_hash, config, params, run_dir, status, created_at)"
            " VALUES ('h', '{}', '{}', '/x', 'finished', 0)"
        )


def test_config_hash_is_canonical():
    a = {"b": 1, "a": {"y": [1, 2], "x": 0.5}}
    b = {"a": {"x": 0.5, "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":0.5,"y":[1,2]},"b":1}'
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "b": 2})
    assert len(config_hash(a)) == 64


def test_adding_a_run_twice_keeps_one_row_and_links_both_sweeps(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        first = add(db, 1, sweep="a")
        assert add(db, 1, sweep="b") == first
        assert len(db.runs()) == 1
        assert db.sweeps() == ["a", "b"]
        assert [r.id for r in db.runs("b")] == [first]


def test_claim_finish_cycle_stores_metrics_with_the_status(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        add(db, 1)
        add(db, 2)
        claim = db.claim_next("s")
        assert claim.run.status == "running" and claim.run.attempts == 1
        other = db.claim_next("s")
        assert other.run.id != claim.run.id
        assert db.claim_next("s") is None  # both taken, owners alive
        metrics = {"r2": {"level_0": 0.9, "level_1": 0.5}, "loss": 0.1, "note": "text"}
        assert db.finish(claim, metrics, {"ckpt": "/x/last.pt"})
        run = db.runs(status="done")[0]
        assert run.metrics == metrics and run.artefacts == {"ckpt": "/x/last.pt"}
        assert run.duration_s is not None and run.duration_s >= 0
        table = db.metric_table("s")
        assert table[0]["r2.level_0"] == 0.9 and table[0]["mask_ratio"] == 0.1
        assert "note" not in table[0]
        assert db.counts("s") == {"pending": 0, "running": 1, "done": 1, "failed": 0}


def test_a_lost_claim_cannot_overwrite_its_successor(tmp_path):
    with ResultsDB(tmp_path / "r.db", stale_after_s=0.0) as db:
        add(db, 1)
        old = db.claim_next("s", owner="elsewhere:1")
        new = db.claim_next("s", owner="elsewhere:2")  # stale at once: re-claimed
        assert new.run.id == old.run.id and new.run.attempts == 2
        assert not db.heartbeat(old)
        assert not db.finish(old, {"x": 1.0}, {})
        assert db.finish(new, {"x": 2.0}, {})
        assert db.runs()[0].metrics == {"x": 2.0}


def test_a_run_owned_by_a_dead_process_is_claimed_again(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with ResultsDB(tmp_path / "r.db", stale_after_s=3600) as db:
        add(db, 1)
        first = db.claim_next("s", owner=f"{socket.gethostname()}:{dead}")
        # Its heartbeat is fresh, but the owner is gone: the run is free again.
        again = db.claim_next("s", owner="otherhost:1")
        assert again.run.id == first.run.id and again.run.attempts == 2
        # An owner on another host cannot be checked: its fresh heartbeat holds the run.
        assert db.claim_next("s") is None


def test_non_finite_metrics_are_stored_as_null(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        add(db, 1)
        claim = db.claim_next("s")
        assert db.finish(claim, {"r2": {"a": float("nan"), "b": 0.5}, "psnr": float("inf")}, {})
        run = db.runs()[0]
        assert run.status == "done" and run.metrics == {"r2": {"a": None, "b": 0.5}, "psnr": None}
        assert db.metric_table()[0]["r2.b"] == 0.5 and "r2.a" not in db.metric_table()[0]


def test_failed_runs_are_retried_only_on_request(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        add(db, 1)
        claim = db.claim_next("s")
        assert db.fail(claim, "Traceback: boom")
        assert db.claim_next("s") is None
        assert db.runs()[0].error == "Traceback: boom"
        assert db.retry_failed("s") == 1
        assert db.claim_next("s").run.attempts == 2


def test_release_puts_a_run_back(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        add(db, 1)
        claim = db.claim_next("s")
        assert db.release(claim)
        assert db.runs()[0].status == "pending"


def test_flatten_metrics_keeps_finite_scalars():
    flat = flatten_metrics({"a": {"b": 1, "c": float("nan"), "d": [1]}, "e": True, "f": "x"})
    assert flat == {"a.b": 1.0, "e": 1.0}


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ResultsDB(tmp_path / "nope" / "r.db")
