"""Tables, JSON and plots of the formal regime's results (`maeid identify`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from maeid.evaluate.artifacts import write_json
from maeid.evaluate.intervals import Interval, mean_interval
from maeid.figures import plt, save_figure
from maeid.formal.result import MaskResult
from maeid.formal.verdict import MAX_EXCESS_OUTSIDE_S, MIN_R2_IN_S
from maeid.hlvm.spec import GraphSpec


def identify_rows(results: Sequence[MaskResult]) -> list[dict[str, object]]:
    """The content of identify.json: one object per (mask, latent)."""
    return [row for r in results for row in r.rows]


def write_identify(
    out_dir: str | Path, spec: GraphSpec, results: Sequence[MaskResult], settings: dict
) -> list[Path]:
    """identify.json (rows), masks.json (per-run summaries, the per-setting aggregate over
    masks and seeds, and the settings), identify.png."""
    out = Path(out_dir)
    paths = [
        write_json(out / "identify.json", identify_rows(results)),
        write_json(
            out / "masks.json",
            {
                "model": spec.meta.get("name"),
                "settings": settings,
                "masks": [r.summary(spec) for r in results],
                "aggregate": aggregate_settings(spec, results),
            },
        ),  # fmt: skip
        # Panels for the first seed's masks: one figure stays readable for many seeds.
        plot_identify([r for r in results if r.seed == results[0].seed], out / "identify.png"),
    ]
    return paths


def format_identify_table(spec: GraphSpec, results: Sequence[MaskResult]) -> str:
    """Per mask: the theory, the training, then measured beside the exact limit (and the
    regressor's own reference) for every latent, and the verdict."""
    lines = []
    for r in results:
        s = r.summary(spec)
        how = f"ratio {s['ratio']:g}, unit {s['unit']} px" if s["ratio"] is not None else "named"
        lines += [
            f"mask {s['mask']} ({how}), seed {s['seed']}: {len(s['masked'])} of "
            f"{len(spec.observed)} observed nodes masked; |S| = {len(s['shared'])}, "
            f"c = {_short(s['identified'])}, d_c = {s['code_dim']}; trained {s['steps']} steps "
            f"in {s['seconds']:.0f} s, final loss {_fmt(s['final_loss'])}",
            f"  {'latent':<12} {'level':>5} {'in S':>5} {'limit':>13} {'reg. ref':>8} "
            f"{'measured':>15} {'linear':>7} {'excess':>7}",
        ]
        for row in sorted(r.rows, key=lambda row: (row["level"], row["latent"])):
            excess = row["measured"] - row["limit"]
            bound = MAX_EXCESS_OUTSIDE_S + row["measured_halfwidth"]
            flag = ""
            if row["in_S"] and not row["measured"] >= MIN_R2_IN_S:
                flag = "  <-- not recovered"
            elif not row["in_S"] and not excess <= bound:
                flag = "  <-- above its limit"
            limit = f"{row['limit']:.3f} ± {2 * row['limit_se']:.3f}"
            measured = f"{row['measured']:.3f} ± {row['measured_halfwidth']:.3f}"
            lines.append(
                f"  {row['latent']:<12} {row['level']:>5} {'yes' if row['in_S'] else 'no':>5} "
                f"{limit:>13} {row['regressor_ref']:>8.3f} {measured:>15} "
                f"{row['measured_linear']:>7.3f} {excess:>+7.3f}{flag}"
            )
        m, check = s["measured"], s["check"]
        lines.append(
            f"  R² over S: mean {_fmt(m['in_S'])}, worst {_fmt(s['worst_in_S'])} (theory: 1); "
            f"outside S: measured {_fmt(m['outside_S'])}, exact limit "
            f"{_fmt(s['predicted_outside_S'])}, regressor's reference "
            f"{_fmt(s['regressor_ref_outside_S'])}; largest excess over a limit "
            f"{_fmt(s['max_excess_outside_S'], '+.3f')}; MCC code vs c {_fmt(s['mcc_code_vs_c'])}"
        )
        lines.append(f"  verdict: {check['verdict']}" + "".join(
            f"\n    - {reason}" for reason in check["reasons"]))  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def aggregate_settings(spec: GraphSpec, results: Sequence[MaskResult]) -> list[dict[str, object]]:
    """One row per mask setting (ratio, unit; or each named mask) over its masks and seeds:
    means with 95 % intervals of the mean R² over S, the worst latent in S and the largest
    excess over an exact limit, and how many runs agree with the theory."""
    groups: dict[str, list[dict[str, object]]] = {}
    for r in results:
        s = r.summary(spec)
        key = (f"ratio {s['ratio']:g}, unit {s['unit']}" if s["ratio"] is not None
               else f"named mask {s['mask']}")  # fmt: skip
        groups.setdefault(key, []).append(s)
    rows = []
    for key, runs in groups.items():
        verdicts = [run["check"]["verdict"] for run in runs]
        rows.append(
            {
                "setting": key,
                "runs": len(runs),
                "seeds": sorted({run["seed"] for run in runs}),
                "masks": len({run["mask"] for run in runs}),
                "steps": sorted({run["steps"] for run in runs}),
                "code_dim": mean_interval([run["code_dim"] for run in runs]).as_dict(),
                "mean_in_S": mean_interval([run["measured"]["in_S"] for run in runs]).as_dict(),
                "worst_in_S": mean_interval([run["worst_in_S"] for run in runs]).as_dict(),
                "worst_in_S_overall": min(
                    (run["worst_in_S"] for run in runs if run["worst_in_S"] is not None),
                    default=None,
                ),
                "max_excess": mean_interval(
                    [run["max_excess_outside_S"] for run in runs]
                ).as_dict(),
                "agrees": verdicts.count("agrees"),
                "disagrees": verdicts.count("disagrees"),
                "untestable": verdicts.count("untestable"),
            }
        )
    return rows


def format_settings_table(rows: Sequence[dict[str, object]]) -> str:
    """The aggregate as a Markdown table (mean ± 95 % half-width over masks x seeds)."""

    def cell(d: dict) -> str:
        return str(Interval(d["value"], d["low"], d["high"], d["n"]))

    lines = [
        "| setting | runs (masks x seeds) | d_c | mean R² over S | worst latent in S | "
        "largest excess over the exact limit | verdicts |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        verdicts = f"{row['agrees']} agree, {row['disagrees']} disagree"
        if row["untestable"]:
            verdicts += f", {row['untestable']} untestable"
        lines.append(
            f"| {row['setting']} | {row['runs']} ({row['masks']} x {len(row['seeds'])}) | "
            f"{row['code_dim']['value']:.1f} | {cell(row['mean_in_S'])} | "
            f"{cell(row['worst_in_S'])} (min {_fmt(row['worst_in_S_overall'])}) | "
            f"{cell(row['max_excess'])} | {verdicts} |"
        )
    return "\n".join(lines)


def plot_identify(results: Sequence[MaskResult], path: str | Path) -> Path:
    """Measured versus predicted R², one panel per mask; colour = level, marker = in S."""
    cols = min(3, len(results))
    rows = int(np.ceil(len(results) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    levels = sorted({row["level"] for r in results for row in r.rows})
    colour = {lvl: cmap(i / max(1, len(levels) - 1)) for i, lvl in enumerate(levels)}
    for ax, r in zip(axes.flat, results, strict=False):  # one panel per mask and seed
        lo = min(0.0, *(row["measured"] for row in r.rows), *(row["predicted"] for row in r.rows))
        ax.plot([lo, 1], [lo, 1], color="0.6", lw=1, label="measured = predicted")
        ax.plot([lo, 1], [lo + 0.05, 1.05], color="0.6", lw=1, ls="--", label="+0.05")
        for lvl in levels:
            for in_s, marker in ((True, "o"), (False, "x")):
                pts = [row for row in r.rows if row["level"] == lvl and row["in_S"] == in_s]
                if pts:
                    ax.scatter([p["predicted"] for p in pts], [p["measured"] for p in pts],
                               color=colour[lvl], marker=marker, s=28,
                               label=f"level {lvl}, {'in' if in_s else 'outside'} S")  # fmt: skip
        how = (f"ratio {r.mask.ratio:g}, unit {r.mask.unit}" if r.mask.ratio is not None
               else "named mask")  # fmt: skip
        ax.set_title(f"mask {r.mask.id}, seed {r.seed}: {how}, d_c = {r.theory.code_dim}",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel("predicted R² (1 in S, else the exact limit)")
        ax.set_ylabel("measured R² (code -> latent)")
        ax.set_xlim(lo - 0.02, 1.05)
        ax.set_ylim(lo - 0.02, 1.08)
    for ax in axes.flat[len(results) :]:
        ax.axis("off")
    handles = {}
    for ax in axes.flat[: len(results)]:  # one legend for all panels, each entry once
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes.flat[0].legend(handles.values(), handles.keys(), fontsize=6, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def _short(names: Sequence[str], limit: int = 6) -> str:
    names = list(names)
    body = ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
    return "{" + body + "}"


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)
