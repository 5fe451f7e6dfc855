"""Progress bars that a log file can hold.

On a terminal a bar redraws itself in place ten times a second. Written to a file (a
SLURM log, `nohup ... > log`), each redraw is appended, and a long run leaves megabytes
of bars. `tqdm` here is tqdm's bar that redraws at most every `LOG_INTERVAL_S` seconds
when its stream is not a terminal, at a fixed width, whether it redraws on its own or
is told to (`refresh()`, `set_postfix(refresh=True)`); closing it always draws the
last state. Every progress bar of maeid is this one.
"""

from __future__ import annotations

import math
import sys
import time
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
        self._for_log = not is_terminal(kwargs.get("file") or sys.stderr)
        self._last_log_draw = -math.inf  # the first draw shows
        if self._for_log:
            kwargs["mininterval"] = max(kwargs.get("mininterval") or 0.0, LOG_INTERVAL_S)
            kwargs["dynamic_ncols"] = False
            kwargs.setdefault("ncols", 100)
        super().__init__(*args, **kwargs)

    def refresh(self, nolock: bool = False, lock_args: Any = None) -> bool | None:
        if self._for_log and not self.disable:
            now = time.monotonic()
            if now - self._last_log_draw < LOG_INTERVAL_S:
                return False
            self._last_log_draw = now
        return super().refresh(nolock, lock_args)
