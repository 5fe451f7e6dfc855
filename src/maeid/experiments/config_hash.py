"""A run's identity: the sha256 of its resolved config written as canonical JSON.

Canonical: keys sorted, no whitespace, floats as Python writes them, tuples as lists. The
same config always hashes the same, on any machine and in any process, so a rerun of a
sweep finds its finished runs, and two sweeps that share a point share its run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """`value` as JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)


def config_hash(config: Any) -> str:
    """Hex sha256 of `canonical_json(config)`."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def _plain(value: Any) -> Any:
    # Paths, numpy scalars and the like: stored by their plain form.
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)
