"""A comma-separated list of numbers given on the command line (`--ratios 0.5,0.75`)."""

from __future__ import annotations


def number_list(text: str, kind: type, flag: str, example: str) -> list:
    """`text` split at commas into `kind`s; ValueError naming `flag` and an `example`
    if a value is not a number or none is given."""
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"{flag} {text!r} must be comma-separated numbers, e.g. {example}"
        ) from None
    if not values:
        raise ValueError(f"{flag} is empty; give e.g. {example}")
    return values
