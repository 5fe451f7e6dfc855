"""Shape bias and rendition end to end: `maeid evaluate --measure` and the sweep's metrics."""

import json
from pathlib import Path

import pytest

from maeid.cli import main
from maeid.experiments.evaluations import run_evaluations
from maeid.train.checkpoint import load_checkpoint

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
MODEL = "rhm32:size=16,v=4,m=4,n_classes=4,p_texture=0.5"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("texture") / "run"
    code = main(["train", "--config", str(CONFIG), "--out", str(run), "--set", "run.steps=3",
                 "--set", f"data.model={MODEL}", "--set", "run.progress=false",
                 "--set", "run.recon_every=0", "--set", "run.device=cpu"])  # fmt: skip
    assert code == 0
    return run


def test_evaluate_cli_measures_shape_bias_and_rendition(run, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", str(run), "--data", "synthetic", "--max-test", "60",
                 "--max-train", "120", "--probe-epochs", "2", "--measure",
                 "shape_bias,rendition", "--out", str(out), "--threads", "1",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    assert "shape bias: trained" in capsys.readouterr().out
    result = json.loads((out / "eval.json").read_text())
    bias = result["shape_bias"]
    readers = {"trained", "untrained", "pixels", "rules_trained", "rules_untrained",
               "rules_pixels"}  # fmt: skip
    assert set(bias) == {*readers, "bayes"} | {f"clean_{r}" for r in {*readers, "bayes"}}
    assert bias["bayes"] == 1.0 and bias["clean_bayes"] == 1.0
    rendition = result["rendition"]
    assert {"clean", "invert_1", "blur_2", "redraw_0.25", "rules_clean", "rules_invert_1",
            "pixels_clean", "rules_pixels_blur_2", "bayes_clean",
            "bayes_invert_1"} <= set(rendition)  # fmt: skip
    assert rendition["bayes_clean"] == 1.0


def test_sweep_evaluations_return_the_metrics(run, tmp_path):
    model, cfg = load_checkpoint(run)
    options = {"train": 120, "test": 60, "probe_epochs": 2}
    requested = {"shape_bias": {**options, "untrained_baseline": False}, "rendition": options}
    metrics, _ = run_evaluations(requested, model, cfg, tmp_path)
    readers = {"trained", "pixels", "rules_trained", "rules_pixels", "bayes"}
    assert set(metrics["shape_bias"]) == readers | {f"clean_{r}" for r in readers}
    assert 0.0 <= metrics["shape_bias"]["pixels"] <= 1.0
    assert metrics["rendition"]["bayes_invert_1"] == 1.0
    with pytest.raises(ValueError, match="unknown shape_bias option"):
        run_evaluations({"shape_bias": {"epochs": 3}}, model, cfg, tmp_path)


def test_non_rhm_data_is_refused(tmp_path, capsys):
    run = tmp_path / "qt"
    assert main(["train", "--config", str(CONFIG), "--out", str(run), "--set", "run.steps=1",
                 "--set", "run.progress=false", "--set", "run.recon_every=0",
                 "--set", "run.device=cpu"]) == 0  # fmt: skip
    code = main(["evaluate", str(run), "--data", "synthetic", "--measure", "shape_bias",
                 "--max-test", "20", "--out", str(tmp_path / "e"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "shape_bias needs the rhm32" in capsys.readouterr().err
