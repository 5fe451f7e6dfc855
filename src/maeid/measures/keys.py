"""Metric keys: the names under which a measure's numbers are stored and read.

A key is a small frozen value, `MetricKey("symbols", "probe_full", "level_2")`, whose
string form is the dotted name a results database stores (`symbols.probe_full.level_2`)
and which parses back from it (`maeid.measures.registry.parse_key`). A measure declares
the keys it writes as patterns (`*` stands for any level, budget or view); a report
section lists the keys it reads, and a test holds those against the declarations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True, order=True)
class MetricKey:
    """`namespace.name` or `namespace.name.part` (e.g. a level, a budget, a view)."""

    namespace: str
    name: str
    part: str | None = None

    def __post_init__(self) -> None:
        fields = [f for f in (self.namespace, self.name, self.part) if f is not None]
        for i, field in enumerate(fields):
            # only the last field may hold a '.' (a rendition's `redraw_0.25`)
            if not field or ("." in field and i < len(fields) - 1):
                raise ValueError(f"metric key field {field!r}: must be non-empty, without '.'")

    def __str__(self) -> str:
        return ".".join(p for p in (self.namespace, self.name, self.part) if p is not None)

    @classmethod
    def candidates(cls, text: str) -> list[MetricKey]:
        """The keys whose string form is `text` (two when a dot could end either the name
        or sit in the last field); `maeid.measures.registry.parse_key` picks the declared one."""
        namespace, _, rest = text.partition(".")
        name, _, part = rest.partition(".")
        out = [cls(namespace, name, part)] if name and part else []
        return out + ([cls(namespace, rest)] if namespace and rest else [])

    def matches(self, pattern: MetricKey) -> bool:
        """Whether this concrete key is one that `pattern` declares, field by field (`*` in
        a pattern's field stands for any value of that field)."""
        if (self.part is None) != (pattern.part is None):
            return False
        pairs = zip((self.namespace, self.name, self.part),
                    (pattern.namespace, pattern.name, pattern.part), strict=True)  # fmt: skip
        return all(fnmatchcase(mine, theirs) for mine, theirs in pairs if mine is not None)


def level(namespace: str, name: str, lv: int | str) -> MetricKey:
    return MetricKey(namespace, name, f"level_{int(lv)}")


def per_level(namespace: str, name: str, values: Mapping[Any, float]) -> dict[MetricKey, float]:
    """`{level: value}` as keys `namespace.name.level_k`, in level order."""
    return {
        level(namespace, name, lv): float(v)
        for lv, v in sorted(values.items(), key=lambda i: int(i[0]))
    }


def nest(metrics: Mapping[MetricKey, float]) -> dict[str, Any]:
    """Keys as the nested dict a results database flattens back to the same dotted names."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        node = out.setdefault(key.namespace, {})
        if key.part is None:
            node[key.name] = value
        else:
            node.setdefault(key.name, {})[key.part] = value
    return out


def undeclared(keys: Iterable[MetricKey], patterns: Iterable[MetricKey]) -> list[MetricKey]:
    """The keys that no pattern declares (empty when every key is declared)."""
    patterns = list(patterns)
    return [k for k in keys if not any(k.matches(p) for p in patterns)]
