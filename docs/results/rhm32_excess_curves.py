"""Normalised excess against the step for several synthetic runs, in one figure.

    .venv/bin/python docs/results/rhm32_excess_curves.py OUT.png LABEL=RUN_DIR ...

Reads each run's metrics.jsonl (the held-out measure of `run.eval_every`) and draws
(loss - Bayes) / (plateau - Bayes): 1 is the predict-the-mean plateau, 0 the Bayes loss,
0.25 the line a run must cross to count as trained. Prints the points it draws.
"""

import json
import sys
from pathlib import Path

from maeid.figures import plt, save_figure
from maeid.train.quality import TRAINED_EXCESS


def main() -> None:
    if len(sys.argv) < 3 or any("=" not in arg for arg in sys.argv[2:]):
        sys.exit(__doc__)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for arg in sys.argv[2:]:
        label, run = arg.rsplit("=", 1)  # a label may hold "=", a path not
        lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
        points = [e for e in map(json.loads, filter(None, lines)) if "normalised_excess" in e]
        steps = [e["step"] for e in points]
        excess = [e["normalised_excess"] for e in points]
        ax.plot(steps, excess, "o-", ms=3, label=label)
        print(label, " ".join(f"{s}:{x:.3f}" for s, x in zip(steps, excess)))
    ax.axhline(1.0, color="tab:red", ls="--", lw=1, label="predict the mean")
    ax.axhline(TRAINED_EXCESS, color="tab:green", ls=":", lw=1, label="trained")
    ax.set_ylim(0, 1.15)
    ax.set_xlabel("step")
    ax.set_ylabel("normalised excess")
    ax.legend(fontsize=7)
    save_figure(fig, sys.argv[1])


if __name__ == "__main__":
    main()
