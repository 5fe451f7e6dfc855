"""One thread policy: what `--threads N` and `--threads 0` mean, in every command."""

from __future__ import annotations

import argparse

import pytest
import torch

from maeid import threads
from maeid.cli import COMMANDS, build_parser, main

# The commands that compute with torch threads; each takes --threads.
THREADED = {"train", "evaluate", "identify", "advise", "sweep"}


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_free_cores_are_the_cores_the_load_leaves(monkeypatch):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.9, 0.0, 0.0))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.free_cores() == 5
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two torchrun processes share them
    assert threads.free_cores() == 2
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (12.0, 0.0, 0.0))
    assert threads.free_cores() == 1  # never below one
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads.free_cores() == 8  # an idle machine: all of them, never more


def test_zero_or_none_means_the_free_cores_and_n_means_n(monkeypatch):
    monkeypatch.setattr(threads, "free_cores", lambda: 5)
    assert threads.resolve_threads(0) == 5
    assert threads.resolve_threads(None) == 5
    assert threads.resolve_threads(3) == 3
    assert threads.resolve_threads(7, workers=4) == 7  # a count is taken as it is
    assert threads.resolve_threads(0, workers=2) == 2  # the free cores shared out
    assert threads.resolve_threads(0, workers=8) == 1  # at least one each


def test_a_negative_count_is_refused_with_the_fix():
    fix = "use a positive count, or 0 for the free cores"
    with pytest.raises(ValueError) as err:
        threads.resolve_threads(-2)
    assert str(err.value) == f"--threads -2: {fix}"
    with pytest.raises(ValueError) as err:
        threads.resolve_threads(-1, flag="threads", workers=2)
    assert str(err.value) == f"threads -1: {fix}"


def test_torch_threads_restores_the_count_also_after_an_exception():
    torch.set_num_threads(1)
    with threads.torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with pytest.raises(RuntimeError, match="mid-block"), threads.torch_threads(3):
        assert torch.get_num_threads() == 3
        raise RuntimeError("mid-block")
    assert torch.get_num_threads() == 1
    with threads.torch_threads(None):  # None: leave the count as it is
        assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="torch_threads\\(0\\)"), threads.torch_threads(0):
        pass
    assert torch.get_num_threads() == 1


def test_every_command_with_threads_says_the_same_of_zero():
    parsers = subcommand_parsers()
    assert set(parsers) == set(COMMANDS)
    with_threads = set()
    for name, parser in parsers.items():
        options = {s for action in parser._actions for s in action.option_strings}
        if "--threads" not in options:
            continue
        with_threads.add(name)
        text = " ".join(parser.format_help().split())
        assert threads.ZERO_MEANS + ": the cores minus the 1-minute load average" in text, name
        assert "torch's choice" not in text, name
    assert with_threads == THREADED
    sweep = " ".join(parsers["sweep"].format_help().split())
    assert "torch threads in each worker (default 0; 0 = the free cores" in sweep
    assert "shared among --workers" in sweep


@pytest.mark.parametrize(("name", "default"), [("train", 0), ("advise", 1), ("identify", 1)])
def test_defaults_are_stated_in_the_help(name, default):
    text = " ".join(subcommand_parsers()[name].format_help().split())
    assert f"torch threads (default {default}; {threads.ZERO_MEANS}" in text


def test_advise_with_zero_profiles_on_the_free_cores(monkeypatch, capsys):
    from maeid.theory import profile

    seen: list[int] = []
    inner = profile._theory_profile

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(threads, "free_cores", lambda: 2)
    monkeypatch.setattr(profile, "_theory_profile", spy)
    argv = ["advise", "--model", "qt32", "--target-level", "0", "--masks", "4", "--units", "16"]
    assert main([*argv, "--threads", "0"]) == 0
    assert main([*argv, "--threads", "3"]) == 0
    assert seen == [2, 3]
    assert torch.get_num_threads() == 1  # put back afterwards
    assert main([*argv, "--threads", "-1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("--threads -1: use a positive count, or 0 for the free cores")
