"""The formal regime end to end on a tiny DAG: fields, theory consistency, CLI output."""

import json

import numpy as np
import pytest

from maeid.cli import main
from maeid.evaluate.formal import IdentifyConfig, drawn_masks, identify_formal, named_mask
from maeid.evaluate.identifiability import predicted_r2
from maeid.evaluate.regression import RegressorConfig
from maeid.hlvm import HierarchicalModel, spec_from_yaml
from maeid.theory.identification import identify

TOY = """
name: toy
nodes:
  r:  {dim: 2}
  u1: {dim: 3, parents: [r], noise_scale: 0.3}
  u2: {dim: 3, parents: [r], noise_scale: 0.3}
  x1: {dim: 4, parents: [u1], observed: true, noise_scale: 0.3}
  x2: {dim: 4, parents: [u1], observed: true, noise_scale: 0.3}
  x3: {dim: 4, parents: [u2], observed: true, noise_scale: 0.3}
  x4: {dim: 4, parents: [u2], observed: true, noise_scale: 0.3}
"""
FAST = IdentifyConfig(
    steps=40, batch_size=64, hidden=32, depth=2, train_samples=512, eval_samples=200,
    regressor=RegressorConfig(n_landmarks=60, gamma_scales=(1.0,), alpha_scales=(1e-3, 1e-1)),
)  # fmt: skip
FIELDS = {"mask", "latent", "level", "in_S", "predicted", "measured"}


@pytest.fixture(scope="module")
def toy():
    return HierarchicalModel(spec_from_yaml(TOY), seed=0)


@pytest.fixture(scope="module")
def results(toy):
    masks = [named_mask(toy.spec, ["x1", "x2"], 0), named_mask(toy.spec, ["x1", "x3"], 1)]
    return identify_formal(toy, masks, FAST, progress=False)


def test_rows_follow_the_theory(toy, results):
    assert len(results) == 2
    for res in results:
        shared = identify(toy.spec, res.mask.masked).shared
        assert [row["latent"] for row in res.rows] == list(toy.spec.latents)
        for row in res.rows:
            assert FIELDS <= set(row)
            assert row["in_S"] == (row["latent"] in shared)
            assert row["level"] == toy.spec[row["latent"]].level
            if row["in_S"]:
                assert row["predicted"] == 1.0
            else:
                assert -0.2 < row["predicted"] < 1.0
            assert np.isfinite(row["measured"])
    # Masking one subtree leaves only the root shared; masking across subtrees shares all.
    assert {r["latent"] for r in results[0].rows if r["in_S"]} == {"r"}
    assert all(r["in_S"] for r in results[1].rows)
    assert results[0].theory.code_dim == 2


def test_ceiling_is_what_the_true_shared_latents_explain(toy):
    held_out = toy.sample(400, seed=5)
    pred = predicted_r2(toy.spec, {"r"}, held_out.latents, FAST.regressor)
    assert pred["r"] == 1.0
    # u1 = g(r, noise at scale 0.3): r explains most but not all of it.
    assert 0.3 < pred["u1"] < 0.99
    assert predicted_r2(toy.spec, set(), held_out.latents)["u1"] == 0.0


def test_drawn_masks_are_seeded_and_valid(toy):
    a = drawn_masks(toy.spec, 0.5, 1, count=3, seed=4)
    b = drawn_masks(toy.spec, 0.5, 1, count=3, seed=4)
    assert [m.masked for m in a] == [m.masked for m in b]
    assert all(len(m.masked) == 2 for m in a)


def test_identify_cli_writes_the_required_json(tmp_path, toy):
    model_file = tmp_path / "toy.yaml"
    model_file.write_text(TOY)
    out = tmp_path / "run"
    code = main([
        "identify", "--model", str(model_file), "--masked", "x1,x2", "--mask-ratio", "0.5",
        "--mask-unit", "1", "--steps", "20", "--hidden", "16", "--depth", "2",
        "--batch-size", "64", "--train-samples", "256", "--eval-samples", "120",
        "--out", str(out), "--no-progress",
    ])  # fmt: skip
    assert code == 0
    rows = json.loads((out / "identify.json").read_text())
    assert len(rows) == 2 * len(toy.spec.latents)
    assert {r["mask"] for r in rows} == {0, 1}
    for row in rows:
        assert FIELDS <= set(row)
    summary = json.loads((out / "masks.json").read_text())
    assert [m["code_dim"] for m in summary["masks"]][0] == 2
    assert (out / "identify.png").stat().st_size > 1000


def test_identify_cli_rejects_bad_masks(tmp_path, capsys):
    assert main(["identify", "--masked", "x_0_0,z0", "--steps", "1"]) == 2
    assert "latent" in capsys.readouterr().err
    assert main(["identify", "--mask-ratio", "0.5"]) == 2
    assert "--mask-unit" in capsys.readouterr().err


def test_vit_bottleneck_runs_through_the_trainer():
    from maeid.hlvm import load_model

    model = load_model("qt32")
    masks = drawn_masks(model.spec, 0.75, 16, count=1, seed=0)
    cfg = IdentifyConfig(arch="vit", steps=3, batch_size=32, train_samples=64, eval_samples=60,
                         regressor=FAST.regressor)  # fmt: skip
    (res,) = identify_formal(model, masks, cfg, progress=False)
    assert res.steps == 3 and res.theory.code_dim == 2
    assert [r["latent"] for r in res.rows] == list(model.spec.latents)
    with pytest.raises(ValueError, match="token masks"):
        identify_formal(model, [named_mask(model.spec, ["x_0_0"])], cfg, progress=False)
