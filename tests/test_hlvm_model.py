"""Mechanisms are invertible; models sample deterministically; the variance table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maeid.hlvm import (
    HierarchicalModel,
    load_model,
    model_names,
    quadtree_spec,
    spec_from_yaml,
    variance_by_level,
)
from maeid.hlvm.mechanisms import random_mechanism

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "models"


@pytest.mark.parametrize(
    "parent_dims, noise_dim, d_out",
    [((2,), 2, 4), ((8,), 8, 16), ((3, 2), 1, 6), ((2,), 3, 9), ((4, 4), 0, 12), ((), 3, 3)],
    ids=["square", "square16", "two-parents", "injective", "no-noise-injective", "no-parents"],
)
def test_mechanism_recovers_parents_and_noise(parent_dims, noise_dim, d_out):
    mech = random_mechanism(parent_dims, noise_dim, d_out, seed=7)
    rng = np.random.default_rng(0)
    parents = [rng.standard_normal((500, d)) for d in parent_dims]
    noise = 0.3 * rng.standard_normal((500, noise_dim))
    value = mech(parents, noise)
    assert value.shape == (500, d_out)
    got_parents, got_noise = mech.inverse(value)
    for want, got in zip(parents, got_parents, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-8)
    np.testing.assert_allclose(got_noise, noise, atol=1e-8)
    # The map is not secretly linear: leaky ReLU bends it.
    x = np.concatenate([*parents, noise], axis=1)
    lin = np.linalg.lstsq(np.c_[x, np.ones(len(x))], value, rcond=None)[1]
    assert lin.sum() > 1e-3 * (value**2).sum()


def test_mechanism_refuses_impossible_shapes():
    with pytest.raises(ValueError, match="injective"):
        random_mechanism((4,), 2, 5, seed=0)
    with pytest.raises(ValueError, match="slope"):
        random_mechanism((2,), 2, 4, seed=0, slope=0.0)
    mech = random_mechanism((2,), 2, 4, seed=0)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        mech.inverse(np.zeros((3, 5)))


@pytest.mark.parametrize("source", ["qt32", "diamond.yaml"])
def test_sampled_values_invert_through_every_mechanism(source):
    model = load_model(source if source == "qt32" else CONFIGS / source, seed=3)
    s = model.sample(256, seed=1)
    values = {**s.latents, **s.observed}
    assert all(v.dtype == np.float32 for v in [*values.values(), *s.noises.values()])
    for node in model.spec.nodes:
        if not node.parents:
            np.testing.assert_array_equal(values[node.name], s.noises[node.name])
            continue
        parents, noise = model.mechanism(node.name).inverse(values[node.name])
        for p, got in zip(node.parents, parents, strict=True):
            np.testing.assert_allclose(got, values[p], atol=1e-4, err_msg=f"{node.name} -> {p}")
        np.testing.assert_allclose(noise, s.noises[node.name], atol=1e-4, err_msg=node.name)


def test_sample_shapes_and_image_layout():
    model = load_model("qt32")
    s = model.sample(10, seed=0)
    assert len(s) == 10 and s.images.shape == (10, 1, 32, 32) and s.images.dtype == np.float32
    assert set(s.latents) == set(model.spec.latents) and set(s.observed) == set(model.spec.observed)
    assert s.latents["z0"].shape == (10, 2) and s.noises["x_0_0"].shape == (10, 8)
    # x_r_c is written channels-first, row-major into rows 4r..4r+3, cols 4c..4c+3.
    np.testing.assert_array_equal(s.images[:, 0, 8:12, 20:24].reshape(10, 16), s.observed["x_2_5"])
    back = model.unrender(s.images)
    assert all(np.array_equal(back[k], s.observed[k]) for k in s.observed)


def test_multichannel_layout_is_channels_first():
    model = HierarchicalModel(quadtree_spec(8, 3, leaf=4, dims=(2, 8), name="rgb8"), seed=0)
    s = model.sample(4, seed=0)
    block = s.observed["x_1_0"].reshape(4, 3, 4, 4)
    np.testing.assert_array_equal(s.images[:, :, 4:8, 0:4], block)


def test_non_image_models_have_no_images():
    s = load_model(CONFIGS / "paper_example.yaml").sample(5, seed=0)
    assert s.images is None and s.observed["x1"].shape == (5, 8)


def test_same_seed_same_sample_different_seed_different():
    a = load_model("qt32", seed=0).sample(64, seed=5)
    b = load_model("qt32", seed=0).sample(64, seed=5)
    c = load_model("qt32", seed=0).sample(64, seed=6)
    d = load_model("qt32", seed=1).sample(64, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    assert all(np.array_equal(a.latents[k], b.latents[k]) for k in a.latents)
    assert not np.allclose(a.images, c.images)
    # Another model seed: same noise, other mechanisms.
    np.testing.assert_array_equal(a.noises["x_0_0"], d.noises["x_0_0"])
    assert not np.allclose(a.images, d.images)


def test_nodes_are_standardised():
    s = load_model("qt32").sample(4000, seed=9)
    for name in ("z1_0_1", "z2_3_3", "x_4_4"):
        v = s.latents.get(name, s.observed.get(name))
        np.testing.assert_allclose(v.mean(0), 0, atol=0.1)
        np.testing.assert_allclose(v.std(0), 1, atol=0.1)
    np.testing.assert_allclose(s.latents["z0"].std(0), 1.0, atol=0.05)  # root = unit noise


def test_registered_models_build_with_their_structure():
    shapes = {name: load_model(name).spec.image_shape for name in model_names()}
    assert shapes["qt32"] == (1, 32, 32) and shapes["qt224"] == (3, 224, 224)
    qt64 = load_model("qt64").spec
    assert shapes["qt64"] == (1, 64, 64) and len(qt64.observed) == 64
    assert qt64["x_7_7"].block == (56, 56, 8, 8) and qt64.noise_dim("x_7_7") == 48


def test_large_models_are_cheap_to_build():
    model = load_model("qt224")
    assert model.spec.image_shape == (3, 224, 224)
    assert model._mechanisms is None  # nothing drawn until the first sample


def test_load_model_errors_and_names(tmp_path):
    assert {"qt32", "qt64", "qt224"} <= set(model_names())
    with pytest.raises(ValueError, match="unknown model 'qt31'.*qt32"):
        load_model("qt31")
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        load_model(tmp_path / "absent.yaml")
    with pytest.raises(ValueError, match="seed"):
        load_model("qt32", seed=-1)
    with pytest.raises(ValueError, match="positive"):
        load_model("qt32").sample(0, seed=0)


def test_variance_by_level_calibration_of_qt32():
    rows = variance_by_level(load_model("qt32"), n=1024, seed=0)
    assert [r.level for r in rows] == [0, 1, 2, None]
    assert [r.num_nodes for r in rows] == [1, 4, 16, 64]
    shares = [r.share for r in rows]
    assert sum(shares) == pytest.approx(1.0)
    # Every level carries a visible share, and the root the largest one.
    assert min(shares) > 0.08 and shares[0] == max(shares)
    # With unit noise everywhere, the root drowns (a few percent, per the issue).
    unit = HierarchicalModel(quadtree_spec(noise_scales=(1.0, 1.0, 1.0, 1.0)), seed=0)
    assert variance_by_level(unit, n=1024, seed=0)[0].share < 0.15


def test_variance_by_level_sees_silent_levels():
    text = """
