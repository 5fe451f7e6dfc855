"""Whether one mask's measured R² agrees with the theory.

- *untestable* when S(m) is empty (nothing crosses the mask: there is nothing to recover);
- *agrees* when every latent in S(m) reaches R² >= 0.9 and no latent outside S(m)
  exceeds its exact limit by more than 0.05 plus the 95 % bootstrap half-width of its
  measured R²;
- *disagrees* otherwise, and whenever an R² is NaN. One latent is enough: a good mean
  over S(m) does not hide a latent that was not recovered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_R2_IN_S = 0.9  # every latent of S(m), not their mean
MAX_EXCESS_OUTSIDE_S = 0.05  # over the exact limit, beyond the bootstrap half-width


def verdict(rows: Sequence[dict[str, object]]) -> tuple[str, list[str]]:
    """("agrees" | "disagrees" | "untestable", reasons) for one mask's rows (module doc)."""
    if not any(r["in_S"] for r in rows):
        return "untestable", ["S(m) is empty: nothing crosses the mask, nothing to recover"]
    reasons = []
    for r in rows:
        measured = r["measured"]
        if not isinstance(measured, (int, float)) or not math.isfinite(measured):
            reasons.append(f"{r['latent']}: R² is {measured}, not a number")
        elif r["in_S"] and measured < MIN_R2_IN_S:
            reasons.append(f"{r['latent']} in S(m): R² {measured:.3f} < {MIN_R2_IN_S}")
        elif not r["in_S"]:
            bound = r["limit"] + MAX_EXCESS_OUTSIDE_S + (r.get("measured_halfwidth") or 0.0)
            if not measured <= bound:
                reasons.append(
                    f"{r['latent']} outside S(m): R² {measured:.3f} above its exact limit "
                    f"{r['limit']:.3f} by more than {bound - r['limit']:.3f}"
                )
    return ("disagrees" if reasons else "agrees"), reasons
