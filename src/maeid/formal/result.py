"""What one fixed mask and seed gave: the theory, the training, one row per latent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maeid.evaluate.identifiability import summarise_r2
from maeid.formal.masks import FixedMask
from maeid.formal.verdict import MAX_EXCESS_OUTSIDE_S, MIN_R2_IN_S, verdict
from maeid.hlvm.spec import GraphSpec
from maeid.theory.identification import Identification


@dataclass
class MaskResult:
    """What one fixed mask gave: the theory, the training, and one row per latent."""

    mask: FixedMask
    theory: Identification
    steps: int
    seconds: float
    final_loss: float | None
    rows: list[dict[str, object]]
    mcc: float | None = None  # code vs c(m), when their dimensions agree
    seed: int = 0

    def summary(self, spec: GraphSpec) -> dict[str, object]:
        measured = {r["latent"]: r["measured"] for r in self.rows}
        summary = summarise_r2(spec, measured, self.theory.shared)
        inside = [r["measured"] for r in self.rows if r["in_S"]]
        outside = [r for r in self.rows if not r["in_S"]]
        excess = max((r["measured"] - r["limit"] for r in outside), default=None)
        ref_excess = max((r["measured"] - r["regressor_ref"] for r in outside), default=None)
        outcome, reasons = verdict(self.rows)
        return {
            "mask": self.mask.id,
            "seed": self.seed,
            "masked": sorted(self.mask.masked),
            "ratio": self.mask.ratio,
            "unit": self.mask.unit,
            "shared": sorted(self.theory.shared),
            "identified": sorted(self.theory.identified),
            "code_dim": self.theory.code_dim,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
            "final_loss": self.final_loss,
            "mcc_code_vs_c": self.mcc,
            "measured": summary,
            "worst_in_S": min(inside) if inside else None,
            "predicted_outside_S": _mean([r["limit"] for r in outside]),
            "regressor_ref_outside_S": _mean([r["regressor_ref"] for r in outside]),
            "max_excess_outside_S": excess,
            "max_excess_over_regressor_ref": ref_excess,
            "check": {
                "every_in_S_at_least": MIN_R2_IN_S,
                "max_excess_at_most": f"{MAX_EXCESS_OUTSIDE_S} + 95% half-width",
                "verdict": outcome,
                "reasons": reasons,
                "passed": outcome == "agrees",
            },
        }


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None
