"""The ViT bottleneck on images: a `BottleneckMAE` on its one fixed token mask, and its
trainer (GPU when there is one).

Unlike `maeid.train`, there is no config, no run directory and no random masking: the
mask is part of the model, the data are given as one tensor, and the caller gets the
fitted model back to regress the true latents from `model.encode(images)`.

    model = BottleneckMAE(mask, code_dim=d_c, img_size=32, patch_size=4, in_chans=1)
    model = train_bottleneck(model, images, steps=2000, batch_size=256, lr=1e-3, seed=0)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from maeid.formal.config import IdentifyConfig
from maeid.formal.masks import FixedMask
from maeid.hlvm.model import Sample
from maeid.hlvm.spec import GraphSpec
from maeid.mae.bottleneck import BottleneckMAE
from maeid.progress import tqdm
from maeid.theory.identification import Identification
from maeid.theory.token_masks import default_patch_size
from maeid.train.distributed import pick_device
from maeid.train.optim import build_optimizer
from maeid.train.precision import autocast_for
from maeid.train.schedule import build_scheduler
from maeid.train.steps import NonFiniteLossError


def vit_setup(
    spec: GraphSpec, fixed: FixedMask, theory: Identification, train: Sample, held_out: Sample
) -> tuple[BottleneckMAE, torch.Tensor, torch.Tensor]:
    """(the network, training images, held-out images) for a mask drawn by ratio and unit."""
    if fixed.token_mask is None:
        raise ValueError("--arch vit needs masks drawn by ratio and unit (token masks)")
    c, h, w = spec.image_shape
    net = BottleneckMAE(fixed.token_mask, theory.code_dim, img_size=(h, w),
                        patch_size=default_patch_size(spec), in_chans=c)  # fmt: skip
    return net, torch.from_numpy(train.images), torch.from_numpy(held_out.images)


def train_vit(
    net: nn.Module, images: torch.Tensor, cfg: IdentifyConfig, progress: bool
) -> tuple[int, float]:
    """`train_bottleneck` for `cfg.steps`; the steps and the mean loss of the last 50."""
    if cfg.steps is None:
        raise ValueError("--arch vit trains for a number of --steps; it has no time budget")
    history: list[float] = []
    train_bottleneck(net, images, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                     seed=cfg.seed, weight_decay=0.0,
                     warmup_steps=min(cfg.warmup_steps, cfg.steps), progress=progress,
                     history=history)  # fmt: skip
    return cfg.steps, float(np.mean(history[-50:]))


def train_bottleneck(
    model: nn.Module,
    images: torch.Tensor | np.ndarray,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    weight_decay: float = 0.05,
    warmup_steps: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
    history: list[float] | None = None,
) -> nn.Module:
    """Fit `model` (e.g. a BottleneckMAE) to `images` (N, C, H, W) by minimising its loss.

    AdamW (0.9, 0.95) with weight decay off for biases, norms and tokens; `lr` is the
    peak, reached after `warmup_steps` (default 5% of `steps`) and followed by a half
    cosine to zero. Batches are drawn without replacement, epoch by epoch, in an order
    fixed by `seed`. Images are used as given (normalise them first if needed).
    `history`, if given, receives the loss of every step. Returns the model in eval mode,
    on `device`.
    """
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"steps={steps}, batch_size={batch_size}, lr={lr}: all must be positive")
    device = pick_device(device) if isinstance(device, str) and device == "auto" else device
    device = torch.device(device)
    images = _image_batch(images, device)
    n = images.shape[0]
    batch_size = min(batch_size, n)
    warmup = max(steps // 20, 1) if warmup_steps is None else warmup_steps
    if not 0 <= warmup <= steps:
        raise ValueError(f"warmup_steps={warmup} must lie in [0, steps={steps}]")
    model = model.to(device).train()
    optimizer = build_optimizer(model, lr, weight_decay, (0.9, 0.95))
    scheduler = build_scheduler(optimizer, lr, steps, warmup, 0.0)
    order = torch.Generator().manual_seed(seed)
    autocast = autocast_for(device, "auto")
    batches_per_epoch = n // batch_size
    perm = torch.empty(0, dtype=torch.long)
    for step in tqdm(range(steps), desc="bottleneck", disable=not progress, leave=False):
        if step % batches_per_epoch == 0:
            perm = torch.randperm(n, generator=order).to(device)
        start = (step % batches_per_epoch) * batch_size
        with autocast:
            loss = model(images[perm[start : start + batch_size]])[0]
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"bottleneck MAE loss is {value} at step {step + 1}; lower lr (now {lr})"
            )
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if history is not None:
            history.append(value)
    return model.eval()


def _image_batch(images: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    """`images` as a float (N, C, H, W) tensor on `device`; ValueError for another shape."""
    images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if images.ndim != 4:
        raise ValueError(f"images have shape {tuple(images.shape)}; expected (N, C, H, W)")
    return images.float().to(device)
