"""rhm32 end to end: a tiny MAE trains on it, `maeid evaluate` reports symbols per level,
and `maeid synth` writes it with the Bayes table."""

import json
from pathlib import Path

from maeid.cli import main

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
MODEL = "rhm32:size=16,v=4,m=4,n_classes=4"


def test_train_and_evaluate_symbols_on_rhm(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--config", str(CONFIG), "--out", str(run), "--set", "run.steps=3",
                 "--set", f"data.model={MODEL}", "--set", "run.progress=false",
                 "--set", "run.recon_every=0", "--set", "run.device=cpu"])  # fmt: skip
    assert code == 0
    out = tmp_path / "eval"
    code = main(["evaluate", str(run), "--data", "synthetic", "--max-test", "100",
                 "--max-train", "200", "--probe-epochs", "2", "--measure", "symbols,masked_loss",
                 "--pool", "tokens", "--out", str(out), "--threads", "1",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "symbol accuracy per level (all tokens at their positions" in printed
    assert "pixels" in printed
    result = json.loads((out / "eval.json").read_text())
    assert "identify" not in result  # R² of symbol ids would mean nothing
    symbols = result["symbols"]
    assert symbols["train"] == 200 and symbols["test"] == 100
    for view in ("full_image", "visible_tokens"):
        assert set(symbols[view]) == {"trained", "untrained", "pixels", "bayes"}
        assert set(symbols[view]["trained"]) == {"tokens"}  # the readout asked for, alone
        assert set(symbols[view]["trained"]["tokens"]["probe"]) == {"0", "1", "2"}
        assert set(symbols[view]["trained"]["tokens"]["rules"]) == {"0"}
    assert symbols["full_image"]["bayes"] == {"0": 1.0, "1": 1.0, "2": 1.0}
    loss = result["masked_loss"]  # 3 steps: nowhere near Bayes
    assert loss["bayes"] < loss["plateau"] and loss["excess"] > 0.5
    assert "normalised excess" in printed
    assert "class through the rules from the level-1 probes" in printed


def test_synth_writes_rhm_and_refuses_bad_knobs(tmp_path, capsys):
    out = tmp_path / "rhm.npz"
    assert main(["synth", "--model", MODEL, "--n", "50", "--out", str(out), "--no-png",
                 "--variance-samples", "200"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Bayes-optimal accuracy" in printed and "100.0%" in printed
    assert out.is_file()
    bad = tmp_path / "bad" / "rhm.npz"
    assert main(["synth", "--model", "rhm32:patch=5", "--n", "5", "--out", str(bad)]) == 2
    assert "patch=5" in capsys.readouterr().err
    assert not bad.parent.exists()
