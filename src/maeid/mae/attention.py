"""Multi-head self-attention with one fused qkv projection and `scaled_dot_product_attention`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Under CPU autocast, run the attention kernel in fp32: its bf16 backward at our head sizes
# is several times slower than fp32 (63 % of an rhm32 step), while the GEMMs around it
# still gain from bf16. benchmarks/bench_precision.py measures both (and flips this).
FP32_ATTENTION_UNDER_CPU_AUTOCAST = True


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, t, _ = x.shape
        # (N, T, 3, heads, head_dim) -> three (N, heads, T, head_dim) views, no copy.
        # Unbinding dim 2 (not a leading permuted dim) lets the backward stack the three
        # gradients straight into the projection's (N, T, 3 * dim) layout: one copy.
        q, k, v = self.qkv(x).view(n, t, 3, self.num_heads, self.head_dim).unbind(2)
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self._heads(x)
        cpu_autocast = x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
        if cpu_autocast and FP32_ATTENTION_UNDER_CPU_AUTOCAST:
            with torch.autocast("cpu", enabled=False):
                out = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, t, d))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(N, heads, T, T) softmax attention, spelled out (SDPA never forms it)."""
        q, k, _ = self._heads(x)
        logits = (q @ k.transpose(-2, -1)) * self.head_dim**-0.5
        return logits.softmax(dim=-1)
