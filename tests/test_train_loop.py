"""The training loop: exact resume, refusals, non-finite losses, atomic checkpoints, outputs."""

import json
from pathlib import Path

import pytest
import torch

from maeid.cli import main
from maeid.train import load_checkpoint, read_checkpoint, save_atomic
from maeid.train import loop as loop_module
from maeid.train.config import load_config
from maeid.train.loop import NonFiniteLossError, train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def tiny(*overrides: str):
    # 40 samples at batch 16: 2 steps per epoch, so 6 steps cross two epoch boundaries.
    base = ["data.n_train=40", "optim.batch_size=16", "run.steps=6", "run.ckpt_every=2",
            "run.recon_every=0", "run.progress=false", "run.log_every=1"]  # fmt: skip
    return load_config(TINY, [*base, *overrides])


# Accumulation, clipping and norm-pix on, so that resume is tested with all of them.
FULL = ("optim.accum_steps=2", "optim.clip_grad=1.0", "model.norm_pix_loss=true")


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    return train(tiny(*FULL, "run.recon_every=3"), out)


def test_run_directory_contents_and_load_checkpoint(straight):
    out = straight.out_dir
    entries = metrics(out)
    assert [e["step"] for e in entries] == list(range(1, 7))
    assert all(isinstance(e["loss"], float) and e["lr"] >= 0 for e in entries)
    assert list(out.glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (out / "recon").iterdir()) == [
        "step_0000003.png", "step_0000006.png",
    ]  # fmt: skip
    assert load_config(out / "config.yaml").data.mean  # normalisation resolved and saved
    model, cfg = load_checkpoint(out)
    assert cfg.model.norm_pix_loss is True and not model.training
    trained = straight.model.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())


def test_resume_is_bit_identical_and_refuses_another_config(straight, tmp_path):
    cfg = tiny(*FULL, "run.recon_every=3")
    first = train(cfg, tmp_path, stop_after=3)  # mid-epoch, between checkpoints
    assert first.step == 3 and read_checkpoint(tmp_path)["step"] == 3

    with pytest.raises(ValueError, match=r"mask\.ratio: 0\.75 in the checkpoint, 0\.5 now"):
        train(tiny(*FULL, "mask.ratio=0.5"), tmp_path, resume=True)
    with pytest.raises(ValueError, match="--resume"):
        train(cfg, tmp_path)  # would overwrite the run

    resumed = train(tiny(*FULL, "run.recon_every=0"), tmp_path, resume=True)  # logging may change
    assert resumed.step == 6
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    opt_a = read_checkpoint(straight.out_dir)["optimizer"]["state"]
    opt_b = read_checkpoint(tmp_path)["optimizer"]["state"]
    assert all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a)
    # The resumed log reads as one run: each step once, the same losses.
    assert [m["step"] for m in metrics(tmp_path)] == list(range(1, 7))
    assert [m["loss"] for m in metrics(tmp_path)] == [m["loss"] for m in metrics(straight.out_dir)]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    build = loop_module.build_model

    def poisoned(cfg, shape):
        model = build(cfg, shape)
        forward, calls = model.forward, []

        def forward_with_nan(*args, **kwargs):
            calls.append(1)
            loss, pred, mask = forward(*args, **kwargs)
            return (loss * float("nan") if len(calls) == 5 else loss), pred, mask

        model.forward = forward_with_nan
        return model

    monkeypatch.setattr(loop_module, "build_model", poisoned)
    with pytest.raises(NonFiniteLossError, match="not finite by step 5"):
        train(tiny(), tmp_path)
    ckpt = read_checkpoint(tmp_path)
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["last.pt"]  # no temp


