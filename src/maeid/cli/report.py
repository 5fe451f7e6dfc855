"""`maeid report`: turn a results database into report.md and PNG figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from maeid.report import build_report

DESCRIPTION = """\
Write a Markdown report with PNG figures from a results database (`maeid sweep --db`):
predicted vs measured R² per latent level over ratio x unit (synthetic sweeps); linear
probe, kNN and robustness accuracy against ratio and unit beside the paper's Table 1
trends (real-image sweeps); reconstruction metrics against ratio (the paper's Fig. 5),
beside the predict-the-mean and (synthetic data) Bayes levels; per run, the figures the
sweep's evaluations made (attention maps, reconstructions, t-SNE for labelled data). A
synthetic sweep's report opens with the theory's profile of its model over the sweep's
ratios and units. An rhm32 sweep (`evaluate: symbols`) gets probe accuracy per level of the
grammar beside floors and Bayes limits, the theory's d_c, share of c and P(level in S) per
cell, Spearman's rho between each of these and the probe's gain over its floor per level,
and class accuracy against the ratio beside
the paper's Table 1. Sections without data say so.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="Markdown + PNG report of a results database",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("db", type=Path, help="results database written by `maeid sweep`")
    p.add_argument(
        "--out",
        type=Path,
        help="output folder (default: DB_DIR/DB_STEM-report, e.g. "
        "runs/qt32-report for runs/qt32.db)",
    )
    p.add_argument("--sweep", help="only this sweep's runs (default: every run in the DB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = build_report(args.db, args.out, args.sweep)
    print(report.headline)
    print(f"\nreport: {report.path} ({len(report.figures)} figure(s))")
    return 0
