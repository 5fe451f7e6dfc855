"""Checkpoints are read without running code: crafted pickles are refused, damaged files
named, and checkpoints written before RNG states were stored as tensors still resume."""

import pathlib
import random

import numpy as np
import pytest
import torch

from maeid.cli import main
from maeid.mae import load_pretrained
from maeid.mae.safe_load import UnsafeCheckpointError, load_torch_file
from maeid.train import read_checkpoint
from maeid.train.checkpoint import FORMAT, restore_rng, rng_state


class _TouchOnLoad:
    """Unpickling this calls Path.touch: a stand-in for any code a file could run."""

    def __init__(self, target: pathlib.Path) -> None:
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (self.target,))


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    path.parent.mkdir(parents=True)
    torch.save({"format": FORMAT, "step": 1, "payload": _TouchOnLoad(marker)}, path)
    return path, marker


def test_a_pickle_that_would_run_code_is_refused(crafted, capsys):
    path, marker = crafted
    with pytest.raises(UnsafeCheckpointError, match=r"refused checkpoint .*last\.pt: loading"):
        read_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        load_pretrained(path)  # published-weight loading goes through the same reader
    tiny = pathlib.Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    args = ["--config", str(tiny), "--set", "data.n_train=32", "--threads", "1"]
    assert main(["train", *args, "--out", str(path.parents[1]), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused checkpoint" in err and "Traceback" not in err
    assert not marker.exists()  # nothing in the file ran


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_truncated_checkpoint_is_named(tmp_path, cut):
    path = tmp_path / "last.pt"
    torch.save({"format": FORMAT, "w": torch.zeros(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(ValueError, match=f"truncated or corrupt checkpoint {path}"):
        read_checkpoint(path)
    with pytest.raises(ValueError, match="truncated or corrupt checkpoint"):
        load_torch_file(path)


def test_rng_state_is_plain_and_round_trips(tmp_path):
    generator = torch.Generator().manual_seed(3)
    state = rng_state(generator)
    path = tmp_path / "rng.pt"
    torch.save(state, path)
    expected = (
        np.random.rand(4),
        random.random(),
        torch.rand(3),
        torch.rand(2, generator=generator),
    )
    np.random.rand(7), random.random(), torch.rand(5)  # move every stream on
    restore_rng(torch.load(path, weights_only=True), generator)  # no allow-list needed
    again = (np.random.rand(4), random.random(), torch.rand(3), torch.rand(2, generator=generator))
    assert np.array_equal(expected[0], again[0]) and expected[1] == again[1]
    assert torch.equal(expected[2], again[2]) and torch.equal(expected[3], again[3])


def test_older_checkpoint_with_numpy_rng_array_still_reads(tmp_path):
    np.random.seed(5)
    rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
           "python": random.getstate(), "cuda": None}  # fmt: skip
    legacy = {"format": FORMAT, "rng": rng}
    torch.save(legacy, tmp_path / "old.pt")
    expected = np.random.rand(3)
    restore_rng(read_checkpoint(tmp_path / "old.pt")["rng"])
    assert np.array_equal(np.random.rand(3), expected)


def test_truncated_safetensors_is_named(tmp_path):
    from safetensors.torch import save_file

    from maeid.mae.checkpoint import read_tensors

    path = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(100)}, str(path))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match=f"truncated or corrupt checkpoint {path}"):
        read_tensors(path)
