"""The learning curve of a run on synthetic data: held-out loss against the Bayes loss.

`maeid train` writes it as `heldout.png` at the end of a run whose metrics carry the
held-out measure (`maeid.train.quality`); `plot_heldout(RUN/metrics.jsonl, PNG)` redraws
it for any run. Its title opens with the run's name and whether the final model is
trained (`maeid.train.run_label`), so the figure names its run wherever it is shown.
"""

from __future__ import annotations

import json
from pathlib import Path

from maeid.figures import plt, save_figure
from maeid.train.quality import TRAINED_EXCESS
from maeid.train.run_label import run_name, training_label


def plot_heldout(
    metrics_path: str | Path, path: str | Path, title: str = "", name: str | None = None
) -> Path | None:
    """Held-out masked loss per step beside its Bayes loss, plateau and the 'trained'
    threshold; None when the log holds no held-out measure. The title (default: the
    final excess) goes under the run's label; `name` defaults to the run folder that
    holds the log."""
    entries = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line]
    points = [e for e in entries if "heldout_loss" in e]
    if not points:
        return None
    bayes, plateau = points[-1]["bayes_loss"], points[-1]["plateau_loss"]
    steps = [e["step"] for e in points]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(steps, [e["heldout_loss"] for e in points], "o-", ms=3, label="held-out masked loss")
    train = [e for e in entries if "loss_avg" in e]
    ax.plot([e["step"] for e in train], [e["loss_avg"] for e in train], color="0.7", lw=0.8,
            label="training loss (running mean)")  # fmt: skip
    ax.axhline(plateau, color="tab:red", ls="--", lw=1, label=f"predict the mean ({plateau:.3f})")
    ax.axhline(bayes, color="tab:green", ls="--", lw=1, label=f"Bayes-optimal ({bayes:.3f})")
    trained = bayes + TRAINED_EXCESS * (plateau - bayes)
    ax.axhline(trained, color="tab:green", ls=":", lw=1,
               label=f"trained: excess {TRAINED_EXCESS} ({trained:.3f})")  # fmt: skip
    ax.set_ylim(0, max(1.2 * plateau, bayes + 0.1))
    ax.set_xlim(0, steps[-1])
    ax.set_xlabel("step")
    ax.set_ylabel("masked MSE (standardised pixels)")
    final = points[-1]["normalised_excess"]
    label = training_label(run_name(Path(metrics_path).parent) if name is None else name, final)
    detail = title or f"normalised excess at step {steps[-1]}: {final:.3f}"
    ax.set_title(f"{label}\n{detail}", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)
