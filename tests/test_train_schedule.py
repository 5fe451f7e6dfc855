"""The learning-rate recipe and the parameter groups."""

import math

import pytest
import torch
from torch import nn

from maeid.train.optim import param_groups
from maeid.train.schedule import build_scheduler, lr_at, scaled_lr


def test_linear_scaling_rule():
    assert scaled_lr(1.5e-4, 4096) == pytest.approx(2.4e-3)
    assert scaled_lr(1e-3, 256) == 1e-3


def test_warmup_then_half_cycle_cosine_values():
    peak, steps, warm = 1.0, 110, 10
    assert lr_at(0, peak, steps, warm) == 0.0
    assert lr_at(5, peak, steps, warm) == pytest.approx(0.5)
    assert lr_at(10, peak, steps, warm) == pytest.approx(1.0)
    assert lr_at(60, peak, steps, warm) == pytest.approx(0.5)  # half-way down the cosine
    assert lr_at(35, peak, steps, warm) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_at(110, peak, steps, warm) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(110, 2.0, steps, warm, min_lr=0.1) == pytest.approx(0.1)
    assert lr_at(60, 2.0, steps, warm, min_lr=0.1) == pytest.approx(0.1 + 1.9 * 0.5)


def test_scheduler_sets_the_lr_of_each_step():
    p = nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([p], lr=0.3)
    sched = build_scheduler(opt, 0.3, steps=20, warmup_steps=4, min_lr=0.01)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([lr_at(s, 0.3, 20, 4, 0.01) for s in range(20)])


def test_weight_decay_spares_biases_norms_and_tokens():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
            self.pos_embed = nn.Parameter(torch.zeros(1, 5, 4), requires_grad=False)
            self.proj = nn.Linear(4, 4)
            self.norm = nn.LayerNorm(4)

    model = Tiny()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = param_groups(model, 0.05)
    assert [names[id(p)] for p in groups[0]["params"]] == ["proj.weight"]
    assert groups[0]["weight_decay"] == 0.05 and groups[1]["weight_decay"] == 0.0
    assert sorted(names[id(p)] for p in groups[1]["params"]) == [
        "cls_token", "norm.bias", "norm.weight", "proj.bias",
    ]  # fmt: skip
