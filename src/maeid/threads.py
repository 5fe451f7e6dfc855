"""How many threads maeid computes with: one rule for every command's `--threads`.

torch starts one thread per core. When other jobs keep some cores busy, those threads
wait on each other and a small model trains several times slower than on one thread
(on 2 cores with one busy, 50 qt32 steps took 160 s instead of 24 s). So a count of 0
(or none given) means the free cores: the cores the 1-minute load average leaves free,
shared among the processes of a torchrun launch (or a sweep's workers), at least 1. A
positive count is taken as it is; a negative one is refused.

Library functions that take `threads=None` leave torch's setting alone; a command
resolves its `--threads` with `resolve_threads` and hands on the count.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

# What 0 means, word for word in every command's --help (a test holds them to it).
ZERO_MEANS = "0 = the free cores"

HELP = (
    "torch threads (default %(default)s; " + ZERO_MEANS + ": the cores minus the 1-minute "
    "load average, shared among torchrun's processes, at least 1). More threads than free "
    "cores slow a busy machine down badly"
)
PER_WORKER_HELP = (
    "torch threads in each worker (default %(default)s; " + ZERO_MEANS + ": the cores "
    "minus the 1-minute load average, shared among --workers, at least 1 each). More "
    "threads than free cores slow a busy machine down badly"
)


def add_threads_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    default: int = 0,
    per_worker: bool = False,
) -> None:
    """`--threads N`, with the help that says what 0 means (per worker for a sweep)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=default,
        metavar="N",
        help=PER_WORKER_HELP if per_worker else HELP,
    )


def free_cores() -> int:
    """The cores the 1-minute load average leaves free, shared among the processes of a
    torchrun launch (`LOCAL_WORLD_SIZE`); at least 1, at most the machine's cores."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        busy = 0.0
    processes = max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    return max(1, min(cores, int(cores - busy + 0.5)) // processes)


def resolve_threads(requested: int | None, *, flag: str = "--threads", workers: int = 1) -> int:
    """The thread count that `requested` means: None or 0 = the free cores (shared among
    `workers` processes, at least 1 each), N > 0 = N. A negative count raises a
    ValueError naming `flag`, the value and the fix."""
    if requested is None or requested == 0:
        return max(1, free_cores() // max(workers, 1))
    if requested < 0:
        raise ValueError(f"{flag} {requested}: use a positive count, or 0 for the free cores")
    return int(requested)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch's intra-op threads at `threads` (None: as they are), and
    put the previous count back on the way out, also when an exception passes."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"torch_threads({threads}): give a count of at least 1, or None")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
