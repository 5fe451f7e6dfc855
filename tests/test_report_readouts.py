"""The rhm32 report's pre-registered readouts from hand-made rows, and rank statistics
that need three distinct values of the theory quantity."""

from __future__ import annotations

from pathlib import Path

from maeid.report.agreement import distinct_values, rank_agreement
from maeid.report.readouts import readouts_section
from maeid.report.registry import Page, get_section


def row(ratio: float, seed: int, *, gap_se: float = 40.0, rules_readable: float = 1.0) -> dict:
    """One trained run of unit 4 whose numbers are exact in binary: G = 0.5 at level 0 and
    0.75 at level 1 (trained), 0.25 (pixels), in both views."""
    r = {"mask_ratio": ratio, "mask_unit": 4, "seed": seed, "id": seed,
         "train.normalised_excess": 0.125}  # fmt: skip
    for view in ("full", "visible"):
        for level, (ce, g) in enumerate(((1.5, 0.5), (1.25, 0.75))):
            values = {"ce": ce, "untrained_ce": 2.0, "pixels_ce": 1.75, "bayes_ce": 1.0,
                      "gain_share": g, "pixels_gain_share": 0.25, "gap_se": gap_se}  # fmt: skip
            for name, value in values.items():
                r[f"information.{name}_{view}.level_{level}"] = value
        for who, acc in (("", 0.5), ("untrained_", 0.25), ("pixels_", 0.375)):
            for budget in (1000, 8000):
                r[f"class_probe.{who}accuracy_{view}.budget_{budget}"] = acc
                r[f"class_probe.{who}ce_{view}.budget_{budget}"] = 1.0 + acc
        r[f"class_probe.bayes_accuracy_{view}"] = 1.0
        r[f"class_probe.bayes_ce_{view}"] = 0.0
        r[f"class_probe.chance_{view}"] = 0.125
        r[f"symbols.rules_share.{view}"] = 0.875
        r[f"symbols.rules_gap_se.{view}"] = 8.0 if rules_readable else 4.0
        r[f"symbols.rules_readable.{view}"] = rules_readable
    return r


def test_each_readout_is_tabulated_per_cell_with_its_floors_and_readability():
    rows = [row(0.25, 0), row(0.25, 1), row(0.5, 0, gap_se=3.0, rules_readable=0.0)]
    text = readouts_section(rows)
    assert text.startswith("## Pre-registered readouts")
    assert "pre-registered readouts, chosen before the runs they read" in text
    # Information: per cell, view and level; two seeds agree exactly (interval 0).
    assert (
        "| 0.25 | 4 | 2/2 | full image | 0 | 1.500 ± 0.000 | 2.000 ± 0.000 | "
        "1.750 ± 0.000 | 1.000 ± 0.000 | 0.500 ± 0.000 | 0.250 ± 0.000 | 40.0 |"
    ) in text
    # One run whose gap is 3 SE: G is shown but marked, not read.
    assert (
        "| 0.5 | 4 | 1/1 | visible tokens | 1 | 1.250 (n=1) | 2.000 (n=1) | 1.750 (n=1) | "
        "1.000 (n=1) | 0.750 (n=1) (not readable) | 0.250 (n=1) (not readable) | 3.0 |"
    ) in text
    # The class-only probe at both budgets, accuracy then CE, trained / untrained / pixels.
    assert (
        "| 0.25 | 4 | 2/2 | full image | 0.500 ± 0.000 / 0.250 ± 0.000 / 0.375 ± 0.000 | "
        "1.500 ± 0.000 / 1.250 ± 0.000 / 1.375 ± 0.000 |"
    ) in text
    assert "1000 labels: accuracy trained / untrained / pixels" in text
    assert "8000 labels: CE trained / untrained / pixels" in text
    assert "| 1.000 ± 0.000 / 0.000 ± 0.000 | 0.125 ± 0.000 |" in text
    # The rules share: readable in the first cell, not in the second.
    assert "| 0.25 | 4 | 2/2 | 0.875 ± 0.000 | 8.0 | 0.875 ± 0.000 | 8.0 |" in text
    assert "| 0.5 | 4 | 1/1 | 0.875 (n=1) (not readable) | 4.0 |" in text


def test_nothing_measured_means_no_section_and_readouts_alone_still_report():
    assert (
        readouts_section([{"mask_ratio": 0.5, "mask_unit": 4, "symbols.chance.level_0": 0.1}])
        is None
    )
    only = [{k: v for k, v in row(0.5, 0).items() if not k.startswith("symbols.")}]
    page = Page(only, [], Path("unused"))
    for name in ("symbols", "symbols_rules", "class_accuracy"):  # no symbols: none of these
        assert get_section(name).render(page) == []
    sections = get_section("readouts").render(page)
    assert len(sections) == 1 and sections[0].startswith("## Pre-registered readouts")
    assert "### The rules readout" not in sections[0]


def test_a_rank_statistic_over_two_distinct_values_is_untestable():
    def rows(predicted: list[float]) -> list[dict]:
        return [{"id": i, "seed": i % 3, "p": p, "m": 0.1 * i, "f": 0.0,
                 "train.normalised_excess": 0.1} for i, p in enumerate(predicted)]  # fmt: skip

    two = rows([0.25] * 3 + [0.75] * 3)  # six runs, two cells
    rho, trained, _, outcome = rank_agreement(two, "p", "m", "f")
    assert rho is None and trained == 6
    assert outcome == ("untestable: the prediction takes 2 distinct values over the trained "
                       "runs; a rank statistic needs at least 3")  # fmt: skip
    rho, _, _, outcome = rank_agreement(rows([0.25, 0.5, 0.75] * 2), "p", "m", "f")
    assert rho is not None and not outcome.startswith("untestable")
    assert distinct_values([0.5, 0.5 + 1e-12, 0.25, 1.0]) == 3  # mask-average noise counts once
