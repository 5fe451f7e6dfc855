"""matplotlib without a display, and a figure saved whole or not at all.

Importing this module selects the Agg backend before pyplot loads (maeid draws into
files only, and a machine without a display must not fail on a GUI backend), so every
module that draws takes `plt` from here.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from maeid import atomic  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save `fig` to `path` (format from its extension), cropped to what is drawn, through
    a temporary file; then close it."""
    return atomic.save_figure(fig, path, dpi=dpi, bbox_inches="tight")