nodes:
  r: {dim: 2}
  m: {dim: 4, parents: [r], noise_scale: %s}
  x1: {dim: 6, parents: [m], observed: true, noise_scale: %s}
  x2: {dim: 6, parents: [m], observed: true, noise_scale: %s}
"""
    silent_middle = HierarchicalModel(spec_from_yaml(text % (0.0, 0.5, 0.5)), seed=0)
    shares = [r.share for r in variance_by_level(silent_middle, n=2048, seed=1)]
    assert abs(shares[1]) < 0.02 and shares[0] > 0.3
    no_pixel_noise = HierarchicalModel(spec_from_yaml(text % (0.5, 0.0, 0.0)), seed=0)
    shares = [r.share for r in variance_by_level(no_pixel_noise, n=2048, seed=1)]
    assert abs(shares[-1]) < 1e-9 and shares[1] > 0.02


@settings(max_examples=25, deadline=None)
@given(
    parent_dims=st.lists(st.integers(1, 6), max_size=3),
    noise_dim=st.integers(0, 6),
    extra=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_mechanism_inverts(parent_dims, noise_dim, extra, seed):
    d_in = sum(parent_dims) + noise_dim
    if d_in == 0:
        return
    mech = random_mechanism(tuple(parent_dims), noise_dim, d_in + extra, seed=seed)
    mech = mech.standardised(np.full(d_in + extra, 0.5), np.full(d_in + extra, 2.0))
    x = np.random.default_rng(seed).standard_normal((64, d_in))
    np.testing.assert_allclose(mech.inverse_inputs(mech.forward(x)), x, atol=1e-8)
