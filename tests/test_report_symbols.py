"""The rhm32 report from a hand-made database whose numbers, and so whose rhos, are known.

Two units x three ratios x seeds 0-2, all trained, plus an under-trained fourth seed in
one cell and a grid cell whose only run failed. Values are dyadic, so gains are exact and
tie exactly across seeds, which fixes every Spearman rho:

- level 0: gain 1/8, 2/8, 3/8 over ratios 0.25, 0.5, 0.75; d_c 10, 20, 15 bits: ranks
  (1, 2, 3) against (1, 3, 2), rho = 1 - 6 * 2 / (3 * 8) = 0.5 in every resample;
  P(level 0 in S) = 1 everywhere: nothing to rank;
- level 1: P(in S) = the ratio, the gain too: rho = +1; c share = 1 - ratio: rho = -1;
- level 2: P(in S) = the ratio, the gain falls with it: rho = -1.
"""

from __future__ import annotations

import pytest

from maeid.cli import main
from maeid.experiments.config_hash import config_hash
from maeid.experiments.results_db import ResultsDB
from maeid.report import build_report
from maeid.report.registry import Page, keys_read, undeclared_reads
from maeid.report.symbols import agreement_section, level_verdict, symbol_levels
from maeid.report.symbols_rules import rules_section

RATIOS, UNITS = (0.25, 0.5, 0.75), (4, 8)
GAIN = {0: {0.25: 0.125, 0.5: 0.25, 0.75: 0.375}}
D_C = {0.25: 10.0, 0.5: 20.0, 0.75: 15.0}


def symbol_metrics(ratio: float, seed: int) -> dict:
    floor = 0.25 + 0.03125 * seed  # seeds differ, gains do not
    gains = {0: GAIN[0][ratio], 1: ratio / 4, 2: 0.25 - ratio / 4}
    probe = {f"level_{lv}": floor + g for lv, g in gains.items()}
    same = {f"level_{lv}": floor for lv in gains}
    return {
        "probe_full": probe,
        "untrained_probe_full": same,
        "pixels_probe_full": {f"level_{lv}": 0.1875 for lv in gains},
        "knn_full": probe,
        "bayes_full": {f"level_{lv}": 1.0 for lv in gains},
        "probe_visible": {k: v - 0.0625 for k, v in probe.items()},
        "untrained_probe_visible": {k: v - 0.0625 for k, v in same.items()},
        "bayes_visible": {f"level_{lv}": 1.0 - ratio / 2 for lv in gains},
        "chance": {"level_0": 0.125, "level_1": 0.125, "level_2": 0.125},
        "d_c_bits": D_C[ratio],
        "c_share": {"level_0": 0.0, "level_1": 1.0 - ratio, "level_2": ratio},
        "p_in_S": {"level_0": 1.0, "level_1": ratio, "level_2": ratio},
    }


def add(db, tmp_path, ratio, unit, seed, evaluate=None):
    params = {"mask_ratio": ratio, "mask_unit": unit, "seed": seed}
    cfg = {"train": params, "evaluate": evaluate or {"symbols": {"pool": "mean"}}}
    db.add_run(sweep="rhm", config_hash=config_hash(cfg), config=cfg, params=params,
               run_dir=tmp_path / f"r{ratio}-{unit}-{seed}")  # fmt: skip
    return db.claim_next("rhm")


def fill(db_path, tmp_path) -> None:
    with ResultsDB(db_path) as db:
        for ratio in RATIOS:
            for unit in UNITS:
                for seed in (0, 1, 2):
                    claim = add(db, tmp_path, ratio, unit, seed)
                    db.finish(claim, {"symbols": symbol_metrics(ratio, seed),
                                      "train": quality(0.125)}, {})  # fmt: skip
        claim = add(db, tmp_path, 0.75, 8, 3)  # under-trained: shown, flagged, not ranked
        db.finish(claim, {"symbols": symbol_metrics(0.75, 3), "train": quality(0.625)}, {})
        claim = add(db, tmp_path, 0.9, 8, 0)  # the cell's only run failed
        db.fail(claim, "Traceback ...\nRuntimeError: loss is nan at step 7")
        # A run that never asked for symbols is not a missing cell of this section.
        claim = add(db, tmp_path, 0.9, 4, 0, evaluate={"reconstruction": {}})
        db.fail(claim, "Traceback ...\nRuntimeError: out of memory")


def quality(excess: float) -> dict:
    return {"heldout_loss": 0.5 + excess * 0.5, "bayes_loss": 0.5, "plateau_loss": 1.0,
            "normalised_excess": excess}  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rhm_report")
    fill(tmp / "r.db", tmp)
    with ResultsDB(tmp / "r.db") as db:
        rows = db.metric_table("rhm")
    return build_report(tmp / "r.db", tmp / "out", sweep="rhm"), rows


