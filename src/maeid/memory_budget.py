"""Refusing up front what cannot fit: a count times its bytes each, against what is free.

A command asked for 10^12 samples or 10^11 masks otherwise allocates until the kernel
kills it (or raises MemoryError deep inside numpy) after minutes of work. Callers
estimate the bytes one item costs at its peak and call `check_fits` before the work;
the refusal names the count, what it would take, and the largest count that fits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HEADROOM = 0.8  # leave a fifth of the free memory (or disk) to everything else


def free_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping, if known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def free_disk(path: str | os.PathLike[str]) -> int | None:
    """Bytes free on the disk that holds `path` (or its nearest existing folder)."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def largest_count(per_item: float, free: int) -> int:
    """The largest round count (one significant digit) of items that fits in `free`."""
    fit = int(HEADROOM * free // max(per_item, 1.0))
    if fit < 10:
        return fit
    scale = 10 ** (len(str(fit)) - 1)
    return fit // scale * scale


def check_fits(
    count: int, per_item: float, asked: str, fix: str, free: int | None, where: str = "memory"
) -> None:
    """Refuse `count` items of `per_item` bytes each when they need more than `free` bytes
    of `where` ("memory" or "disk"). `asked` names the value (e.g. "--n 10000000"), `fix`
    how to ask for less (e.g. "use --n"); unknown `free` (None) lets it through."""
    if free is None or count * per_item <= HEADROOM * free:
        return
    fit = largest_count(per_item, free)
    raise ValueError(
        f"{asked} needs about {human_bytes(count * per_item)} of {where} "
        f"({human_bytes(per_item)} each), more than the {human_bytes(free)} free; "
        f"{fix} {fit:,} or fewer"
    )
