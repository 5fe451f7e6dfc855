"""Writing results without ever leaving a half-written file (through `maeid.atomic`)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maeid import atomic  # noqa: E402


def write_json(path: str | Path, obj: object) -> Path:
    """Write `obj` as indented JSON; non-finite floats become null (JSON has no inf/NaN)."""
    path = Path(path)
    return atomic.write_json(path, _finite(obj))


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it."""
    return atomic.save_figure(fig, path, dpi=dpi, bbox_inches="tight")


def _finite(obj: object) -> object:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy / torch scalars
        return _finite(obj.item())
    return obj
