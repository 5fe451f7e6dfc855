"""Tables, JSON and plots of the formal regime's results (`maeid identify`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from maeid.evaluate.artifacts import plt, save_figure, write_json
from maeid.evaluate.formal import MaskResult
from maeid.hlvm.spec import GraphSpec


def identify_rows(results: Sequence[MaskResult]) -> list[dict[str, object]]:
    """The content of identify.json: one object per (mask, latent)."""
    return [row for r in results for row in r.rows]


def write_identify(
    out_dir: str | Path, spec: GraphSpec, results: Sequence[MaskResult], settings: dict
) -> list[Path]:
    """identify.json (rows), masks.json (per-mask summary and settings), identify.png."""
    out = Path(out_dir)
    paths = [
        write_json(out / "identify.json", identify_rows(results)),
        write_json(
            out / "masks.json",
            {
                "model": spec.meta.get("name"),
                "settings": settings,
                "masks": [r.summary(spec) for r in results],
            },
        ),  # fmt: skip
        plot_identify(results, out / "identify.png"),
    ]
    return paths


def format_identify_table(spec: GraphSpec, results: Sequence[MaskResult]) -> str:
    """Per mask: the theory, the training, then measured beside predicted for every latent."""
    lines = []
    for r in results:
        s = r.summary(spec)
        how = f"ratio {s['ratio']:g}, unit {s['unit']} px" if s["ratio"] is not None else "named"
        lines += [
            f"mask {s['mask']} ({how}): {len(s['masked'])} of {len(spec.observed)} observed "
            f"nodes masked; |S| = {len(s['shared'])}, c = {_short(s['identified'])}, "
            f"d_c = {s['code_dim']}; trained {s['steps']} steps in {s['seconds']:.0f} s, "
            f"final loss {_fmt(s['final_loss'])}",
            f"  {'latent':<12} {'level':>5} {'in S':>5} {'predicted':>9} {'measured':>9} "
            f"{'linear':>7} {'excess':>7}",
        ]
        for row in sorted(r.rows, key=lambda row: (row["level"], row["latent"])):
            excess = row["measured"] - row["predicted"]
            flag = "  <-- above ceiling" if not row["in_S"] and excess > 0.05 else ""
            lines.append(
                f"  {row['latent']:<12} {row['level']:>5} {'yes' if row['in_S'] else 'no':>5} "
                f"{row['predicted']:>9.3f} {row['measured']:>9.3f} "
                f"{row['measured_linear']:>7.3f} {excess:>+7.3f}{flag}"
            )
        m = s["measured"]
        lines.append(
            f"  mean R² over S: {_fmt(m['in_S'])} (theory: 1); outside S: measured "
            f"{_fmt(m['outside_S'])}, ceiling {_fmt(s['predicted_outside_S'])}; largest excess "
            f"over a ceiling {_fmt(s['max_excess_outside_S'], '+.3f')}; MCC code vs c "
            f"{_fmt(s['mcc_code_vs_c'])}; check (S >= 0.9, excess <= 0.05): "
            f"{'passed' if s['check']['passed'] else 'FAILED'}"
        )
        lines.append("")
    return "\n".join(lines)


def plot_identify(results: Sequence[MaskResult], path: str | Path) -> Path:
    """Measured versus predicted R², one panel per mask; colour = level, marker = in S."""
    cols = min(3, len(results))
    rows = int(np.ceil(len(results) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    levels = sorted({row["level"] for r in results for row in r.rows})
    colour = {lvl: cmap(i / max(1, len(levels) - 1)) for i, lvl in enumerate(levels)}
    for ax, r in zip(axes.flat, results, strict=False):
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
        ax.set_title(f"mask {r.mask.id}: {how}, d_c = {r.theory.code_dim}", fontsize=9)
        ax.set_xlabel("predicted R² (1 in S, else ceiling)")
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
