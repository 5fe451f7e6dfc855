"""The random-hierarchy image model: structure, sampling, knobs, and its place in hlvm."""

import math

import numpy as np
import pytest

from maeid.hlvm import load_dataset, load_model, load_spec, save_dataset
from maeid.hlvm.random_hierarchy import RandomHierarchy, RHMKnobs, is_rhm, parse_knobs
from maeid.hlvm.yaml_spec import dump_yaml, spec_from_yaml
from maeid.theory import identify
from maeid.train.config import DataConfig


@pytest.fixture(scope="module")
def rhm() -> RandomHierarchy:
    return load_model("rhm32")


def test_default_model_has_the_issue_shape(rhm):
    assert rhm.spec.image_shape == (1, 32, 32)
    assert len(rhm.spec.observed) == 64
    assert {lvl: len(v) for lvl, v in rhm.spec.levels.items()} == {0: 1, 1: 4, 2: 16, 3: 64}
    assert [r.shape for r in rhm.rules] == [(8, 8, 4), (8, 8, 4), (8, 8, 4)]
    assert rhm.patches.shape == (8, 1, 4, 4)


def test_is_rhm_answers_alike_for_a_model_a_name_and_a_data_config(rhm):
    assert is_rhm(rhm) and is_rhm("rhm32") and is_rhm("rhm32:v=4,m=8")
    assert not is_rhm(load_model("qt32")) and not is_rhm("qt32") and not is_rhm("rhm320")
    assert is_rhm({"source": "synthetic", "model": "rhm32:sigma=0.1"})
    assert is_rhm({"model": "rhm32"})  # the source defaults to synthetic
    assert not is_rhm({"source": "fashion_mnist", "model": "rhm32"})  # model is unused there
    assert not is_rhm({"source": "synthetic", "model": "qt32"})
    assert is_rhm(DataConfig(model="rhm32")) and not is_rhm(DataConfig())
    assert not is_rhm(None) and not is_rhm({"source": "synthetic", "model": None})


def test_rules_are_unambiguous_per_level(rhm):
    for rules in rhm.rules:
        tuples = {tuple(t) for t in rules.reshape(-1, 4)}
        assert len(tuples) == rules.shape[0] * rules.shape[1]


def test_sample_is_seeded_and_follows_the_rules(rhm):
    a, b, c = rhm.sample(500, seed=3), rhm.sample(500, seed=3), rhm.sample(500, seed=4)
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.latents["z0"].shape == (500, 1) and a.latents["z0"].dtype == np.int64
    grids = rhm.symbol_grids(a.latents)
    for level in range(3):
        for r in range(2**level):
            for col in range(2**level):
                name = "z0" if level == 0 else f"z{level}_{r}_{col}"
                rule = a.noises[name][:, 0]
                kids = rhm.rules[level][grids[level][:, r, col], rule].reshape(-1, 2, 2)
                assert np.array_equal(
                    kids, grids[level + 1][:, 2 * r : 2 * r + 2, 2 * col : 2 * col + 2]
                )
    # Each patch is its leaf symbol's rendering plus noise of std sigma.
    noise = a.observed["x_2_5"] - rhm.patches.reshape(8, 16)[a.latents["z3_2_5"][:, 0]]
    assert abs(noise.std() - 0.2) < 0.01 and abs(noise.mean()) < 0.01
    assert np.array_equal(rhm.render(a.observed), a.images)
    assert np.array_equal(rhm.unrender(a.images)["x_7_0"], a.observed["x_7_0"])


def test_model_seed_draws_other_rules_and_patches():
    a, b = load_model("rhm32", seed=0), load_model("rhm32", seed=1)
    assert not np.array_equal(a.rules[0], b.rules[0])
    assert not np.array_equal(a.patches, b.patches)
    assert np.array_equal(a.rules[2], load_model("rhm32", seed=0).rules[2])


def test_knobs_from_the_name():
    m = load_model("rhm32:v=4,m=8,sigma=0.1,n_classes=4")
    assert (m.knobs.v, m.knobs.m, m.knobs.sigma, m.knobs.n_classes) == (4, 8, 0.1, 4)
    assert m.name == "rhm32:n_classes=4,v=4,sigma=0.1"  # defaults left out
    small = load_model("rhm32:levels=2,patch=2")
    assert small.spec.image_shape == (1, 8, 8) and len(small.spec.observed) == 16
    assert load_spec("rhm32:size=64").image_shape == (1, 64, 64)
    assert parse_knobs({"m": 4}) == RHMKnobs(m=4)


