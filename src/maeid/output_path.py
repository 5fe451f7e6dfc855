"""Checking where a command will write before it writes anything.

`mkdir(parents=True)` under a path that is a file fails with NotADirectoryError or
FileExistsError halfway, after some folders exist. Commands call `check_output_dir`
(or `check_output_file`) first, so a bad `--out` is refused with nothing created.
"""

from __future__ import annotations

from pathlib import Path


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """`path` as a Path, if it is a folder or can be made one; else a ValueError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"{option} {path} is a file, not a folder; pass a folder path (it is created)"
        )
    _check_parents(path, option)
    return path


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """`path` as a Path, if a file can be written there; else a ValueError."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; pass a file path, e.g. {path / 'out'}")
    _check_parents(path, option)
    return path


def _check_parents(path: Path, option: str) -> None:
    for parent in path.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"{option} {path}: {parent} is a file, so nothing can be created "
                    "under it; pick a path under a folder"
                )
            return
