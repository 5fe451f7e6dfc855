"""Does a sweep follow the theory? Rank agreement per latent level, over trained runs.

A model is held against the theory only once trained (`maeid.report.training`): over the
trained runs, Spearman's rho between the theory's prediction for the run's (ratio, unit)
and what training added (measured minus the untrained floor), with a bootstrap 95 %
interval over seeds. Verdict: *agrees* when the interval lies above 0; *disagrees* when
it does not (no positive rank agreement); *untestable* when fewer than three runs are
trained, or the prediction takes fewer than `MIN_DISTINCT` distinct values over them (two
values are one comparison, which any quantity that differs between the two cells passes
or fails alike: no rank statistic).

`rank_agreement` is the statistic every section's verdict uses; the `agreement` section
applies it to identifiability: R² on the visible tokens minus the untrained encoder's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from maeid.evaluate.intervals import Interval, spearman_interval
from maeid.report.cells import EXCESS, Row, trained_rows
from maeid.report.identifiability import r2_levels
from maeid.report.registry import Page, section
from maeid.report.table import Table, rho_text
from maeid.train.quality import under_trained

MIN_DISTINCT = 3  # distinct values of the theory quantity a rank statistic needs
PREDICTED, MEASURED, FLOOR = (f"identifiability.{name}" for name in
                              ("predicted", "measured", "untrained"))  # fmt: skip


def agreement_verdict(rows: Sequence[Row]) -> str:
    """One line per latent level: does what training added follow the prediction?"""
    return "\n".join(
        f"theory vs training gain, {lv.replace('_', ' ')}: {level_agreement(rows, lv)[3]}"
        for lv in r2_levels(rows)
    )


@section("agreement", reads=(f"{PREDICTED}.level_*", f"{MEASURED}.level_*", f"{FLOOR}.level_*",
                             EXCESS), verdict=agreement_verdict)  # fmt: skip
def agreement_section(page: Page) -> list[str]:
    """Per level, Spearman rho (theory vs trained minus floor) and the verdict; none
    without a prediction."""
    rows, levels = page.rows, r2_levels(page.rows)
    if not any(r.get(f"{PREDICTED}.{lv}") is not None for r in rows for lv in levels):
        return []
    table = Table("level", "trained runs", "under-trained runs", "rho [95 %]", "verdict")
    for lv in levels:
        rho, n_trained, n_under, outcome = level_agreement(rows, lv)
        table.add(lv.replace("_", " "), n_trained, n_under, rho_text(rho), outcome)
    return [
        "\n".join(
            [
                "## Does the sweep follow the theory? (per latent level)",
                "",
                "Spearman's rho over trained runs between the theory's prediction for the run's "
                "(ratio, unit) and what training added (R² on visible tokens minus the untrained "
                "floor), with a bootstrap 95 % interval over seeds.",
                "",
                *table.lines(),
            ]
        )  # fmt: skip
    ]


def level_agreement(rows: Sequence[Row], level: str) -> tuple[Interval | None, int, int, str]:
    """(rho interval or None, trained runs, under-trained runs, verdict) for one level."""
    return rank_agreement(rows, f"{PREDICTED}.{level}", f"{MEASURED}.{level}", f"{FLOOR}.{level}")


def rank_agreement(
    rows: Sequence[Row], predicted: str, measured: str, floor: str
) -> tuple[Interval | None, int, int, str]:
    """(rho interval or None, trained runs, under-trained runs, verdict): Spearman's rho
    over trained runs between the metric `predicted` and `measured` minus `floor`."""
    keys = (predicted, measured, floor)
    usable = [r for r in rows if all(r.get(k) is not None for k in keys)]
    under = [r for r in usable if under_trained(r.get(EXCESS))]
    trained = trained_rows(usable)
    if len(trained) < 3:
        why = f"untestable: {len(trained)} trained run(s)"
        return (
            None,
            len(trained),
            len(under),
            why + (f", {len(under)} under-trained" if under else ""),
        )
    predicted = [r[keys[0]] for r in trained]
    gain = [r[keys[1]] - r[keys[2]] for r in trained]
    if max(predicted) - min(predicted) < 1e-9:
        return None, len(trained), len(under), "untestable: the prediction does not vary"
    distinct = distinct_values(predicted)
    if distinct < MIN_DISTINCT:
        why = (f"untestable: the prediction takes {distinct} distinct values over the trained "
               f"runs; a rank statistic needs at least {MIN_DISTINCT}")  # fmt: skip
        return None, len(trained), len(under), why
    seeds = [r.get("seed", r["id"]) for r in trained]
    rho = spearman_interval(predicted, gain, seeds)
    if math.isnan(rho.low):
        return rho, len(trained), len(under), "untestable: one seed, so no interval"
    if rho.low > 0:
        outcome = "agrees"
    else:
        outcome = "disagrees (no positive rank agreement)"
    return rho, len(trained), len(under), outcome


def distinct_values(values: Sequence[float], tolerance: float = 1e-9) -> int:
    """How many distinct values `values` holds, those within `tolerance` of the last
    distinct one counted once (a quantity averaged over masks varies in its last digits)."""
    count, last = 0, None
    for v in sorted(values):
        if last is None or v - last > tolerance:
            count, last = count + 1, v
    return count
