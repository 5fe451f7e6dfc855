"""The MLP bottleneck on observed vectors: its inputs (standardised, visible nodes in,
masked nodes out) and its trainer (AdamW, warm-up, cosine over a step or time budget)."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from maeid.formal.config import IdentifyConfig
from maeid.formal.masks import FixedMask
from maeid.hlvm.model import Sample
from maeid.hlvm.spec import GraphSpec
from maeid.mae.mlp_bottleneck import MLPBottleneck
from maeid.progress import tqdm
from maeid.theory.identification import Identification


def mlp_setup(
    spec: GraphSpec,
    fixed: FixedMask,
    theory: Identification,
    train: Sample,
    held_out: Sample,
    cfg: IdentifyConfig,
) -> tuple[MLPBottleneck, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the network, training inputs, training targets, held-out inputs), standardised
    by the training statistics."""
    visible = [x for x in spec.observed if x not in fixed.masked]
    masked = [x for x in spec.observed if x in fixed.masked]

    def stack(sample: Sample, names: list[str]) -> np.ndarray:
        return np.concatenate([sample.observed[x] for x in names], axis=1)

    vis_tr, vis_ev, tgt_tr = stack(train, visible), stack(held_out, visible), stack(train, masked)
    # Standardise with training statistics, so one learning rate fits every model.
    mu_v, sd_v = vis_tr.mean(0), vis_tr.std(0) + 1e-6
    mu_t, sd_t = tgt_tr.mean(0), tgt_tr.std(0) + 1e-6
    net = MLPBottleneck(vis_tr.shape[1], theory.code_dim, tgt_tr.shape[1], cfg.hidden, cfg.depth)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return (
        net,
        as_t((vis_tr - mu_v) / sd_v),
        as_t((tgt_tr - mu_t) / sd_t),
        as_t((vis_ev - mu_v) / sd_v),
    )


def train_mlp(
    net: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    cfg: IdentifyConfig,
    fixed: FixedMask,
    progress: bool,
) -> tuple[int, float | None]:
    """AdamW, linear warm-up, then cosine decay over whichever budget (steps, seconds) ends
    first. Returns the steps done and the loss's moving average."""
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(inputs)
    total = cfg.steps if cfg.steps is not None else 10**9
    bar = tqdm(total=cfg.steps, disable=not progress, desc=fixed.describe(), unit="step",
               leave=False)  # fmt: skip
    start = time.perf_counter()
    order, cursor, step, ema = torch.randperm(n, generator=gen), 0, 0, None
    net.train()
    while step < total:
        elapsed = time.perf_counter() - start
        done = step / total if cfg.seconds is None else max(step / total, elapsed / cfg.seconds)
        if done >= 1.0:
            break
        warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * done))
        if cursor + cfg.batch_size > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor : cursor + cfg.batch_size]
        cursor += cfg.batch_size
        loss = net(inputs[idx], targets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            raise ValueError(f"bottleneck loss is {value} at step {step + 1}; lower --lr")
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{ema:.4f}")
    bar.close()
    return step, ema
