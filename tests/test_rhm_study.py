"""The rhm32 masking study's machinery: the `symbols` sweep evaluation's checks, the shipped sweep,
and a two-cell sweep through `maeid sweep` and `maeid report`, kept to seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from maeid.cli import main
from maeid.experiments.results_db import ResultsDB
from maeid.experiments.sweep_spec import SweepSpec

ROOT = Path(__file__).resolve().parents[1]
MODEL = "rhm32:size=16,v=4,m=4,n_classes=4"


@pytest.mark.parametrize(
    ("model", "evaluate", "error"),
    [
        (MODEL, {"symbols": {"sample": 10}}, r"unknown symbols option\(s\) \['sample'\]"),
        ("qt32", {"symbols": {}}, "symbols needs the rhm32 model's symbols; qt32 has none"),
        ("qt32", {"shape_bias": {}}, "shape_bias needs the rhm32"),
        (MODEL, {"rendition": {"pool": "max"}}, r"rendition option pool='max': use one of"),
        (MODEL, {"identifiability": {"landmark": 5}}, r"unknown identifiability option"),
        (MODEL, {"probe": {"max_tests": 5}}, r"unknown probe option"),
    ],
)
def test_a_sweep_refuses_a_bad_evaluation_before_it_trains(tmp_path, model, evaluate, error):
    spec = SweepSpec.from_dict(
        {"name": "bad", "base": str(ROOT / "configs" / "tiny.yaml"),
         "set": {"data.model": model}, "grid": {"mask_ratio": [0.5, 0.75]},
         "evaluate": evaluate},
        tmp_path,
    )  # fmt: skip
    with pytest.raises(ValueError, match=error):
        spec.plan()
    assert SweepSpec.from_dict(
        {"name": "good", "base": str(ROOT / "configs" / "tiny.yaml"), "set": {"data.model": model},
         "grid": {"mask_ratio": [0.5]}, "evaluate": {"reconstruction": {"recon_images": 8}}},
        tmp_path,
    ).plan()[0]  # fmt: skip


def test_the_shipped_rhm32_sweep_plans_its_impossible_cells():
    spec = SweepSpec.from_yaml(ROOT / "configs" / "sweeps" / "rhm32_ratio_unit.yaml")
    runnable, skipped = spec.plan()
    assert len(runnable) == 42 and len(skipped) == 3
    assert {(s.params["mask_ratio"], s.params["mask_unit"]) for s in skipped} == {(0.9, 16)}
    assert "no visible unit" in skipped[0].reason
    assert set(spec.evaluate) == {"symbols", "reconstruction", "attention"}
    assert all(p.config["train"]["data"]["model"].startswith("rhm32") for p in runnable)
    # Seed is the slowest axis: a sweep stopped early holds every cell once first.
    assert [p.params["seed"] for p in runnable] == [0] * 14 + [1] * 14 + [2] * 14


def test_the_shipped_texture_sweep_trains_on_signed_images_at_unit_4():
    from maeid.hlvm import load_model

    spec = SweepSpec.from_yaml(ROOT / "configs" / "sweeps" / "rhm32_texture.yaml")
    runnable, skipped = spec.plan()
    assert len(runnable) == 15 and not skipped
    assert {p.params["mask_unit"] for p in runnable} == {4}
    assert set(spec.evaluate) == {"shape_bias", "rendition", "reconstruction"}
    assert all(spec.evaluate[name]["pool"] == "tokens" for name in ("shape_bias", "rendition"))
    (model,) = {p.config["train"]["data"]["model"] for p in runnable}
    knobs = load_model(model).knobs
    assert knobs.p_texture == 0.5 and knobs.texture == 0.03 and knobs.rule_counts == "32/4/2"


def test_a_two_cell_rhm32_sweep_measures_symbols_and_reports_them(tmp_path, capsys):
    spec = {
        "name": "rhm_tiny",
        "base": str(ROOT / "configs" / "tiny.yaml"),
        "set": {"data.model": MODEL, "data.n_train": 64, "run.steps": 3, "run.ckpt_every": 3,
                "run.recon_every": 0, "run.progress": False, "run.device": "cpu"},
        "grid": {"mask_ratio": [0.5], "mask_unit": [4, 8]},
        "evaluate": {"symbols": {"samples": 60, "max_train": 120, "probe_epochs": 2},
                     "reconstruction": {"recon_images": 8, "max_test": 16}},
    }  # fmt: skip
    path = tmp_path / "rhm_tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    db = tmp_path / "r.db"
    assert main(["sweep", str(path), "--db", str(db), "--threads", "1"]) == 0
    with ResultsDB(db) as results:
        rows = {row["mask_unit"]: row for row in results.metric_table("rhm_tiny")}
        runs = results.runs("rhm_tiny")
    assert set(rows) == {4, 8}
    for row in rows.values():
        for level in (0, 1, 2):
            assert row[f"symbols.bayes_full.level_{level}"] == 1.0  # sigma 0.2: BP reads all
            assert row[f"symbols.bayes_visible.level_{level}"] <= 1.0
            for name in ("probe_full", "knn_full", "untrained_probe_full", "probe_visible",
                         "untrained_probe_visible", "pixels_probe_full", "pixels_knn_visible",
                         "chance"):  # fmt: skip
                assert 0.0 <= row[f"symbols.{name}.level_{level}"] <= 1.0
        for who in ("", "untrained_", "pixels_"):  # the class through the root's rules
            assert 0.0 <= row[f"symbols.{who}rules_full.level_0"] <= 1.0
            assert f"symbols.{who}rules_full.level_1" not in row
            climbs = [row[f"symbols.{who}rules_from_full.level_{k}"] for k in (1, 2)]
            assert climbs[0] == row[f"symbols.{who}rules_full.level_0"]  # level 1: the same
            assert 0.0 <= climbs[1] <= 1.0
        assert row["symbols.p_in_S.level_0"] == 1.0  # the root is always shared
        assert row["train.normalised_excess"] > 0.25  # three steps: under-trained
        assert row["recon.masked.mse"] > 0
    # A unit of 8 px is a level-1 block: only the class is shared, log2(4 classes) = 2 bits.
    assert rows[8]["symbols.d_c_bits"] == 2.0 and rows[8]["symbols.p_in_S.level_2"] == 0.0
    assert rows[4]["symbols.d_c_bits"] > 2.0
    for run in runs:
        saved = json.loads(Path(run.artefacts["eval_json"]).read_text())["symbols"]
        assert saved["pool"] == "mean" and saved["test"] == 60 and saved["train"] == 120
        assert set(saved["full_image"]["trained"]) == {"mean"}  # only the readout reported
        assert math.isclose(saved["full_image"]["trained"]["mean"]["probe"]["0"],
                            run.metrics["symbols"]["probe_full"]["level_0"])  # fmt: skip

    capsys.readouterr()
    out = tmp_path / "report"
    assert main(["report", str(db), "--sweep", "rhm_tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    text = (out / "report.md").read_text()
    for unit, row in rows.items():
        cell = " | ".join(
            f"{row[f'symbols.probe_full.level_{lv}']:.3f} / "
            f"{row[f'symbols.untrained_probe_full.level_{lv}']:.3f}"
            for lv in (0, 1, 2)
        )
        assert f"| 0.5 | {unit} | 0/1 | {cell} |" in printed
    for title in (
        f"## The theory: which latents a mask makes the MAE recover ({MODEL})",
        "## Training quality: distance to the Bayes loss",
        "## Symbols per level: what a linear probe reads of the grammar",
        "## The theory's profile of the same cells",
        "## Does the measurement follow the theory? (per level)",
        "## Does the encoder determine the class? Read through the root's rules",
        "## Class accuracy against the masking ratio, beside the paper's Table 1",
    ):
        assert title in text, title
    assert "- untestable: no trained run." in text  # three steps train nothing
    assert text.count("| under-trained |") == 2
    assert "## Identifiability" not in text  # no R² to miss on a symbols sweep
    assert "| 0.5 | 8 | 2.0 | 1.000 | 0.000 | 0.000 | 1.000 | 0.000 | 0.000 |" in text
    assert "- level 0 (class): untestable: 0 trained run(s), 2 under-trained" in text
    assert "class_vs_ratio.png" not in text  # one ratio: no curve to draw
    assert "_The sweep varies the masking ratio over fewer than two values._" in text
