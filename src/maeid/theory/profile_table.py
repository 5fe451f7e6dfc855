"""A theory profile as a plain-text table, one row per (ratio, unit).

Shared by `maeid theory` and the demo's report, so both print the same table.
`format_information_table` prints the information per level of the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from maeid.theory.profile import TheoryProfile

if TYPE_CHECKING:  # information pulls in belief propagation, which maeid.theory loads on demand
    from maeid.theory.information import LevelInformation


def format_profile_table(profile: TheoryProfile) -> str:
    """One row per (ratio, unit): masked units, d_c, P(c = roots only), c's level shares."""
    lv = profile.levels
    unit = "unit px" if profile.patch_size else "unit"
    head = (
        f"{'ratio':>5} {unit:>7} {'masked':>8} {'d_c mean':>8} {'[5%, 95%]':>11} "
        f"{'P(c⊆L' + str(lv[0]) + ')':>8}  share of c by level: "
        + " ".join(f"{'L' + str(level):>5}" for level in lv)
    )
    lines = [
        f"model {profile.model}, patch {profile.patch_size or '-'}, {profile.num_masks} masks "
        f"per cell, seed {profile.seed}",
        head,
    ]
    for c in profile.cells:
        start = f"{c.ratio:>5g} {c.unit:>7d}"
        if not c.valid:
            lines.append(f"{start}  invalid: {c.reason}")
            continue
        q = c.code_dim["quantiles"]
        spread = f"[{q['0.05']:.0f}, {q['0.95']:.0f}]"
        lines.append(
            f"{start} {f'{c.num_masked_units}/{c.num_units}':>8} {c.code_dim['mean']:>8.1f} "
            f"{spread:>11} {c.p_c_within_level[0]:>8.3f}  {'':>20} "
            + " ".join(f"{s:>5.2f}" for s in c.c_level_share)
        )
    return "\n".join(lines)


def format_information_table(
    profile: TheoryProfile, information: Sequence[LevelInformation | None]
) -> str:
    """One row per (ratio, unit): Bayes and plateau, and per level l the value V_l and its
    share of plateau - Bayes, each ± its standard error (see `maeid.theory.information`)."""
    valid = [info for info in information if info is not None]
    levels = valid[0].levels if valid else []
    unit = "unit px" if profile.patch_size else "unit"
    images = sorted({info.num_images for info in valid})
    head = f"{'ratio':>5} {unit:>7} {'Bayes':>13} {'plateau':>13}  " + "  ".join(
        f"{f'V_{lv} ± se':>13} {'share ± se':>13}" for lv in levels
    )
    lines = [
        "information per level: V_l = L_(l+1) - L_l, the rise of the Bayes masked MSE "
        "(share of pixel variance) when the evidence may not pass through level l; "
        f"share = V_l / (plateau - Bayes); {', '.join(map(str, images)) or '-'} images per cell",
        head,
    ]
    for cell, info in zip(profile.cells, information, strict=True):
        start = f"{cell.ratio:>5g} {cell.unit:>7d}"
        if info is None:
            lines.append(f"{start}  impossible: {cell.reason}")
            continue
        ends = f"{_pm(info.bayes.value, info.bayes.se)} {_pm(info.plateau.value, info.plateau.se)}"
        per_level = "  ".join(
            f"{_pm(info.value[lv], info.se[lv])} {_pm(info.share[lv], info.share_se[lv])}"
            for lv in levels
        )
        lines.append(f"{start} {ends}  {per_level}")
    return "\n".join(lines)


def _pm(value: float, se: float) -> str:
    return f"{f'{value:.3f} ± {se:.3f}':>13}"