def test_rhos_are_the_hand_computed_ones(report):
    _, rows = report
    assert symbol_levels(rows) == ["level_0", "level_1", "level_2"]
    rho, trained, under, outcome = level_verdict(rows, "level_0", "full", "d_c_bits")
    assert (trained, under) == (18, 1)
    assert rho.value == pytest.approx(0.5) and rho.low == pytest.approx(0.5)
    assert outcome == "agrees"
    assert level_verdict(rows, "level_0", "full", "p_in_S")[3] == (
        "untestable: the prediction does not vary"
    )
    rho, *_, outcome = level_verdict(rows, "level_1", "full", "p_in_S")
    assert rho.value == pytest.approx(1.0) and outcome == "agrees"
    rho, *_, outcome = level_verdict(rows, "level_1", "full", "c_share")
    assert rho.value == pytest.approx(-1.0) and outcome.startswith("disagrees")
    assert level_verdict(rows, "level_2", "visible", "p_in_S")[3].startswith("disagrees")
    # Within one unit the same ranks hold; the under-trained run is left out there too.
    unit8 = [r for r in rows if r["mask_unit"] == 8]
    rho, trained, under, _ = level_verdict(unit8, "level_0", "full", "d_c_bits")
    assert rho.value == pytest.approx(0.5) and (trained, under) == (9, 1)


def test_the_report_holds_every_section_and_number(report):
    result, _ = report
    text = result.path.read_text()
    for title in (
        "## Training quality: distance to the Bayes loss",
        "## Symbols per level: what a linear probe reads of the grammar",
        "## The theory's profile of the same cells",
        "## Does the measurement follow the theory? (per level)",
        "### Which theory quantity tracks the measured curve",
        "### Verdict per level",
        "## Class accuracy against the masking ratio, beside the paper's Table 1",
    ):
        assert title in text, title
    assert (result.path.parent / "symbol_heatmaps.png").is_file()
    assert (result.path.parent / "class_vs_ratio.png").is_file()
    assert text.count("| under-trained |") == 1  # the fourth seed at 0.75 / 8
    assert "without a finished run (blank in the heat maps): ratio 0.9 unit 8 (failed)." in text
    # Level 0 at 0.25 / unit 4: floors 0.25, 0.28125, 0.3125 plus 1/8, t(0.975, 2) * sd / sqrt 3.
    assert "| 0.25 | 4 | 0 | 3/3 | 0.406 ± 0.078 | 0.281 ± 0.078 | 0.188 ± 0.000 |" in text
    assert "pixels, full" in text and "pixels, visible" not in text  # only what was measured
    assert "| 0.75 | 8 | 0 | 3/4 |" in text
    assert "| 0.25 | 4 | 10.0 | 0.000 | 0.750 | 0.250 | 1.000 | 0.250 | 0.250 |" in text
    assert "| level 0 (class) | d_c (bits) | 18 | 1 | +0.50 [+0.50, +0.50] | agrees |" in text
    assert "- level 1, full image: across all cells d_c (bits), P(level in S);" in text
    assert "- level 0 (class): untestable: the prediction does not vary" in text
    assert "- level 2: disagrees" in text
    # Class accuracy beside Table 1: ours in %, the paper's row at 0.75, the peaks.
    assert "| 0.75 | 67.4 | 65.6 ± 7.8 |" in text
    assert "| 0.1 | 47.5 | – | – |" in text
    assert "Peak ratio: unit 4: 0.75; unit 8: 0.75 (paper: 0.75)." in text


def test_every_metric_an_rhm32_section_reads_is_declared(report, tmp_path):
    result, rows = report
    with ResultsDB(result.path.parent.parent / "r.db", read_only=True) as db:
        runs = db.runs("rhm")
    rows = [{**r, "symbols.rules_full.level_0": 0.5} for r in rows]  # the rules section too
    page = Page(rows, runs, tmp_path)
    for name in ("symbols", "symbols_rules", "class_accuracy", "training"):
        assert undeclared_reads(name, page) == [], name
    assert {"symbols.probe_full.level_2", "symbols.d_c_bits"} <= keys_read("symbols", page)


def test_headline_and_verdict_lead_with_symbols(report, capsys):
    result, _ = report
    lines = result.headline.splitlines()
    assert lines[0] == (
        "| ratio | unit | trained runs | L0 probe / floor | L1 probe / floor | L2 probe / floor |"
    )
    assert "| 0.25 | 4 | 3/3 | 0.406 / 0.281 | 0.344 / 0.281 | 0.469 / 0.281 |" in lines
    assert len(lines) == 2 + 6  # six measured cells; the failed one has no row
    assert "18 of 19 run(s) trained" in result.verdict
    assert "symbols, level 1: agrees" in result.verdict


def test_report_cli_prints_the_symbols_headline(tmp_path, capsys):
    fill(tmp_path / "r.db", tmp_path)
    assert main(["report", str(tmp_path / "r.db"), "--sweep", "rhm", "--out",
                 str(tmp_path / "out")]) == 0  # fmt: skip
    assert "| L0 probe / floor |" in capsys.readouterr().out


