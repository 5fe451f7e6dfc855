"""`maeid demo`: the theory, a small sweep, its measurements and the report, end to end."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from maeid.demo import run_demo

DESCRIPTION = """\
The end-to-end demo, a few minutes on a 2-core CPU: the theory profile of the reference
synthetic model qt32 (which latent levels a mask of a given ratio and unit shares between
its visible and masked parts); a small sweep (configs/sweeps/demo.yaml: a tiny MAE at
3 masking ratios x 2 masking units); R² of every latent level from each trained encoder
beside the theory's prediction; and OUT/report.md with figures. Rerunning reuses
finished runs.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="end-to-end demo: theory, a small sweep, measurements, report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    p.add_argument("--spec", type=Path, help="another sweep YAML (default: the demo sweep)")
    p.add_argument("--workers", type=int, help="parallel trainings (default: min(2, cores))")
    p.set_defaults(func=run, on_interrupt=resume_hint)


def resume_hint(args: argparse.Namespace) -> str:
    return "finished runs are kept; to go on, run the same command again: maeid " + shlex.join(
        args.argv
    )


def run(args: argparse.Namespace) -> int:
    result = run_demo(args.out, args.spec, args.workers)
    counts = result.sweep.counts
    print(
        "\nR² per latent level of qt32 (level 0 is the root; higher levels are closer to the "
        "pixels):\npred = the theory's prediction for the run's masks, meas = the trained "
        "encoder on visible\ntokens, region = the same tokens read per latent region, limit = the "
        "most any feature of\nthe visible tokens can reach (exact), init = the same encoder "
        "before training (the floor).\n"
    )
    print(result.report.headline)
    if result.report.verdict:
        print("\n" + result.report.verdict)
    skipped = "".join(f"\nimpossible, skipped: {cell.describe()}" for cell in result.sweep.skipped)
    print(
        f"\n{counts['done']} run(s) done, {counts['failed']} failed; "
        f"{result.seconds:.0f} s in all.{skipped}\nReport: {result.report.path.resolve()}"
    )
    return 0 if counts["failed"] == 0 else 1
