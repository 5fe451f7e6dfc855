"""The CUDA paths of the training loop: they run where a GPU is present and skip here.

Also the compile path on CPU, through dynamo's eager backend (inductor's cold compile
takes minutes on a CPU; the wiring is what is tested).
"""

from pathlib import Path

import pytest
import torch

from maeid.train import compile as compile_module
from maeid.train import read_checkpoint
from maeid.train.config import load_config
from maeid.train.loop import train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def tiny(*overrides: str):
    base = ["data.n_train=64", "optim.batch_size=16", "run.steps=4", "run.ckpt_every=2",
            "run.recon_every=0", "run.progress=false", "run.log_every=1", "data.fresh=true",
            "run.eval_every=2", "run.eval_images=32"]  # fmt: skip
    return load_config(TINY, [*base, *overrides])


@cuda
@pytest.mark.parametrize("precision", ["auto", "fp32", "fp16"])
def test_cuda_training_resumes_bit_for_bit(tmp_path, precision):
    sets = ("run.device=cuda", f"run.precision={precision}")
    straight = train(tiny(*sets), tmp_path / "straight")
    train(tiny(*sets), tmp_path / "split", stop_after=2)
    split = train(tiny(*sets), tmp_path / "split", resume=True)
    assert straight.step == split.step == 4
    for name, value in straight.model.state_dict().items():
        assert torch.equal(split.model.state_dict()[name], value), name
    ckpt = read_checkpoint(tmp_path / "straight")
    assert ckpt["scaler"].get("scale") is not None if precision == "fp16" else True
    assert straight.quality is not None and straight.quality["heldout_loss"] < 10


@cuda
def test_cuda_uses_fused_adamw_and_device_masks(tmp_path, monkeypatch):
    seen = {}
    real = torch.optim.AdamW

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    train(tiny("run.device=cuda", "run.steps=1"), tmp_path / "run")
    assert seen.get("fused") is True
    assert read_checkpoint(tmp_path / "run")["rng"]["mask"].device.type == "cpu"


def test_compile_wraps_the_model_and_trains_as_eager(tmp_path, monkeypatch):
    calls = []
    real = torch.compile

    def eager_backend(model, backend="inductor"):
        calls.append(backend)
        return real(model, backend="eager")

    monkeypatch.setattr(compile_module.torch, "compile", eager_backend)
    monkeypatch.setenv(compile_module.CACHE_ENV, str(tmp_path / "cache"))
    compiled = train(tiny("run.compile=true", "run.eval_every=0"), tmp_path / "compiled")
    plain = train(tiny("run.eval_every=0"), tmp_path / "plain")
    assert calls == ["inductor"]  # the default backend, swapped for eager here
    assert compiled.last_loss == pytest.approx(plain.last_loss, rel=1e-5)
    # The checkpoint holds the plain model's names, not the compiled wrapper's.
    assert "_orig_mod" not in "".join(read_checkpoint(tmp_path / "compiled")["model"])
