"""A measure's options: typed fields with a default, a check and one documented line each.

    @dataclass(frozen=True)
    class SymbolsOptions(Options):
        samples: int = option(2000, "held-out test images", minimum=2, flag="max_test")

`Options.parse(measure, mapping)` refuses unknown names (listing the known ones) and
values of the wrong type or out of range (naming the value and the rule), so a sweep
spec is checked before its runs train. `flag` names the `maeid evaluate` flag that sets
the field (`--max-test` sets every measure's field whose flag is `max_test`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Self


def option(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    choices: Sequence[str] | None = None,
    flag: str | None = None,
) -> Any:
    """A field of an `Options` dataclass (see the module docstring)."""
    meta = {"doc": doc, "minimum": minimum, "choices": tuple(choices or ()), "flag": flag}
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every measure's options; subclasses are frozen dataclasses of `option`s."""

    @classmethod
    def parse(cls, measure: str, given: Mapping[str, Any] | None) -> Self:
        given = dict(given or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise ValueError(f"unknown {measure} option(s) {unknown}; known: {sorted(fields)}")
        values = {name: _check(measure, fields[name], value) for name, value in given.items()}
        return cls(**values)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(name, default, documented line) of every field, in declaration order."""
        return [(f.name, f.default, f.metadata.get("doc", "")) for f in dataclasses.fields(cls)]

    @classmethod
    def flagged(cls, flag: str) -> list[str]:
        """The fields that the `maeid evaluate` flag `flag` sets."""
        return [f.name for f in dataclasses.fields(cls) if f.metadata.get("flag") == flag]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _check(measure: str, field: dataclasses.Field, value: Any) -> Any:
    """`value` as the type of `field`'s default, within its minimum and choices."""
    default, meta = field.default, field.metadata
    where = f"{measure} option {field.name}={value!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: use true or false")
        return value
    if isinstance(default, tuple):  # a list of whole numbers (label budgets)
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_number(where, int, item, meta.get("minimum")) for item in items)
    if isinstance(default, int | float):
        return _number(where, type(default), value, meta.get("minimum"))
    if value is None and default is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: use a name (a string)")
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError(f"{where}: use one of {', '.join(meta['choices'])}")
    return value


def _number(where: str, kind: type, value: Any, minimum: float | None) -> int | float:
    whole = kind is int
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or (whole and int(value) != value):
        raise ValueError(f"{where}: use a {'whole number' if whole else 'number'}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: must be at least {minimum:g}")
    return int(value) if whole else float(value)
