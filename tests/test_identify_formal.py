"""The formal regime end to end on a tiny DAG: fields, theory consistency, CLI output."""

import json

import numpy as np
import pytest
import torch

from maeid.cli import main
from maeid.evaluate.identifiability import predicted_r2
from maeid.evaluate.regression import RegressorConfig
from maeid.formal.config import IdentifyConfig
from maeid.formal.masks import drawn_masks, named_mask
from maeid.formal.regime import identify_formal
from maeid.formal.report import aggregate_settings
from maeid.formal.verdict import verdict
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


# ------------------------------------------------------------------ the verdict and its rule
def _row(latent, in_s, measured, limit=1.0, halfwidth=0.0):
    return {"latent": latent, "in_S": in_s, "measured": measured, "limit": limit,
            "measured_halfwidth": halfwidth}  # fmt: skip


def test_verdict_agrees_only_when_every_latent_obeys():
    good = [_row("r", True, 0.95), _row("u1", True, 0.93), _row("u2", False, 0.60, 0.58)]
    assert verdict(good) == ("agrees", [])


def test_one_unrecovered_latent_is_not_hidden_by_a_good_mean():
    rows = [_row("r", True, 0.99), _row("u1", True, 0.99), _row("u2", True, 0.80)]
    assert np.mean([r["measured"] for r in rows]) > 0.9  # the old rule passed this
    outcome, reasons = verdict(rows)
    assert outcome == "disagrees" and "u2" in reasons[0]


def test_a_nan_disagrees_and_an_empty_s_is_untestable():
    assert verdict([_row("r", True, float("nan"))])[0] == "disagrees"
    assert verdict([_row("r", False, float("nan"), 0.5)])[0] == "untestable"
    assert verdict([_row("r", False, 0.0, 0.0)])[0] == "untestable"


def test_excess_over_the_limit_is_judged_beyond_the_bootstrap_half_width():
    rows = [_row("r", True, 0.95), _row("u", False, 0.66, limit=0.60, halfwidth=0.0)]
    assert verdict(rows)[0] == "disagrees"  # 0.06 above the limit
    rows[1]["measured_halfwidth"] = 0.02  # within 0.05 + 0.02
    assert verdict(rows)[0] == "agrees"


def test_rows_carry_the_exact_limit_its_error_the_regressor_reference_and_the_seed(results):
    for res in results:
        for row in res.rows:
            assert {"limit", "limit_se", "regressor_ref", "seed", "measured_halfwidth"} <= set(row)
            assert row["predicted"] == row["limit"]
            assert row["seed"] == FAST.seed
            if not row["in_S"]:
                assert 0.0 <= row["limit_se"] < 0.05
                assert row["measured_halfwidth"] > 0


def test_seeds_repeat_every_mask_with_new_data(toy):
    masks = [named_mask(toy.spec, ["x1", "x2"], 0)]
    runs = identify_formal(toy, masks, FAST, progress=False, seeds=[3, 4])
    assert [r.seed for r in runs] == [3, 4]
    assert runs[0].rows[0]["measured"] != runs[1].rows[0]["measured"]
    (row,) = aggregate_settings(toy.spec, runs)
    assert row["runs"] == 2 and row["seeds"] == [3, 4]
    assert row["agrees"] + row["disagrees"] + row["untestable"] == 2


def test_mlp_code_ignores_the_masked_inputs(toy):
    from maeid.formal.mlp import mlp_setup

    fixed = named_mask(toy.spec, ["x1", "x2"], 0)
    theory = identify(toy.spec, fixed.masked)
    train, held = toy.sample(300, seed=1), toy.sample(50, seed=2)
    changed = toy.sample(50, seed=2)
    for x in fixed.masked:  # new masked observations, the same visible ones
        changed.observed[x] = changed.observed[x] + 5.0
    net, _, _, inputs = mlp_setup(toy.spec, fixed, theory, train, held, FAST)
    _, _, _, inputs_changed = mlp_setup(toy.spec, fixed, theory, train, changed, FAST)
    with torch.no_grad():
        assert torch.equal(net.encode(inputs), net.encode(inputs_changed))
    # ... while a change to a visible input does move the code.
    changed.observed["x3"] = changed.observed["x3"] + 5.0
    _, _, _, inputs_visible = mlp_setup(toy.spec, fixed, theory, train, changed, FAST)
    with torch.no_grad():
        assert not torch.allclose(net.encode(inputs), net.encode(inputs_visible))
