"""Evaluation results as JSON, written whole or not at all (through `maeid.atomic`).

Figures are saved by `maeid.figures`.
"""

from __future__ import annotations

import math
from pathlib import Path

from maeid import atomic


def write_json(path: str | Path, obj: object) -> Path:
    """Write `obj` as indented JSON; non-finite floats become null (JSON has no inf/NaN)."""
    path = Path(path)
    return atomic.write_json(path, _finite(obj))


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
