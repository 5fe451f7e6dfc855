"""Writing a result so that it is either whole or absent, with the permissions of the umask.

Every file maeid writes goes to a temporary file beside its destination, then
`os.replace` renames it into place: a crash, a full disk or Ctrl-C mid-write leaves the
previous file (or none), never half of one. `tempfile.mkstemp` creates its files
owner-only (0600) whatever the umask, so each file is given `0666 & ~umask` before the
rename, as `open()` would have made it. A failing write raises `OutputError` naming the
file and the reason (no traceback at the command line).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maeid.output_path import OutputError


def file_mode() -> int:
    """The mode `open()` gives a new file under this process's umask (0644 under 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """The mode `mkdir` gives a new folder under this process's umask (0755 under 022)."""
    return 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write to; on a clean exit it is given the umask's
    mode and renamed over `path`, on any exception removed. `suffix` keeps the extension
    for writers that read it (matplotlib, safetensors)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as err:
        raise _unwritable(path, err) from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, err) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes, fsync: bool = False) -> Path:
    """`data` as the whole of `path`; with `fsync`, on the disk before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, fsync: bool = False) -> Path:
    return write_bytes(path, text.encode(), fsync)


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    """`obj` as JSON, ending with a newline. NaN and infinities are refused: JSON has none."""
    return write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def save_figure(fig: Any, path: str | os.PathLike[str], close: bool = True, **savefig: Any) -> Path:
    """A matplotlib figure saved to `path` (format from its extension); closed unless
    `close` is False."""
    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix or ".png") as tmp:
            fig.savefig(tmp, **savefig)
    finally:
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
    return path


def torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """`torch.save(obj)` to `path`, synced to the disk before the rename (a checkpoint
    must survive a power cut that follows the rename)."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def _unwritable(path: Path, err: OSError) -> OutputError:
    full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    fix = "free some space or write elsewhere" if full else "pick a folder you can write to"
    return OutputError(f"cannot write {path} ({err.strerror or err}); {fix}")


def _umask() -> int:
    # Linux shows the umask without changing it; elsewhere set and restore it.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
