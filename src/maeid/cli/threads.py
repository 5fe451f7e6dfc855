"""How many torch threads a command uses: `--threads N`, or by default the free cores.

torch starts one thread per core. When other jobs keep some cores busy, those threads
wait on each other and a small model trains several times slower than on one thread
(on 2 cores with one busy, 50 qt32 steps took 160 s instead of 24 s). By default a
command takes the cores the 1-minute load average leaves free, shared among the
processes of a torchrun launch.
"""

from __future__ import annotations

import argparse
import os

HELP = (
    "torch threads (default %(default)s: the free cores, i.e. the cores minus the 1-minute "
    "load average, shared among torchrun's processes, at least 1). More threads than free "
    "cores slow training down badly on a busy machine"
)


def add_threads_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--threads", type=int, default=0, metavar="N", help=HELP)


def free_cores() -> int:
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        busy = 0.0
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, int(cores - busy + 0.5) // max(processes, 1))


def set_threads(requested: int) -> int:
    """Set torch's thread count per `--threads`; return it."""
    import torch

    if requested < 0:
        raise ValueError(f"--threads {requested}: use a positive count, or 0 for the free cores")
    threads = requested or free_cores()
    torch.set_num_threads(threads)
    return threads