def test_a_level_the_floor_already_reads_is_flagged_in_the_verdict():
    rows = [
        {"id": i, "mask_ratio": r, "mask_unit": 4, "seed": 0, "train.normalised_excess": 0.1,
         "symbols.probe_full.level_0": 0.5, "symbols.untrained_probe_full.level_0": 0.3,
         "symbols.bayes_full.level_0": 1.0, "symbols.probe_full.level_1": 0.99,
         "symbols.untrained_probe_full.level_1": 0.98, "symbols.bayes_full.level_1": 1.0,
         "symbols.p_in_S.level_0": 1.0, "symbols.p_in_S.level_1": r}
        for i, r in enumerate((0.25, 0.5, 0.75))
    ]  # fmt: skip
    text = agreement_section(rows, ["level_0", "level_1"])
    verdicts = text.split("### Verdict per level")[1]
    level_1 = next(line for line in verdicts.splitlines() if line.startswith("- level 1"))
    assert "floor already reads this level at 0.980 of a Bayes limit of 1.000" in level_1
    assert "floor already reads" not in verdicts.replace(level_1, "")


def test_the_class_through_the_rules_is_judged_on_trained_runs_against_bayes():
    def row(i, ratio, excess, through):
        return {"id": i, "mask_ratio": ratio, "mask_unit": 4, "seed": i,
                "train.normalised_excess": excess, "symbols.rules_full.level_0": through,
                "symbols.untrained_rules_full.level_0": 0.5,
                "symbols.bayes_full.level_0": 1.0, "symbols.p_in_S.level_0": 1.0}  # fmt: skip

    rows = [row(0, 0.1, 0.1, 0.97), row(1, 0.1, 0.2, 0.99), row(2, 0.5, 0.1, 0.6),
            row(3, 0.9, 0.9, 0.99)]  # fmt: skip
    text = rules_section(rows)
    assert "| 0.1 | 4 | 2/2 | 1.000 | 0.980 ± 0.127 | 0.500 ± 0.000 | n/a | 1.000 ± 0.000 |" in text
    assert ("- ratio 0.1, unit 4, 2 trained run(s): full image agrees (0.980 ± 0.127, Bayes "
            "1.000)\n") in text  # fmt: skip
    assert "- ratio 0.5, unit 4, 1 trained run(s): full image disagrees (0.600 (n=1)" in text
    verdicts = text.rsplit("|", 1)[1]  # the lines after the table
    assert "ratio 0.9" not in verdicts  # under-trained: shown in the table, not judged
    only_under = rules_section([row(0, 0.9, 0.9, 0.99)])
    assert only_under.endswith("- untestable: no trained run.")
    visible = {"symbols.rules_visible.level_0": 0.9, "symbols.bayes_visible.level_0": 1.0}
    both = rules_section([{**row(0, 0.1, 0.1, 0.99), **visible}])
    assert both.endswith(": full image agrees (0.990 (n=1), Bayes 1.000); visible tokens "
                         "disagrees (0.900 (n=1), Bayes 1.000)")  # fmt: skip


def test_the_climb_from_deeper_levels_names_where_it_reaches_bayes_and_what_the_floor_reads():
    def row(i, ratio, excess, climbs, floors):
        r = {"id": i, "mask_ratio": ratio, "mask_unit": 4, "seed": i,
             "train.normalised_excess": excess, "symbols.rules_full.level_0": climbs[0],
             "symbols.bayes_full.level_0": 1.0, "symbols.p_in_S.level_0": 1.0}  # fmt: skip
        for k, (read, floor) in enumerate(zip(climbs, floors, strict=True), start=1):
            r[f"symbols.rules_from_full.level_{k}"] = read
            r[f"symbols.untrained_rules_from_full.level_{k}"] = floor
        return r

    rows = [row(0, 0.25, 0.1, (0.90, 0.99), (0.70, 0.98)),
            row(1, 0.25, 0.1, (0.92, 1.00), (0.70, 0.98)),
            row(2, 0.9, 0.9, (0.20, 0.30), (0.20, 0.25))]  # fmt: skip
    text = rules_section(rows)
    climb = text.split("### Climbed from deeper levels")[1]
    assert "| 0.25 | 4 | 2/2 | full image | 0.910 ± 0.127 / 0.700 ± 0.000 / n/a | " in climb
    assert ("- ratio 0.25, unit 4, full image: within 0.05 of Bayes (1.000) from level 2: "
            "0.995 ± 0.064; floor 0.980 ± 0.000, pixels n/a") in climb  # fmt: skip
    assert "ratio 0.9, unit 4, full image" not in climb  # under-trained: not judged
    assert "| 0.9 | 4 | 0/1 | full image |" in climb  # but shown
    assert "visible tokens" not in climb.split("\n\n")[2]  # not measured: no row
    short = rules_section([row(0, 0.25, 0.1, (0.5, 0.6), (0.5, 0.5))])
    assert "full image: not within 0.05 of Bayes (1.000) from any level" in short
    level1_only = [{k: v for k, v in r.items() if "level_2" not in k} for r in rows]
    assert "### Climbed" not in rules_section(level1_only)  # level 1 is the table above
