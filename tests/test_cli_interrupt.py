"""Ctrl-C and warnings at the command line: one line each, and the way to go on."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from maeid.cli import main

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
QUICK = ["--set", "data.n_train=32", "--set", "optim.batch_size=16", "--set", "run.progress=false",
         "--set", "run.recon_every=0", "--set", "run.eval_every=0", "--threads", "1"]  # fmt: skip


@pytest.fixture(autouse=True)
def _sigint_raises():
    """A process started in the background by a non-interactive shell (`cmd &`) ignores
    SIGINT, and Python then raises no KeyboardInterrupt: give the tests Ctrl-C's usual
    behaviour whatever started them."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_when(ready: Path, timeout_s: float = 120.0) -> threading.Thread:
    """Send this process a real SIGINT (Ctrl-C) once `ready` exists."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_in_train_is_one_line_with_the_resume_command(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--config", str(TINY), *QUICK, "--set", "run.steps=100000",
            "--set", "run.ckpt_every=2", "--out", str(run)]  # fmt: skip
    watcher = _interrupt_when(run / "checkpoints" / "last.pt")
    status = main(argv)
    watcher.join()
    err = capsys.readouterr().err
    assert status == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.splitlines()[-1] == (
        f"maeid train: interrupted; resume from the last checkpoint: maeid train --out {run} "
        "--resume"
    )
    # Resuming with a --stop-after the run has passed says so (it used to say the run had
    # done all its steps and should be extended).
    assert (
        main(["train", "--out", str(run), "--resume", "--stop-after", "1", "--threads", "1"]) == 0
    )
    out = capsys.readouterr().out
    assert "of 100000 already, at or past --stop-after 1" in out
    assert "raise --stop-after" in out and "extend" not in out


def test_ctrl_c_before_the_first_checkpoint_says_to_start_over(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("maeid.train.loop.train", interrupted)
    argv = ["train", "--config", str(TINY), *QUICK, "--out", str(tmp_path / "r")]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err == (
        "maeid train: interrupted; no checkpoint was written yet; run the same command "
        "again to start over\n"
    )


STUB = """
from maeid.experiments.runner import RunOutcome

def ctrl_c(ctx):
    raise KeyboardInterrupt
"""


def _stub_spec(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "interrupt_stub.py").write_text(STUB)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {"name": "grid", "base": str(TINY), "run": "interrupt_stub:ctrl_c",
            "grid": {"mask_ratio": [0.5, 0.75]}}  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_ctrl_c_in_a_sweep_hands_the_run_back_and_says_rerun(tmp_path, capsys, monkeypatch):
    from maeid.experiments.results_db import ResultsDB

    spec, db = _stub_spec(tmp_path, monkeypatch), tmp_path / "r.db"
    argv = ["sweep", str(spec), "--db", str(db)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "maeid sweep: interrupted; finished runs are kept; to go on, run the same command "
        f"again: maeid sweep {spec} --db {db}"
    )
    with ResultsDB(db, read_only=True) as results:
        assert results.counts("grid")["pending"] == 2  # released, not left "running"


def test_workers_are_capped_at_the_sweeps_points(tmp_path, capsys, monkeypatch):
    spec = _stub_spec(tmp_path, monkeypatch)
    asked = {}

    def fake_sweep(spec, db, **kwargs):
        asked.update(kwargs)
        raise KeyboardInterrupt  # stop here: the workers it was given are what counts

    monkeypatch.setattr("maeid.cli.sweep.run_sweep", fake_sweep)
    main(["sweep", str(spec), "--db", str(tmp_path / "r.db"), "--workers", "8"])
    assert asked["workers"] == 2
    assert "--workers 8: the sweep has 2 point(s) to run, so 2 worker(s)" in capsys.readouterr().err


def test_a_warm_up_longer_than_the_run_is_one_warning_line(tmp_path, capsys):
    argv = ["train", "--config", str(TINY), *QUICK, "--set", "run.steps=2",
            "--set", "optim.warmup_steps=5", "--out", str(tmp_path / "r")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err == (
        "maeid train: warning: optim.warmup_steps=5 is more than run.steps=2: the lr never "
        "reaches its peak; lower the warm-up or train longer\n"
    )


def test_a_warm_up_within_the_run_is_not_warned():
    import warnings

    from maeid.train.config import load_config

    with pytest.warns(UserWarning, match="warmup_steps=5 is more than run.steps=2"):
        load_config(TINY, ["run.steps=2", "optim.warmup_steps=5"]).warn_if_unintended()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(TINY, ["run.steps=5", "optim.warmup_steps=5"]).warn_if_unintended()
