"""The rules readout as a share of the gap it can close, and when that share is readable.

The class read through the root's rules from the level-1 probes
(`maeid.evaluate.symbols.class_through_rules`) reads 0.87-0.93 on rhm32 even from the
pixels and an untrained encoder, and a trained encoder's 0.99 beside a Bayes limit of 1
says little on its own. So it is reported as the share of the floor-to-Bayes gap it
closes, (acc_trained - acc_floor) / (acc_Bayes - acc_floor), the floor being the same
readout of the encoder at initialisation; and only where that gap is at least
`READABLE_SE` binomial standard errors of the floor's accuracy, sqrt(p (1 - p) / n_test):
below that the floor is within sampling noise of the limit and the share divides by noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

READABLE_SE = 5.0  # a floor-to-Bayes gap below this many standard errors is not read


@dataclass(frozen=True)
class RulesShare:
    share: float  # NaN where the floor is not below the Bayes limit
    gap_se: float  # (acc_Bayes - acc_floor) / sqrt(p (1 - p) / n_test), p = acc_floor
    readable: bool  # gap_se >= READABLE_SE


def rules_share(accuracy: float, floor: float, bayes: float, n_test: int) -> RulesShare:
    """The share of the floor-to-Bayes gap that `accuracy` closes, on `n_test` images."""
    for name, value in (("accuracy", accuracy), ("floor", floor), ("bayes", bayes)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} = {value}: an accuracy lies in [0, 1]")
    if n_test < 1:
        raise ValueError(f"n_test = {n_test}: the accuracies need at least one test image")
    gap = bayes - floor
    se = math.sqrt(floor * (1.0 - floor) / n_test)
    if se > 0:
        gap_se = gap / se
    else:  # a floor at 0 or 1 has no binomial spread: any gap above it is clear
        gap_se = math.inf if gap > 0 else 0.0
    share = (accuracy - floor) / gap if gap > 0 else math.nan
    return RulesShare(share, gap_se, gap > 0 and gap_se >= READABLE_SE)
