"""The reference MAE learning-rate recipe, applied per optimiser step.

lr = base_lr * effective_batch / 256           (the linear scaling rule)
step < warmup:  lr * step / warmup              (linear warm-up from 0)
after:          min_lr + (lr - min_lr) * (1 + cos(pi * t)) / 2
                with t = (step - warmup) / (steps - warmup)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def scaled_lr(base_lr: float, effective_batch: int) -> float:
    """The linear scaling rule: base_lr is the lr for a batch of 256."""
    return base_lr * effective_batch / 256


@dataclass
class WarmupCosine:
    """lr multiplier at each step, relative to the peak lr (a LambdaLR lambda).

    A dataclass rather than a closure so that LambdaLR's state_dict records its fields.
    """

    steps: int
    warmup_steps: int
    min_ratio: float = 0.0  # min_lr / peak lr

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / self.warmup_steps
        span = max(self.steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_at(step: int, peak_lr: float, steps: int, warmup_steps: int, min_lr: float = 0.0) -> float:
    """The lr of `step` (0-based) under warm-up then half-cycle cosine."""
    ratio = min_lr / peak_lr if peak_lr else 0.0
    return peak_lr * WarmupCosine(steps, warmup_steps, ratio)(step)


def build_scheduler(
    optimizer: torch.optim.Optimizer, peak_lr: float, steps: int, warmup_steps: int, min_lr: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step scheduler; the optimizer's groups must have been built with lr=peak_lr."""
    if min_lr > peak_lr:
        raise ValueError(f"min_lr={min_lr} exceeds the peak lr {peak_lr}; lower optim.min_lr")
    ratio = min_lr / peak_lr if peak_lr else 0.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(steps, warmup_steps, ratio))


def restretch(scheduler: torch.optim.lr_scheduler.LambdaLR, steps: int) -> None:
    """Move a (resumed) schedule's end to `steps`.

    The warm-up + cosine is recomputed as if the run had been planned for `steps` from
    the start: the lr becomes that schedule's value at the current step (for a finished
    run extended, back up from min_lr), then decays to min_lr at `steps`. Deterministic,
    and a no-op when `steps` is unchanged.
    """
    fns = scheduler.lr_lambdas  # one per parameter group (the same schedule for each)
    if not all(isinstance(fn, WarmupCosine) for fn in fns) or all(fn.steps == steps for fn in fns):
        return
    for fn in fns:
        fn.steps = steps
    lrs = [
        base * fn(scheduler.last_epoch) for base, fn in zip(scheduler.base_lrs, fns, strict=True)
    ]
    for group, lr in zip(scheduler.optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    scheduler._last_lr = lrs  # what get_last_lr() reports
