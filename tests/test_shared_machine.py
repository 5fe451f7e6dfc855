"""A machine that other jobs share: thread counts that do not oversubscribe it, and
progress bars that do not flood a log file."""

import io

import pytest
import torch

from maeid.cli import threads
from maeid.progress import LOG_INTERVAL_S, tqdm


def test_progress_bar_redraws_rarely_off_a_terminal():
    log = io.StringIO()  # not a terminal, like a file or a pipe
    bar = tqdm(total=10_000, file=log, desc="train")
    for _ in range(10_000):
        bar.update(1)
    bar.close()
    assert bar.mininterval >= LOG_INTERVAL_S
    redraws = log.getvalue().count("\r")
    assert 1 <= redraws <= 3  # the start, the end (and at most one in between)
    assert "10000/10000" in log.getvalue()


def test_progress_bar_keeps_tqdm_defaults_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = tqdm(total=3, file=Terminal())
    assert bar.mininterval < 1
    bar.close()


def test_default_threads_take_the_free_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.9, 0.0, 0.0))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.free_cores() == 5
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two torchrun processes share them
    assert threads.free_cores() == 2
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (12.0, 0.0, 0.0))
    assert threads.free_cores() == 1  # never below one


def test_set_threads_sets_torch_and_refuses_negative(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert threads.set_threads(2) == 2 and torch.get_num_threads() == 2
        monkeypatch.setattr(threads, "free_cores", lambda: 1)
        assert threads.set_threads(0) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="--threads -2"):
            threads.set_threads(-2)
    finally:
        torch.set_num_threads(before)


def test_the_suite_runs_single_threaded():
    assert torch.get_num_threads() == 1
