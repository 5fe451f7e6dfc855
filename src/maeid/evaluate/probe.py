"""Linear probe on frozen features, as the paper runs it (after MAE, He et al. 2022).

The head is BatchNorm without affine parameters followed by one linear layer: the
normalisation makes the probe insensitive to the scale of features that differ wildly
between checkpoints, and adds no capacity. The paper trains it with LARS at batch 16384
for 90 epochs; for the small data sets maeid evaluates on (tens of thousands of samples)
we use AdamW without weight decay, a cosine schedule and minibatches of 256, which
converges in a few epochs on CPU. Top-1 accuracy is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ProbeConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0


def linear_head(dim: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), nn.Linear(dim, num_classes))


def train_linear_probe(
    features: torch.Tensor, labels: torch.Tensor, config: ProbeConfig | None = None
) -> nn.Sequential:
    """Fit BatchNorm(affine=False) + Linear on (N, D) frozen features; the head in eval mode.

    Trains with gradients on even when called under `torch.no_grad()`, as the evaluation
    suite does for the frozen encoder.
    """
    cfg = config or ProbeConfig()
    x, y = _check(features, labels)
    num_classes = int(y.max()) + 1
    gen = torch.Generator().manual_seed(cfg.seed)
    head = linear_head(x.shape[1], num_classes)
    with torch.no_grad():  # seeded init, as in MAE: small weights, zero bias
        head[1].weight.copy_(torch.randn(head[1].weight.shape, generator=gen) * 0.01)
        head[1].bias.zero_()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = max(1, cfg.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )
    loss_fn = nn.CrossEntropyLoss()
    head.train()
    with torch.enable_grad():
        for _ in range(cfg.epochs):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples to estimate a variance
                    continue
                loss = loss_fn(head(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return head.eval()


@torch.no_grad()
def top1(head: nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest-scoring class is the label."""
    x, y = _check(features, labels)
    head.eval()
    pred = torch.cat([head(chunk).argmax(1) for chunk in x.split(4096)])
    return float((pred == y).float().mean())


def linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    config: ProbeConfig | None = None,
) -> tuple[float, nn.Sequential]:
    """Train on the training split, return (test top-1, the trained head)."""
    head = train_linear_probe(train_features, train_labels, config)
    return top1(head, test_features, test_labels), head


def _check(features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(features).float().cpu()
    y = torch.as_tensor(labels).long().cpu()
    if x.ndim != 2:
        raise ValueError(f"features have shape {tuple(x.shape)}; expected (N, D)")
    if y.shape != (len(x),):
        raise ValueError(f"labels have shape {tuple(y.shape)}; expected ({len(x)},)")
    if len(x) < 2:
        raise ValueError("a probe needs at least 2 samples")
    if int(y.min()) < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(y.min())}")
    return x, y
