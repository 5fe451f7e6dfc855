"""A theory profile as a plain-text table, one row per (ratio, unit).

Shared by `maeid theory` and the demo's report, so both print the same table.
"""

from __future__ import annotations

from maeid.theory.profile import TheoryProfile


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
