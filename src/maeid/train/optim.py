"""AdamW with the reference MAE's parameter groups."""

from __future__ import annotations

import torch
from torch import nn

# Learned tokens and position embeddings are not shrunk towards zero.
NO_DECAY_NAMES = frozenset({"cls_token", "mask_token", "pos_embed", "decoder_pos_embed"})


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weight matrices (decayed) and everything 1-D, biases, tokens (not)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        leaf = name.rsplit(".", 1)[-1]
        if p.ndim <= 1 or leaf == "bias" or leaf in NO_DECAY_NAMES:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    fused: bool = False,
) -> torch.optim.AdamW:
    """AdamW; `fused` (one kernel for all parameters) is the fast path on CUDA, foreach
    (a few batched kernels) elsewhere. Both keep the same state, so a checkpoint moves
    between them."""
    kernel = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=tuple(betas), **kernel)
