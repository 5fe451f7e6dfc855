"""Checking where a command will write before it writes anything (or works for hours).

`mkdir(parents=True)` under a path that is a file fails with NotADirectoryError or
FileExistsError halfway, after some folders exist; a folder the user cannot write to
(permissions, `chattr +i`, a read-only mount) fails only at the first write, after the
work is done. Commands call `check_output_dir` (or `check_output_file`) first, so a bad
`--out` is refused with nothing created. The writes themselves go through
`maeid.atomic`, which raises the same `OutputError` if the disk changes its mind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class OutputError(ValueError, OSError):
    """A place maeid cannot write to; the message names it and what to do instead. A bad
    value (the command line reports it as one) and an OSError (what a failed write is)."""


def check_output_dir(path: str | Path, option: str = "--out", writable: bool = True) -> Path:
    """`path` as a Path, if it is a folder or can be made one (and, with `writable`, new
    files can be made in it); else an OutputError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{option} {path} is a file, not a folder; pass a folder path (it is created)"
        )
    _check_parents(path, option, writable, include_self=True)
    return path


def check_output_file(path: str | Path, option: str = "--out", writable: bool = True) -> Path:
    """`path` as a Path, if a file can be written there; else an OutputError."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; pass a file path, e.g. {path / 'out'}")
    _check_parents(path, option, writable, include_self=False)
    return path


def check_output_sibling(path: str | Path, option: str = "--out") -> Path:
    """`path` as a Path, if something (a file or a folder) can be made beside it, as a
    replacement renamed into place needs; else an OutputError."""
    path = Path(path)
    _check_parents(path, option, writable=True, include_self=False)
    return path


def nearest_existing(path: Path) -> Path:
    """The folder (or file) nearest to `path`, itself included, that exists."""
    for candidate in (path.absolute(), *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path(path.absolute().anchor)


def _check_parents(path: Path, option: str, writable: bool, include_self: bool) -> None:
    start = path if include_self else path.absolute().parent
    existing = nearest_existing(start)  # it must be a folder we can create things in
    if not existing.is_dir():
        raise OutputError(
            f"{option} {path}: {existing} is a file, so nothing can be created "
            "under it; pick a path under a folder"
        )
    if writable:
        _probe(existing, path, option)


def _probe(folder: Path, path: Path, option: str) -> None:
    # Make and remove an empty folder: permission bits, ACLs, `chattr +i` and read-only
    # mounts all answer for real, and for root too (os.access says yes to root).
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".maeid-write-test-", dir=folder))
    except OSError as err:
        what = f"{option} {path}" + ("" if folder == path.absolute() else f": {folder}")
        raise OutputError(
            f"{what} is not writable ({err.strerror or err}); pick a folder you can write to"
        ) from None


def write_files_into(out: str | Path, files: dict[str, Callable[[str], object]]) -> None:
    """Create folder `out` and write each of `files` (name -> writer of that path) into it.

    If any writer fails and this call created the folder, the files written so far and
    the folder are removed: a failed command leaves nothing half-written behind.
    """
    out = str(out)
    created = not os.path.isdir(out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    try:
        for name, write in files.items():
            write(os.path.join(out, name))
    except BaseException:
        if created:
            for name in files:
                path = os.path.join(out, name)
                if os.path.exists(path):
                    os.unlink(path)
            os.rmdir(out)
        raise
