"""The one-command demo: theory, a small sweep, its measurements, and the report.

`maeid demo --out DIR` (what `make demo` runs) does, on a laptop CPU in a few minutes:

1. the theory profile of the reference model qt32 over masking ratio x unit: which
   latent levels a mask shares between its visible and masked parts (S) and which make
   up the minimal code c;
2. the sweep `configs/sweeps/demo.yaml`: a tiny MAE trained at 3 ratios x 2 units;
3. for each run, R² of every latent level from the encoder beside the theory's
   prediction for the same masks;
4. `DIR/report.md` with its figures, and the headline table printed at the end.

Rerunning it reuses what is finished (the sweep is idempotent).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from maeid.experiments.runner import SweepSummary, run_sweep
from maeid.experiments.sweep_spec import SweepSpec
from maeid.output_path import check_output_dir
from maeid.report import Report, build_report

THEORY_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
THEORY_UNITS = (4, 8, 16)


@dataclass(frozen=True)
class DemoResult:
    report: Report
    sweep: SweepSummary
    seconds: float


def demo_spec_path() -> Path:
    """`configs/sweeps/demo.yaml` of this checkout (the demo runs from a clone)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "configs" / "sweeps" / "demo.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "configs/sweeps/demo.yaml not found above "
        f"{here}; run the demo from a maeid checkout or pass --spec"
    )


def run_demo(
    out: str | Path, spec_path: str | Path | None = None, workers: int | None = None
) -> DemoResult:
    start = time.perf_counter()
    out = check_output_dir(out)
    spec = SweepSpec.from_yaml(spec_path or demo_spec_path())
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: need at least 1 worker process")
    points = len(spec.plan()[0])  # every point resolved and checked before anything is written
    if workers is not None and workers > max(points, 1):
        _say(f"--workers {workers}: the sweep has {points} point(s) to run, so {points} worker(s)")
        workers = max(points, 1)
    workers = workers or max(1, min(2, os.cpu_count() or 1, points))
    out.mkdir(parents=True, exist_ok=True)

    _say(f"[1/3] theory: which latents must an MAE recover on qt32? ({out / 'theory'})")
    theory_table = _theory(out / "theory")

    _say(f"[2/3] sweep '{spec.name}': {spec.size} trainings + measurements, {workers} at a time")
    summary = run_sweep(spec, out / "results.db", out_dir=out / "runs", workers=workers)

    _say("[3/3] report")
    report = build_report(
        out / "results.db", out, spec.name, [_theory_section(theory_table)], with_theory=False
    )
    return DemoResult(report, summary, time.perf_counter() - start)


def _theory(out: Path) -> str:
    from maeid.hlvm import load_model
    from maeid.theory import format_profile_table, theory_profile
    from maeid.theory.plot import plot_level_composition

    spec = load_model("qt32").spec
    profile = theory_profile(spec, THEORY_RATIOS, THEORY_UNITS, num_masks=2000, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    profile.save(out / "theory.json")
    plot_level_composition(profile, out / "theory_levels.png")
    table = format_profile_table(profile)
    print(table, flush=True)
    return table


def _theory_section(table: str) -> str:
    return (
        "## The theory: which latents a mask makes the MAE recover (qt32)\n\n"
        "For every masking ratio x unit, 2000 masks from the MAE's own sampler: how many "
        "units are masked, the code dimension d_c, the probability that c is the root "
        "alone (P(c⊆L0)), and the share of c's members at each latent level. Unit 16 px "
        "at ratio 0.75 gives c = the root (the paper's ideal mask); unit 4 px makes c "
        "low-level.\n\n"
        f"```\n{table}\n```\n\n![level composition of c](theory/theory_levels.png)"
    )


def _say(text: str) -> None:
    print(f"\n== {text}", file=sys.stderr, flush=True)


__all__ = ["DemoResult", "demo_spec_path", "run_demo"]
