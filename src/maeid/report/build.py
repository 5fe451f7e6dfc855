"""`maeid report`: a results database -> `report.md` plus PNG figures.

Every section reads only what the database holds. A section without data says so (or is
left out) and the report goes on, so a half-finished sweep already gives a useful
report. The sections are registered by name (`maeid.report.registry`), in the order of
`maeid.report.catalog`; this module renders them, picks the headline table and gathers
the verdict lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from maeid.atomic import write_text
from maeid.experiments.results_db import ResultsDB
from maeid.output_path import check_output_dir
from maeid.report import catalog  # registers every section on import
from maeid.report.identifiability import MISSING_TEXT, r2_levels
from maeid.report.registry import Page, get_section, section_names

# Sections of an rhm32 sweep's own measures: where any of them shows something and no run
# has R², the identifiability section's "no results" note is left out (nothing is missed).
OWN_MEASURES = ("symbols", "symbols_rules", "readouts", "class_accuracy", "shape_bias",
                "rendition")  # fmt: skip
# The headline is the first of these sections' headline tables that the database fills.
HEADLINES = ("identifiability", "symbols", "shape_bias", "probe")
# The verdict gathers these sections' plain lines, in this order.
VERDICTS = ("training", "agreement", "symbols", "shape_bias")


@dataclass(frozen=True)
class Report:
    path: Path  # report.md
    figures: tuple[Path, ...]
    headline: str  # the leading table (Markdown), or a line saying it is missing
    verdict: str = ""  # runs trained, and the theory's verdict per level, in words


def default_report_dir(db_path: str | Path) -> Path:
    """`DB_DIR/<db stem>-report`: databases side by side get reports side by side."""
    db_path = Path(db_path).resolve()
    return db_path.parent / f"{db_path.stem}-report"


def build_report(
    db_path: str | Path,
    out_dir: str | Path | None = None,
    sweep: str | None = None,
    extra_sections: Sequence[str] = (),
    with_theory: bool = True,
    title: str = "maeid sweep report",
) -> Report:
    """Write `out_dir/report.md` and its figures from the database at `db_path`.

    `title` heads the page; `extra_sections` (Markdown) go right after the header.
    `with_theory` adds the theory's profile of a synthetic sweep's model over the sweep's
    cells (the demo brings its own).
    """
    db_path = Path(db_path)
    if db_path.is_dir():
        raise ValueError(f"{db_path} is a folder; pass the database file `maeid sweep --db` wrote")
    if not db_path.is_file():
        raise FileNotFoundError(f"results database {db_path} not found; run `maeid sweep` first")
    out = Path(out_dir) if out_dir is not None else default_report_dir(db_path)
    check_output_dir(out)
    with ResultsDB(db_path, read_only=True) as db:  # read everything before writing anything
        if sweep is not None and sweep not in db.sweeps():
            raise ValueError(
                f"no sweep {sweep!r} in {db_path}; it holds {db.sweeps()}, pass one to --sweep"
            )
        page = Page(db.metric_table(sweep), db.runs(sweep), out, skipped=db.skipped(sweep))
        sweeps = [sweep] if sweep else db.sweeps()
    out.mkdir(parents=True, exist_ok=True)
    names = [name for name in report_order() if with_theory or name != "theory"]
    rendered = {name: get_section(name).render(page) for name in names}
    if not r2_levels(page.rows) and any(rendered[name] for name in OWN_MEASURES):
        rendered["identifiability"] = []
    sections = [_header(title, db_path, sweeps), *extra_sections]
    sections += [part for name in names for part in rendered[name]]
    path = out / "report.md"
    write_text(path, "\n\n".join(sections).rstrip() + "\n")
    return Report(path, tuple(page.figures), headline(page.rows), verdict(page.rows))


def report_order() -> list[str]:
    """The registered sections in the order `maeid.report.catalog.MODULES` names their
    modules (a module imported by another registers early; its place is still its own)."""
    rank = {f"maeid.report.{module}": i for i, module in enumerate(catalog.MODULES)}
    unlisted = [n for n in section_names() if get_section(n).render.__module__ not in rank]
    if unlisted:
        raise ValueError(f"report sections {unlisted} are in no module of catalog.MODULES")
    return sorted(section_names(), key=lambda n: rank[get_section(n).render.__module__])


def headline(rows: Sequence[dict]) -> str:
    """The first headline table the rows fill (`HEADLINES`), or a line saying none does."""
    for name in HEADLINES:
        table = get_section(name).headline(rows)
        if table:
            return table
    return MISSING_TEXT


def verdict(rows: Sequence[dict]) -> str:
    """The sections' verdict lines (`VERDICTS`), those with something to say."""
    return "\n".join(filter(None, (get_section(name).verdict(rows) for name in VERDICTS)))


def _header(title: str, db_path: Path, sweeps: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"# {title}\n\n"
        f"Database `{db_path}`, sweep(s): {', '.join(sweeps) or 'none'}; written {now}.\n"
        "Values are means over seeds for each (masking ratio, masking unit) cell; units are "
        "in pixels."
    )
