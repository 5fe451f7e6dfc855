"""The thread policy's old address, still imported by `cli/evaluate.py`: everything here
is `maeid.threads`'s (remove this module once that import moves there)."""

from __future__ import annotations

from maeid.threads import HELP, add_threads_argument, free_cores

__all__ = ["HELP", "add_threads_argument", "free_cores"]
