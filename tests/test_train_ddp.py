"""Two CPU processes under torchrun (gloo) train the same model as one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from maeid.train import load_checkpoint, read_checkpoint
from maeid.train.config import load_config
from maeid.train.loop import train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
# Global batch 16 over 32 samples: 3 steps cross an epoch boundary.
COMMON = [
    "data.n_train=32", "optim.batch_size=16", "run.steps=3", "run.ckpt_every=100",
    "run.recon_every=0", "run.progress=false", "run.log_every=1", "run.device=cpu",
]  # fmt: skip


def test_two_gloo_processes_match_one_process(tmp_path):
    single = train(load_config(TINY, COMMON), tmp_path / "one")

    # Two ranks of 8 images, each in two micro-batches of 4: the same global batch of 16.
    sets = [arg for o in [*COMMON, "optim.accum_steps=2"] for arg in ("--set", o)]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = str(tmp_path / "two")
    cmd = [*torchrun, "-m", "maeid", "train", "--config", str(TINY), "--out", out, *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained to step 3") == 1  # rank 0 alone reports
    assert "bucket view strides" not in done.stderr  # no gradient re-layout copy per step

    # Same samples and masks in every global batch: the same losses, step by step.
    losses = [
        [json.loads(line)["loss"] for line in (tmp_path / d / "metrics.jsonl").open()]
        for d in ("one", "two")
    ]
    assert len(losses[0]) == 3
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=0)
    # Same gradients (Adam's first moment) and weights, to float tolerance. Weights get a
    # looser bound: Adam turns a rounding-level gradient into a step of up to lr.
    one, two = read_checkpoint(tmp_path / "one"), read_checkpoint(tmp_path / "two")
    for i, state in one["optimizer"]["state"].items():
        other = two["optimizer"]["state"][i]["exp_avg"]
        torch.testing.assert_close(other, state["exp_avg"], rtol=1e-4, atol=1e-7)
    ddp, _ = load_checkpoint(tmp_path / "two")
    reference = single.model.state_dict()
    for name, value in ddp.state_dict().items():
        torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=2e-5, msg=name)


def _torchrun_train(out: Path, *extra: str, sets=COMMON) -> subprocess.CompletedProcess:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = [arg for o in sets for arg in ("--set", o)]
    cmd = [*torchrun, "-m", "maeid", "train", "--config", str(TINY), "--out", str(out), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_processes_stopped_and_resumed_match_an_uninterrupted_run(tmp_path):
    # Fresh per-rank shards, masks, data order and Adam state must all survive the stop.
    sets = [*COMMON, "run.steps=4", "data.fresh=true", "run.eval_every=0"]
    _torchrun_train(tmp_path / "straight", sets=sets)
    _torchrun_train(tmp_path / "split", "--stop-after", "2", sets=sets)
    assert read_checkpoint(tmp_path / "split")["step"] == 2
    _torchrun_train(tmp_path / "split", "--resume", sets=sets)

    straight, split = read_checkpoint(tmp_path / "straight"), read_checkpoint(tmp_path / "split")
    assert split["step"] == straight["step"] == 4
    for name, value in straight["model"].items():
        assert torch.equal(split["model"][name], value), name
    losses = [
        [json.loads(line)["loss"] for line in (tmp_path / d / "metrics.jsonl").open()]
        for d in ("straight", "split")
    ]
    assert losses[0] == losses[1] and len(losses[0]) == 4
