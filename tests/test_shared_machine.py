"""A machine that other jobs share: the suite on one thread, and progress bars that do not
flood a log file (thread counts: test_threads.py)."""

import io

import torch

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


def test_the_suite_runs_single_threaded():
    assert torch.get_num_threads() == 1
