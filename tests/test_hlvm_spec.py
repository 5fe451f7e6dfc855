"""GraphSpec validation and the quadtree builder."""

from __future__ import annotations

import pytest

from maeid.hlvm import GraphSpec, Node, SpecError, quadtree_spec


def spec(*nodes: Node, **kw) -> GraphSpec:
    return GraphSpec(tuple(nodes), **kw)


def test_valid_spec_fills_noise_dims_levels_and_topological_order():
    g = spec(
        Node("x", 6, ("b",), observed=True),
        Node("b", 4, ("a",)),
        Node("a", 2),
    )
    assert [n.name for n in g.nodes] == ["a", "b", "x"]
    assert [g.noise_dim(n) for n in ("a", "b", "x")] == [2, 2, 2]
    assert g["x"].level == 2 and g.levels == {0: ("a",), 1: ("b",)}
    assert g.latents == ("a", "b") and g.observed == ("x",)
    assert g.children["a"] == ("b",)


def test_refuses_cycles_naming_the_nodes():
    with pytest.raises(SpecError, match="cycle") as err:
        spec(
            Node("a", 2, ("c",)),
            Node("b", 4, ("a",)),
            Node("c", 6, ("b",)),
            Node("x", 8, ("c",), observed=True),
        )
    assert all(name in str(err.value) for name in "abc")


def test_refuses_self_loops():
    with pytest.raises(SpecError, match="loop_node"):
        spec(Node("loop_node", 4, ("loop_node",)), Node("x", 8, ("loop_node",), observed=True))


def test_refuses_observed_with_child():
    with pytest.raises(SpecError, match=r"observed nodes \['x_parent'\] have children"):
        spec(
            Node("z", 2),
            Node("x_parent", 4, ("z",), observed=True),
            Node("w", 6, ("x_parent",)),
            Node("x2", 8, ("w",), observed=True),
        )


def test_refuses_edges_between_observed_nodes():
    with pytest.raises(SpecError, match="x1 -> x2"):
        spec(
            Node("z", 2),
            Node("x1", 4, ("z",), observed=True),
            Node("x2", 8, ("x1",), observed=True),
        )


def test_refuses_latent_without_observed_descendant():
    with pytest.raises(SpecError, match=r"dangling"):
        spec(Node("z", 2), Node("dangling", 4, ("z",)), Node("x", 4, ("z",), observed=True))


@pytest.mark.parametrize(
    "nodes, culprit",
    [
        # dim smaller than the parents' dims
        ((Node("z", 4), Node("small_x", 3, ("z",), observed=True)), "small_x"),
        # explicit noise dim that does not fit
        ((Node("z", 4), Node("tight_x", 6, ("z",), observed=True, noise_dim=3)), "tight_x"),
        # two parents, dims adding up beyond the child
        (
            (Node("a", 2), Node("b", 3), Node("sum_x", 4, ("a", "b"), observed=True)),
            "sum_x",
        ),
    ],
)
def test_refuses_dims_no_injective_mechanism_can_have(nodes, culprit):
    with pytest.raises(SpecError, match=f"injective.*{culprit}"):
        spec(*nodes)


def test_refuses_unknown_parents_naming_both_ends():
    with pytest.raises(SpecError, match="x <- ghost"):
        spec(Node("z", 2), Node("x", 4, ("ghost",), observed=True))


def test_refuses_bad_dims_duplicates_and_no_observed():
    with pytest.raises(SpecError, match="zero_dim"):
        spec(Node("zero_dim", 0), Node("x", 4, ("zero_dim",), observed=True))
    with pytest.raises(SpecError, match="duplicate.*twin"):
        spec(Node("twin", 2), Node("twin", 2, observed=True))
    with pytest.raises(SpecError, match="no observed"):
        spec(Node("z", 2))
    with pytest.raises(SpecError, match="noise_scale"):
        spec(Node("neg", 2, noise_scale=-1.0), Node("x", 4, ("neg",), observed=True))


def test_image_models_need_matching_blocks():
    with pytest.raises(SpecError, match="blockless"):
        spec(Node("z", 2), Node("blockless", 4, ("z",), observed=True), image_shape=(1, 2, 2))
    with pytest.raises(SpecError, match="big.*does not fit"):
        spec(
            Node("z", 2),
            Node("big", 4, ("z",), observed=True, block=(1, 1, 2, 2)),
            image_shape=(1, 2, 2),
        )
    with pytest.raises(SpecError, match="wrongdim has dim 6"):
        spec(
            Node("z", 2),
            Node("wrongdim", 6, ("z",), observed=True, block=(0, 0, 2, 2)),
            image_shape=(1, 2, 2),
        )


def test_check_observed_names_the_problem():
    g = quadtree_spec()
    assert g.check_observed(["x_0_0", "x_7_7"]) == {"x_0_0", "x_7_7"}
    with pytest.raises(SpecError, match="nope"):
        g.check_observed(["nope"])
    with pytest.raises(SpecError, match="z0"):
        g.check_observed(["z0"])


def test_qt32_structure():
    g = quadtree_spec()
    assert g.image_shape == (1, 32, 32)
    assert {lvl: len(v) for lvl, v in g.levels.items()} == {0: 1, 1: 4, 2: 16}
    assert len(g.observed) == 64
    assert [g[v].dim for v in ("z0", "z1_1_0", "z2_3_2", "x_7_7")] == [2, 4, 8, 16]
    # Every mechanism square: noise dims 2, 4, 8 at levels 1, 2, 3.
    assert [g.noise_dim(v) for v in ("z1_0_0", "z2_0_0", "x_0_0")] == [2, 4, 8]
    assert g["z2_3_2"].parents == ("z1_1_1",)
    assert g["x_5_2"].parents == ("z2_2_1",)
    assert g["x_5_2"].block == (20, 8, 4, 4)
    # The leaves tile the image exactly once.
    covered = [(r + i, c + j) for v in g.observed for r, c, h, w in [g[v].block]
               for i in range(h) for j in range(w)]  # fmt: skip
    assert sorted(covered) == [(i, j) for i in range(32) for j in range(32)]
    # Calibrated noise: the root is its own unit noise, the levels below are scaled down.
    assert g["z0"].noise_scale == 1.0 and g["x_0_0"].noise_scale < 1.0


def test_quadtree_general_shapes_and_errors():
    g = quadtree_spec(224, 3, leaf=8, branching=(7, 2, 2), dims=(16, 32, 64), name="qt224")
    assert g.image_shape == (3, 224, 224) and len(g.observed) == 784
    assert g["x_27_27"].dim == 192 and g["x_27_27"].block == (216, 216, 8, 8)
    assert len(g.levels[1]) == 49 and g.noise_dim("x_0_0") == 128
    with pytest.raises(SpecError, match="do not tile"):
        quadtree_spec(30, leaf=4)
    with pytest.raises(SpecError, match="branching"):
        quadtree_spec(32, leaf=4, branching=(2, 2, 3))
    with pytest.raises(SpecError, match="noise_scales"):
        quadtree_spec(noise_scales=(1.0, 0.3))
    with pytest.raises(SpecError, match="injective"):
        quadtree_spec(dims=(2, 4, 32))  # leaves of 16 values cannot hold a 32-dim parent