def test_crash_mid_write_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_atomic({"step": 1, "w": torch.ones(3)}, path)

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed mid-write")

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            save_atomic({"step": 2, "w": torch.zeros(3)}, path)
    assert torch.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_cli_trains_and_reports_bad_keys(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--config", str(TINY), "--out", str(out), "--set", "run.steps=2",
            "--set", "run.progress=false", "--set", "run.recon_every=0"]  # fmt: skip
    assert main(args) == 0
    assert "trained to step 2" in capsys.readouterr().out
    assert main(["train", "--out", str(out), "--resume", "--set", "mask.ratio=0.5"]) == 2
    assert "mask.ratio: 0.75 in the checkpoint, 0.5 now" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--set", "run.steps=1"]) == 2
    assert "run.steps=1 is below the 2 steps" in capsys.readouterr().err
    assert main([*args[:3], "--out", str(tmp_path / "x"), "--set", "optim.lrr=1"]) == 2
    assert "optim.lrr" in capsys.readouterr().err


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="apt-get install dataset-fashion-mnist",
)
def test_fashion_mnist_config_trains(tmp_path):
    config = TINY.with_name("fashion_mnist.yaml")
    cfg = load_config(config, ["model.preset=tiny", "optim.batch_size=16", "run.steps=2",
                               "run.recon_every=0", "run.progress=false"])  # fmt: skip
    result = train(cfg, tmp_path)
    assert result.model.img_size == (32, 32) and result.model.in_chans == 1  # padded 28 -> 32
    assert result.step == 2 and 0 < result.last_loss < 100
    assert load_config(tmp_path / "config.yaml").data.mean == (0.2860,)


def test_image_folder_trains_with_loader_workers(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "images" / cls).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (24 + i, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / cls / f"{i}.png")
    cfg = load_config(TINY, [
        "data.source=image_folder", f"data.data_dir={tmp_path / 'images'}", "data.img_size=16",
        "data.num_workers=2", "optim.batch_size=8", "run.steps=3", "run.recon_every=3",
        "run.progress=false",
    ])  # fmt: skip
    result = train(cfg, tmp_path / "run")
    assert result.model.img_size == (16, 16) and result.model.in_chans == 3
    assert (tmp_path / "run" / "recon" / "step_0000003.png").is_file()
    assert load_config(tmp_path / "run" / "config.yaml").data.mean == (0.485, 0.456, 0.406)


def test_bf16_on_cpu_is_opt_in_and_trains_close_to_fp32(tmp_path):
    auto = train(tiny("run.steps=2"), tmp_path / "auto")
    fp32 = train(tiny("run.steps=2", "run.precision=fp32"), tmp_path / "fp32")
    bf16 = train(tiny("run.steps=2", "run.precision=bf16"), tmp_path / "bf16")
    assert auto.last_loss == fp32.last_loss  # auto means fp32 on CPU
    assert bf16.last_loss != fp32.last_loss  # autocast really ran in bf16...
    assert bf16.last_loss == pytest.approx(fp32.last_loss, rel=0.05)  # ...and stays close


def test_extending_a_finished_run_restretches_the_cosine_deterministically(tmp_path):
    import shutil

    from maeid.train.schedule import lr_at, scaled_lr

    done = train(tiny("run.steps=4"), tmp_path / "a")
    assert done.step == 4
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a = train(tiny("run.steps=8"), tmp_path / "a", resume=True)
    b = train(tiny("run.steps=8"), tmp_path / "b", resume=True)
    assert a.step == b.step == 8
    wa, wb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the same extension, the same weights
    assert not torch.equal(
        wa["decoder_pred.weight"], done.model.state_dict()["decoder_pred.weight"]
    )
    log = metrics(tmp_path / "a")
    assert [m["step"] for m in log] == list(range(1, 9))
    cfg = tiny("run.steps=8")
    peak = scaled_lr(cfg.optim.base_lr, cfg.optim.batch_size)
    # Steps 1-4 ran on the 4-step schedule (ending near 0); 5-8 on the 8-step one.
    for m in log:
        steps = 4 if m["step"] <= 4 else 8
        expected = lr_at(m["step"] - 1, peak, steps, cfg.optim.warmup_steps, cfg.optim.min_lr)
        assert m["lr"] == pytest.approx(expected, rel=1e-12)
    assert log[4]["lr"] > log[3]["lr"]  # back up after the finished run's low lr
    assert read_checkpoint(tmp_path / "a")["config"]["run"]["steps"] == 8
