"""The report's sections, each registered under a name, with the metrics it reads.

    @section("symbols", reads=("symbols.probe_full.level_*", ...), headline=..., verdict=...)
    def symbols_section(page: Page) -> list[str]: ...

A section of a measure is named as the measure is (`symbols`, `shape_bias`, ...);
the others name what they show (`runs`, `training`, `agreement`, ...). `reads` lists
every metric the section reads, as patterns (`*` for any level, view or budget), in one
place: `undeclared_reads` renders a section and returns the keys it read that its
`reads` does not declare, so a test holds the two together.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from maeid.experiments.results_db import RunRecord
from maeid.report.cells import AXES, Row


@dataclass
class Page:
    """What a section renders from, and the list its figures join (in report order)."""

    rows: Sequence[Row]
    runs: Sequence[RunRecord]
    out: Path  # the report's folder: figures go here
    figures: list[Path] = field(default_factory=list)
    skipped: Sequence[dict[str, Any]] = ()  # grid cells that cannot run, with the reason

    def figure(self, path: Path | None) -> Path | None:
        """Count a figure a section wrote (None: it drew none)."""
        if path is not None:
            self.figures.append(path)
        return path


Render = Callable[[Page], list[str]]  # Markdown sections; [] when it has nothing to show


@dataclass(frozen=True)
class Section:
    name: str
    render: Render
    reads: tuple[str, ...]  # patterns of the metrics it reads
    derives: tuple[str, ...] = ()  # patterns of values it computes into its rows and reads
    headline: Callable[[Sequence[Row]], str | None] | None = None  # a leading table
    verdict: Callable[[Sequence[Row]], str] | None = None  # plain lines for the terminal


SECTIONS: dict[str, Section] = {}


def section(
    name: str,
    reads: Sequence[str],
    derives: Sequence[str] = (),
    headline: Callable[[Sequence[Row]], str | None] | None = None,
    verdict: Callable[[Sequence[Row]], str] | None = None,
) -> Callable[[Render], Render]:
    """Register the decorated renderer as the section `name`."""

    def register(render: Render) -> Render:
        if name in SECTIONS:
            raise ValueError(f"report section {name!r} is registered twice")
        SECTIONS[name] = Section(name, render, tuple(reads), tuple(derives), headline, verdict)
        return render

    return register


def get_section(name: str) -> Section:
    """The section registered as `name` (`maeid.report` imports every section module)."""
    if name not in SECTIONS:
        raise KeyError(f"no report section {name!r}; there are {sorted(SECTIONS)}")
    return SECTIONS[name]


def section_names() -> list[str]:
    """Every registered section, as registered (`maeid.report.build.report_order` puts
    them in the order of the report)."""
    return list(SECTIONS)


class _ReadRecorder(dict):
    """A row that notes every key asked of it (a copy keeps noting into the same set)."""

    seen: set[str]

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def keys_read(name: str, page: Page) -> set[str]:
    """The metric keys section `name` asks of the rows while rendering `page` (the axes
    and the run's id left out); the page's figures are written as usual."""
    seen: set[str] = set()
    rows = []
    for row in page.rows:
        recorder = _ReadRecorder(row)
        recorder.seen = seen
        rows.append(recorder)
    target = get_section(name)
    target.render(Page(rows, page.runs, page.out, page.figures, page.skipped))
    for part in (target.headline, target.verdict):
        if part is not None:
            part(rows)
    return {key for key in seen if key not in AXES}


def undeclared_reads(name: str, page: Page) -> list[str]:
    """The keys section `name` reads from `page` that neither its `reads` nor its
    `derives` declares (empty when the declaration is complete)."""
    target = get_section(name)
    patterns = target.reads + target.derives
    return sorted(k for k in keys_read(name, page) if not any(fnmatchcase(k, p) for p in patterns))


def with_copies(row: Row) -> Row:
    """A copy of `row` to add derived values to; a recording row stays recording."""
    return copy.copy(row)
