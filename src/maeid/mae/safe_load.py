"""Reading torch files without letting them run code.

A `torch.save` file is a pickle, and a pickle can name any function to call while it is
read. `torch.load(weights_only=True)` only rebuilds tensors and plain values (dicts,
lists, numbers, strings) plus the types a caller allows by name; everything else is
refused before it runs. Every checkpoint maeid reads goes through `load_torch_file`,
which also turns the many ways a damaged file fails (a zip without its directory, an
empty file, a stray text file) into one clear error.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

# How torch's weights-only unpickler names what it refused to call or build.
_UNSAFE = re.compile(
    r"Unsupported global: GLOBAL ([\w.]+)|reduce for unrecognized function ([\w.<>]+)"
    r"|Can only build .*?but got (\S+)"
)


class UnsafeCheckpointError(ValueError):
    """The file would call a function that is not on the allow-list when unpickled."""


def load_torch_file(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    allow: Sequence[Any] = (),
) -> Any:
    """`torch.load(path, weights_only=True)` with `allow` as extra safe globals.

    Raises `UnsafeCheckpointError` for a file whose pickle names anything else, and a
    ValueError "truncated or corrupt checkpoint PATH" for one that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; pass a run folder or its checkpoints/last.pt"
        )
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if found := _UNSAFE.search(str(err)):
            raise UnsafeCheckpointError(
                f"refused checkpoint {path}: loading it would call {_named(found)}, which could "
                "run any code; maeid reads only tensors and plain values. Use a checkpoint "
                "written by maeid, or one from a source you trust re-saved as a plain state dict"
            ) from None
        raise _corrupt(path, err) from None
    except (RuntimeError, EOFError, OSError, KeyError, ValueError, IndexError) as err:
        raise _corrupt(path, err) from None


def _named(found: re.Match) -> str:
    return next(group for group in found.groups() if group)


def _corrupt(path: Path, err: BaseException) -> ValueError:
    # torch's own messages run over several lines; the first sentence names the failure.
    first = (str(err).strip().splitlines() or [""])[0].split(". ")[0]
    reason = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return ValueError(
        f"truncated or corrupt checkpoint {path} ({reason}); it cannot be read, so "
        "restore it from a copy or train again"
    )
