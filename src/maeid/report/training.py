"""Training quality per run: how far each model is from the exact Bayes loss.

The first step of holding a sweep against the theory: each run's held-out masked loss
against the Bayes loss of its mask sampler, as the normalised excess
(`maeid.train.quality`); a run above `TRAINED_EXCESS` is under-trained, and every other
section leaves it out of its comparisons (`maeid.report.cells.trained_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence

from maeid.report.cells import EXCESS, Row
from maeid.report.registry import Page, section
from maeid.report.table import Table
from maeid.train.quality import TRAINED_EXCESS, under_trained

HELDOUT, BAYES, PLATEAU = "train.heldout_loss", "train.bayes_loss", "train.plateau_loss"


def training_verdict(rows: Sequence[Row]) -> str:
    """How many runs are trained, and the range of their excess (empty if unmeasured)."""
    excess = sorted(r[EXCESS] for r in rows if r.get(EXCESS) is not None)
    if not excess:
        return ""
    trained = sum(not under_trained(e) for e in excess)
    return (
        f"{trained} of {len(excess)} run(s) trained (normalised excess over the Bayes "
        f"loss <= {TRAINED_EXCESS}; measured {excess[0]:.2f} to {excess[-1]:.2f})."
    )


@section("training", reads=(EXCESS, HELDOUT, BAYES, PLATEAU), verdict=training_verdict)
def training_section(page: Page) -> list[str]:
    """Per run: held-out loss, Bayes loss, plateau, normalised excess and the label."""
    measured = [r for r in page.rows if r.get(EXCESS) is not None]
    if not measured:
        return []
    table = Table("run", "ratio", "unit", "seed", "held-out loss", "Bayes loss", "plateau",
                  "excess", "")  # fmt: skip
    for r in sorted(measured, key=lambda r: (r.get("mask_ratio", 0), r.get("mask_unit", 0))):
        label = "under-trained" if under_trained(r[EXCESS]) else "trained"
        table.add(r["id"], r.get("mask_ratio", "–"), r.get("mask_unit", "–"), r.get("seed", "–"),
                  f"{r[HELDOUT]:.3f}", f"{r[BAYES]:.3f}", f"{r[PLATEAU]:.3f}",
                  f"{r[EXCESS]:.3f}", label)  # fmt: skip
    return [
        "\n".join(
            [
                "## Training quality: distance to the Bayes loss",
                "",
                "Held-out masked loss of each trained model beside the exact Bayes-optimal loss "
                "of the same mask sampler and the loss of predicting the mean (the plateau), as "
                "the normalised excess (loss - Bayes) / (plateau - Bayes): 0 is Bayes-optimal, 1 "
                f"is the plateau. A run above {TRAINED_EXCESS} is under-trained and is not held "
                "against the theory.",
                "",
                *table.lines(),
            ]
        )  # fmt: skip
    ]
