"""Progress bars that a log file can hold.

On a terminal a bar redraws itself in place ten times a second. Written to a file (a
SLURM log, `nohup ... > log`), each redraw is appended, and a long run leaves megabytes
of bars. `tqdm` here is tqdm's bar that redraws at most every `LOG_INTERVAL_S` seconds
when its stream is not a terminal, at a fixed width.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm as _tqdm

LOG_INTERVAL_S = 30.0


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.tqdm
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not is_terminal(kwargs.get("file") or sys.stderr):
            kwargs["mininterval"] = max(kwargs.get("mininterval") or 0.0, LOG_INTERVAL_S)
            kwargs["dynamic_ncols"] = False
            kwargs.setdefault("ncols", 100)
        super().__init__(*args, **kwargs)
