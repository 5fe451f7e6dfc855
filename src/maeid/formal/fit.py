"""One bottleneck trained for one fixed mask, and its code of the held-out samples."""

from __future__ import annotations

import time

import numpy as np
import torch

from maeid.formal.config import IdentifyConfig
from maeid.formal.masks import FixedMask
from maeid.formal.mlp import mlp_setup, train_mlp
from maeid.formal.vit import train_vit, vit_setup
from maeid.hlvm.model import Sample
from maeid.hlvm.spec import GraphSpec
from maeid.theory.identification import Identification
from maeid.threads import torch_threads


def train_and_encode(
    spec: GraphSpec,
    fixed: FixedMask,
    theory: Identification,
    train: Sample,
    held_out: Sample,
    cfg: IdentifyConfig,
    progress: bool,
) -> tuple[np.ndarray, int, float, float | None]:
    """Train the bottleneck on `train`; return (code of `held_out`, steps, seconds, loss)."""
    # One thread is the default: the MLP is small, and on a busy machine torch's pool
    # spins waiting for cores that other processes hold (1500 steps did not finish in
    # 600 s on two threads on our shared 2-core machine; 2000 take ~90 s on one).
    with torch_threads(cfg.threads):
        return _train(spec, fixed, theory, train, held_out, cfg, progress)


def _train(spec, fixed, theory, train: Sample, held_out: Sample, cfg, progress):
    # The weights are drawn from cfg.seed alone, whatever the caller's torch state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.arch == "vit":
            net, inputs, encode_inputs = vit_setup(spec, fixed, theory, train, held_out)
        else:
            net, inputs, targets, encode_inputs = mlp_setup(spec, fixed, theory, train,
                                                            held_out, cfg)  # fmt: skip
    start = time.perf_counter()
    if cfg.arch == "vit":
        step, loss = train_vit(net, inputs, cfg, progress)
    else:
        step, loss = train_mlp(net, inputs, targets, cfg, fixed, progress)
    seconds = time.perf_counter() - start
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad():
        code = torch.cat([net.encode(x.to(device)).cpu() for x in encode_inputs.split(1024)])
    return code.double().numpy(), step, seconds, loss
