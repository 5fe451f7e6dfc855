"""The demo's evidence: the verdict rule, the shares it reads, and the demo end to end."""

import hashlib
import json
import math
from pathlib import Path

import pytest

from maeid import shipped_evidence
from maeid.shipped_evidence import Share, judge, measured_shares

ROOT = Path(__file__).resolve().parents[1]
G = Share  # a G share with a standard error
PREDICT_UP = (0.0, 0.001, 0.05, 0.001)  # V_l larger for the second model, by 35 SE


@pytest.mark.parametrize(
    ("theory", "first", "second", "trained", "verdict", "why"),
    [
        (PREDICT_UP, G(0.10, 0.01, True), G(0.20, 0.01, True), True, "agrees", "predicted +"),
        (PREDICT_UP, G(0.20, 0.01, True), G(0.10, 0.01, True), True, "disagrees", "predicted +"),
        (PREDICT_UP, G(0.10, 0.01, True), G(0.12, 0.01, True), True, "untestable", "noise"),
        (PREDICT_UP, G(0.10, 0.01, True), G(0.20, 0.01, True), False, "untestable", "not trained"),
        (PREDICT_UP, G(0.10, 0.01, False), G(0.20, 0.01, True), True, "untestable", "unreadable"),
        ((0.05, 0.01, 0.06, 0.01), G(0.1, 0.01, True), G(0.3, 0.01, True), True, "untestable",
         "no difference"),
        # Without a standard error (the R² share) the fixed margin of 0.05 is the noise.
        (PREDICT_UP, Share(0.10, None, True), Share(0.14, None, True), True, "untestable", "0.050"),
        (PREDICT_UP, Share(0.30, None, True), Share(0.10, None, True), True, "disagrees", "0.050"),
    ],
)  # fmt: skip
def test_the_verdict_rule(theory, first, second, trained, verdict, why):
    row = judge(0, theory, first, second, trained)
    assert row.verdict == verdict
    assert why in row.why


def test_the_theory_predicts_a_direction_only_beyond_two_standard_errors():
    assert judge(0, (0.0, 0.01, 0.03, 0.01), G(0, 0, True), G(1, 0, True), True).predicted() == 1
    assert judge(0, (0.03, 0.01, 0.0, 0.01), G(0, 0, True), G(1, 0, True), True).predicted() == -1
    assert judge(0, (0.0, 0.01, 0.02, 0.01), G(0, 0, True), G(1, 0, True), True).predicted() == 0


def test_shares_are_read_from_either_measure(tmp_path):
    info = {"information": {"full_image": {
        "gain_share": {"trained": {"0": 0.2, "1": 0.9}},
        "gain_share_se": {"trained": {"0": 0.01, "1": 0.02}},
        "gap_se": {"0": 40.0, "1": 3.0}}}}  # fmt: skip
    (tmp_path / "i.json").write_text(json.dumps(info))
    shares = measured_shares(tmp_path / "i.json", "information")
    assert shares[0] == Share(0.2, 0.01, True) and shares[1] == Share(0.9, 0.02, False)
    level = {"measured_untrained_visible_tokens": 0.4, "limit_visible": 0.9,
             "measured_visible_tokens": 0.65}  # fmt: skip
    flat = {**level, "limit_visible": 0.42}
    ident = {"identifiability": {"per_level": {"0": level, "1": flat}}}
    (tmp_path / "r.json").write_text(json.dumps(ident))
    shares = measured_shares(tmp_path / "r.json", "identifiability")
    assert shares[0].value == pytest.approx(0.5) and shares[0].se is None and shares[0].readable
    assert not shares[1].readable  # a gap of 0.02 is under the margin


def test_the_demo_end_to_end_with_small_settings(tmp_path, monkeypatch, capsys):
    """The real shipped rhm32 pair, measured with small probes; a 20-step live run."""
    from maeid.cli import main

    small = ["--measure", "masked_loss,information", "--max-train", "300", "--max-test",
             "200", "--probe-epochs", "2"]  # fmt: skip
    monkeypatch.setitem(shipped_evidence.EVALUATE, "information", small)
    monkeypatch.setattr(shipped_evidence, "THEORY_IMAGES", 128)
    rhm32 = [m for m in shipped_evidence_models() if m.name.startswith("rhm32")]
    monkeypatch.setattr("maeid.demo.shipped_models", lambda: rhm32)
    monkeypatch.setattr("maeid.demo.THEORY_RATIOS", (0.25, 0.75))
    monkeypatch.setattr("maeid.demo.THEORY_UNITS", (16,))
    spec = tmp_path / "live.yaml"
    live = (ROOT / "configs" / "sweeps" / "pipeline_check.yaml").read_text()
    spec.write_text(
        live.replace("steps: 200", "steps: 20").replace("eval_every: 100", "eval_every: 10")
    )
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--spec", str(spec), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "rhm32-r0.25-u4 vs rhm32-r0.75-u4: level 0" in printed
    report = (out / "report.md").read_text()
    assert report.startswith("# maeid demo")
    assert "## Evidence: the shipped trained models against the theory" in report
    assert "not trained, not evidence" in report
    for name in ("rhm32-r0.25-u4", "rhm32-r0.75-u4"):
        assert (out / "shipped" / name / "heldout.png").is_file()
        assert f"shipped/{name}/heldout.png" in report
        evaluation = json.loads((out / "shipped" / name / "eval.json").read_text())
        assert not math.isnan(evaluation["masked_loss"]["excess"])
    pngs = sorted(out.rglob("*.png"))
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in pngs]
    assert len(set(digests)) == len(digests)  # no figure is written twice
    assert "train/heldout.png" in report  # the live run's curve is shown


def shipped_evidence_models():
    from maeid.shipped import shipped_models

    return shipped_models(ROOT / "checkpoints")


def test_one_model_ahead_at_every_level_is_said():
    from maeid.shipped_evidence import PAIRS, PairEvidence

    up = judge(0, PREDICT_UP, G(0.1, 0.01, True), G(0.3, 0.01, True), True)
    down = judge(1, (0.05, 0.001, 0.0, 0.001), G(0.1, 0.01, True), G(0.3, 0.01, True), True)
    flat = judge(2, PREDICT_UP, G(0.1, 0.01, True), G(0.11, 0.01, True), True)
    ahead = PairEvidence(PAIRS[0], (0.2, 0.2), [up, down])
    assert (up.verdict, down.verdict) == ("agrees", "disagrees")
    assert ahead.one_model_ahead == PAIRS[0].second
    assert PairEvidence(PAIRS[0], (0.2, 0.2), [up, flat]).one_model_ahead is None
    assert "ahead at every level" in shipped_evidence.verdict_lines([ahead])[0]