def test_rule_counts_by_level():
    model = load_model("rhm32:m=32/4/2")
    assert [r.shape for r in model.rules] == [(8, 32, 4), (8, 4, 4), (8, 2, 4)]
    assert model.name == "rhm32:m=32/4/2" and load_model(model.name).knobs == model.knobs
    assert parse_knobs({"m": [32, 4, 2]}) == model.knobs  # a YAML list reads the same
    # Equal counts are the uniform model, rules and all.
    assert load_model("rhm32:m=8/8/8").name == "rhm32"
    assert np.array_equal(load_model("rhm32:m=8/8/8").rules[1], load_model("rhm32").rules[1])
    grids, choices, _ = model.sample_symbols(2000, seed=0)
    assert [int(c.max()) + 1 for c in choices] == [32, 4, 2]
    assert spec_from_yaml(dump_yaml(model.spec)) == model.spec
    # A symbol's bits are its parent level's rule count.
    assert model.code_bits(["z0", "z1_0_0", "z2_0_0", "z3_0_0"]) == 3.0 + 5.0 + 2.0 + 1.0


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("rhm32:m=600", ["m=600", "unambiguous", "at most 512"]),
        ("rhm32:v=2,m=9", ["m=9", "v=2", "at most 2"]),
        ("rhm32:m=8/600/2", ["m=8/600/2", "level 1", "at most 512"]),
        ("rhm32:m=16/4", ["m=16/4", "3 levels", "m=8/8/8"]),
        ("rhm32:m=8/8", ["m=8/8", "3 levels"]),
        ("rhm32:m=4/0/2", ["m=4/0/2", "at least 1"]),
        ("rhm32:m=4/x/2", ["m='4/x/2'", "one integer per level"]),
        ("rhm32:patch=5", ["patch=5", "does not tile", "32"]),
        ("rhm32:size=48", ["size=48", "power of 2"]),
        ("rhm32:levels=0", ["levels=0", "L >= 1"]),
        ("rhm32:sigma=-0.1", ["sigma=-0.1", ">= 0"]),
        ("rhm32:levels=2,size=40", ["size=40", "levels=2"]),
        ("rhm32:v=1", ["v=1", ">= 2"]),
        ("rhm32:colour=3", ["colour", "known"]),
        ("rhm32:m", ["'m'", "key=value"]),
        ("rhm32:m=two", ["m='two'", "integer"]),
        ("rhm32:patch=1,levels=2", ["patch=1", "patch >= 2"]),
    ],
)
def test_bad_knobs_are_refused_with_the_value_and_the_fix(name, words):
    with pytest.raises(ValueError) as err:
        load_model(name)
    for word in words:
        assert word in str(err.value)


def test_theory_runs_on_the_tree_and_code_bits_count_bits(rhm):
    left_half = [f"x_{r}_{c}" for r in range(8) for c in range(4)]
    ident = identify(rhm.spec, left_half)
    assert ident.shared == {"z0"} and rhm.code_bits(ident.shared) == 3.0
    # One masked patch: its leaf symbol is private, every ancestor above it shared.
    ident = identify(rhm.spec, ["x_0_0"])
    assert ident.shared == {"z0", "z1_0_0", "z2_0_0"}
    assert ident.code_dim == 3  # the spec counts one choice per symbol
    assert rhm.code_bits(ident.shared) == 3.0 + 2 * 3.0
    m4 = load_model("rhm32:m=4,n_classes=5")
    assert math.isclose(m4.code_bits(["z0", "z1_0_1"]), math.log2(5) + 2.0)
    with pytest.raises(ValueError, match="observed patch"):
        rhm.code_bits(["x_0_0"])


@pytest.mark.parametrize("name", ["rhm32:v=4,m=8", "rhm32:m=32/4/2"])
def test_dataset_round_trip_rebuilds_the_discrete_model(tmp_path, name):
    model = load_model(name, seed=2)
    sample = model.sample(20, seed=1)
    path = save_dataset(tmp_path / "rhm.npz", model, sample)
    again, back = load_dataset(path)
    assert isinstance(again, RandomHierarchy) and again.name == model.name and again.seed == 2
    assert np.array_equal(again.rules[1], model.rules[1])
    assert np.array_equal(back.images, sample.images)
    assert np.array_equal(back.latents["z2_3_1"], sample.latents["z2_3_1"])
    assert np.array_equal(back.noises["z1_1_0"], sample.noises["z1_1_0"])
