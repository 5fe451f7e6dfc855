"""The output layer: writability checked up front, writes atomic and with the umask's
mode; what cannot fit refused with what would; one progress bar for every command."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

import matplotlib
import pytest
import torch

from maeid import atomic
from maeid.memory_budget import check_fits, human_bytes, largest_count
from maeid.output_path import OutputError, check_output_dir, check_output_file

matplotlib.use("Agg")


@pytest.fixture
def umask_027():
    before = os.umask(0o027)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_writer_gives_its_file_the_umask_mode_not_mkstemps_0600(tmp_path, umask_027):
    import matplotlib.pyplot as plt

    atomic.write_text(tmp_path / "a.txt", "x")
    atomic.write_json(tmp_path / "a.json", {"a": 1})
    atomic.torch_save({"w": torch.ones(2)}, tmp_path / "a.pt")
    atomic.save_figure(plt.figure(), tmp_path / "a.png")
    for name in ("a.txt", "a.json", "a.pt", "a.png"):
        assert mode(tmp_path / name) == 0o640, name  # 0666 & ~027
    assert atomic.file_mode() == 0o640 and atomic.dir_mode() == 0o750
    assert os.umask(0o027) == 0o027  # reading the umask left it as it was


def test_shipped_outputs_honour_the_umask(tmp_path, umask_027):
    """The files the report on item 2 named: a checkpoint, an HF export, theory.json and
    its figure, a dataset."""
    from maeid.cli import main
    from maeid.hlvm import load_model, save_dataset
    from maeid.mae import build_mae
    from maeid.mae.export import export_hf
    from maeid.train.checkpoint import save_atomic

    save_atomic({"step": 1}, tmp_path / "last.pt")
    export_hf(build_mae("tiny", img_size=32, in_chans=1), tmp_path / "hf", 0.75)
    assert main(["theory", "--masks", "10", "--units", "16", "--out", str(tmp_path / "t")]) == 0
    qt32 = load_model("qt32")
    save_dataset(tmp_path / "d.npz", qt32, qt32.sample(2, seed=0))
    files = ["last.pt", "hf/model.safetensors", "hf/config.json", "t/theory.json",
             "t/theory_levels.png", "d.npz"]  # fmt: skip
    assert {f: mode(tmp_path / f) for f in files} == dict.fromkeys(files, 0o640)
    assert mode(tmp_path / "hf") == 0o750


def test_a_failed_write_keeps_the_old_file_and_names_the_path(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    target = tmp_path / "fig.png"
    target.write_bytes(b"the previous figure")
    fig = plt.figure()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fig, "savefig", full)
    with pytest.raises(OutputError, match=r"cannot write .*fig\.png \(No space left on device\)"):
        atomic.save_figure(fig, target)
    assert target.read_bytes() == b"the previous figure"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]  # no temporary left


def test_an_interrupted_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic.atomic_path(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_refuses_entries_is_refused_before_any_work():
    # /proc takes no new entries, for root too (os.access would say yes to root).
    with pytest.raises(OutputError, match=r"--out /proc/maeid-out: /proc is not writable"):
        check_output_dir("/proc/maeid-out")
    with pytest.raises(OutputError, match="--db /proc/r.db: /proc is not writable"):
        check_output_file("/proc/r.db", "--db")
    assert check_output_dir("/proc/maeid-out", writable=False) == Path("/proc/maeid-out")


def test_a_writable_path_passes_and_the_probe_leaves_nothing(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert check_output_file(tmp_path / "c.json") == tmp_path / "c.json"
    assert list(tmp_path.iterdir()) == []


def test_check_fits_names_the_count_and_the_largest_that_fits():
    check_fits(1000, 100, "--n 1000", "use --n", free=10**6)  # 100 kB of 1 MB: fine
    check_fits(10**12, 100, "--n 1e12", "use --n", free=None)  # unknown: let through
    with pytest.raises(ValueError) as err:
        check_fits(10**12, 100, "--n 1000000000000", "use --n", free=10**9)
    assert str(err.value) == (
        "--n 1000000000000 needs about 100.0 TB of memory (100 B each), more than the "
        "1.0 GB free; use --n 8,000,000 or fewer"
    )
    assert largest_count(100, 10**9) * 100 <= 0.8 * 10**9
    assert human_bytes(999) == "999 B" and human_bytes(1.5e12) == "1.5 TB"


def test_counts_read_as_people_write_them():
    import argparse

    from maeid.cli.counts import count

    assert count("10000") == count("10_000") == count("1e4") == 10000
    for bad in ("1.5", "abc", "inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
            count(bad)


def test_the_quadtree_cap_suggests_a_tree_that_builds(monkeypatch):
    import re

    from maeid.hlvm import quadtree
    from maeid.hlvm.spec import SpecError

    monkeypatch.setattr(quadtree, "MAX_GRID", 8)  # a small cap: the suggestions build fast
    monkeypatch.setattr(quadtree, "MAX_SKETCH_LEAVES", 64)
    for asked, expected in [((64, 2, 3), (64, 8, 3)), ((96, 4, 2), (96, 12, 2)),
                            ((1024, 1, 9), (1024, 128, 4))]:  # fmt: skip
        with pytest.raises(SpecError) as err:
            quadtree.quadtree_of_depth(*asked)
        found = re.search(r"e\.g\. (\d+),(\d+),(\d+)$", str(err.value))
        assert tuple(int(v) for v in found.groups()) == expected, str(err.value)
        spec = quadtree.quadtree_of_depth(*expected)  # builds, within the cap
        assert len(spec.observed) <= 64


def test_a_bar_in_a_log_redraws_at_most_every_30_s_even_when_told_to():
    from maeid.progress import LOG_INTERVAL_S, tqdm

    log = io.StringIO()  # not a terminal
    bar = tqdm(total=100, file=log, desc="sweep")
    for i in range(50):
        bar.update(1)
        bar.set_postfix_str(f"run {i}")  # a forced refresh, as the sweep's status does
        bar.refresh()
    assert log.getvalue().count("sweep") == 1  # the first draw only
    bar._last_log_draw -= LOG_INTERVAL_S  # 30 s later
    bar.refresh()
    bar.close()
    draws = log.getvalue().count("sweep")
    assert draws == 3 and "50/100" in log.getvalue().splitlines()[-1]  # +1 refresh, +close


def test_every_progress_bar_of_the_commands_is_the_shared_one():
    import maeid.evaluate.robustness
    import maeid.experiments.runner
    import maeid.formal.mlp
    import maeid.formal.vit
    import maeid.measures.run
    import maeid.theory.profile
    import maeid.train.monitor
    from maeid.progress import tqdm

    modules = [maeid.formal.mlp, maeid.formal.vit, maeid.evaluate.robustness, maeid.measures.run,
               maeid.experiments.runner, maeid.theory.profile, maeid.train.monitor]  # fmt: skip
    assert all(module.tqdm is tqdm for module in modules)
