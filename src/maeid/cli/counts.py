"""Counts on the command line as people write them: 10000, 10_000 or 1e4."""

from __future__ import annotations

import argparse


def count(text: str) -> int:
    """An argparse type: a whole number, also in scientific notation (1e6)."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():  # NaN, infinities and fractions alike
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (e.g. 10000 or 1e4)")
    return int(value)
