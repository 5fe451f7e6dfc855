"""`run.compile`: torch.compile for the training step, with a cache that outlives the run.

Inductor writes the kernels it generates to a cache folder; a later process with the same
model, shapes and torch version loads them instead of compiling again, so a sweep pays
the cold compile (about a minute for the small ViTs here) once per cell shape. The folder
is `$TORCHINDUCTOR_CACHE_DIR` if set, else `~/.cache/maeid/inductor`. The first steps of
a compiled run are slow; `metrics.jsonl` shows it in `img_per_s`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "maeid" / "inductor")


def compiled(net: nn.Module) -> nn.Module:
    """`net` wrapped by torch.compile, with inductor's persistent caches switched on.

    `$MAEID_COMPILE_BACKEND` picks another dynamo backend (e.g. `eager`, which checks the
    tracing without generating code: what the CPU smoke runs of the benchmarks use)."""
    os.environ.setdefault(CACHE_ENV, str(cache_dir()))
    os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
    os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")
    return torch.compile(net, backend=os.environ.get("MAEID_COMPILE_BACKEND", "inductor"))
