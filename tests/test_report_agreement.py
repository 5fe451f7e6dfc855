"""The report's verdicts: training quality first, then rank agreement per level."""

from pathlib import Path

import numpy as np

from maeid.report.agreement import level_agreement
from maeid.report.registry import Page, get_section


def render(name: str, rows: list[dict]) -> str:
    return "\n\n".join(get_section(name).render(Page(rows, [], Path("unused"))))


def _rows(predicted, gain, seeds, excess=0.1):
    return [
        {
            "id": i,
            "seed": seed,
            "mask_ratio": 0.75,
            "mask_unit": 4,
            "identifiability.predicted.level_2": p,
            "identifiability.measured.level_2": 0.2 + g,
            "identifiability.untrained.level_2": 0.2,
            "train.normalised_excess": excess,
            "train.heldout_loss": 0.3,
            "train.bayes_loss": 0.2,
            "train.plateau_loss": 1.0,
        }
        for i, (p, g, seed) in enumerate(zip(predicted, gain, seeds, strict=True))
    ]


PRED = [0.2, 0.4, 0.6, 0.8] * 3
SEEDS = [0] * 4 + [1] * 4 + [2] * 4


def test_a_monotone_gain_agrees_and_a_reversed_one_disagrees():
    noise = np.random.default_rng(0).normal(0, 0.01, len(PRED))
    rho, trained, under, outcome = level_agreement(
        _rows(PRED, np.array(PRED) + noise, SEEDS), "level_2"
    )
    assert outcome == "agrees" and rho.low > 0.5 and trained == 12 and under == 0
    _, _, _, outcome = level_agreement(_rows(PRED, -np.array(PRED) + noise, SEEDS), "level_2")
    assert outcome.startswith("disagrees")


def test_under_trained_runs_are_not_held_against_the_theory():
    rows = _rows(PRED, PRED, SEEDS, excess=0.6)
    rho, trained, under, outcome = level_agreement(rows, "level_2")
    assert rho is None and trained == 0 and under == 12
    assert outcome == "untestable: 0 trained run(s), 12 under-trained"


def test_nothing_to_rank_or_one_seed_is_untestable():
    assert level_agreement(_rows([0.5] * 12, PRED, SEEDS), "level_2")[3].startswith("untestable")
    one_seed = _rows(PRED, PRED, [0] * 12)
    assert "one seed" in level_agreement(one_seed, "level_2")[3]
    # rho is known (+1) but has no interval: the table says so, with no NaN bounds
    assert "| level 2 | 12 | 0 | +1.00 (no interval) | untestable: one seed" in render(
        "agreement", one_seed
    )


def test_sections_say_which_runs_are_trained():
    rows = _rows(PRED, PRED, SEEDS)
    rows[0]["train.normalised_excess"] = 0.4
    table = render("training", rows)
    assert table.count("| under-trained |") == 1 and table.count("| trained |") == 11
    assert "| plateau | excess | |\n" in table  # the label column has no header
    assert "| level 2 | 11 | 1 |" in render("agreement", rows)
    assert render("training", [{"id": 1}]) == ""  # nothing measured: no section
