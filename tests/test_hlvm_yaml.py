"""Model specs in YAML: loading, clear errors, and the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from maeid.hlvm import SpecError, dump_yaml, load_yaml, quadtree_spec, spec_from_yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "models"

ISSUE_EXAMPLE = """
nodes:
  z1: {dim: 2}
  z2: {dim: 4, parents: [z1]}
  x1: {dim: 8, parents: [z2], observed: true}
"""


def test_issue_format_loads_with_defaults():
    g = spec_from_yaml(ISSUE_EXAMPLE, default_name="tiny")
    assert g.meta["name"] == "tiny"
    assert [n.name for n in g.nodes] == ["z1", "z2", "x1"]
    assert [g.noise_dim(n) for n in ("z1", "z2", "x1")] == [2, 2, 4]
    assert g["x1"].observed and not g["z2"].observed
    assert g.image_shape is None


def test_optional_keys():
    g = spec_from_yaml("""
name: custom
nodes:
  r: {dim: 3, noise_scale: 2.5}
  x: {dim: 9, parents: [r], observed: true, noise_dim: 4, level: 5}
""")
    assert g.meta["name"] == "custom"
    assert g["r"].noise_scale == 2.5
    assert g.noise_dim("x") == 4 and g["x"].level == 5


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "nodes:\n  z: {dim: 2, colour: red}\n  x: {dim: 2, parents: [z], observed: true}",
            ["node z", "colour"],
        ),
        (
            "nodes:\n  z: {dim: two}\n  x: {dim: 2, parents: [z], observed: true}",
            ["node z", "dim", "'two'"],
        ),
        ("nodes:\n  z: {dim: 2}\n  x: {dim: 2, parents: z, observed: true}", ["node x", "parents"]),
        (
            "nodes:\n  z: {dim: 2}\n  x: {dim: 2, parents: [z], observed: yes please}",
            ["node x", "observed"],
        ),
        (
            "nodes:\n  z: {dim: 2, noise_scale: -1}\n  x: {dim: 2, parents: [z], observed: true}",
            ["node z", "noise_scale"],
        ),
        (
            "nodes:\n  z: {parents: []}\n  x: {dim: 2, parents: [z], observed: true}",
            ["node z", "dim"],
        ),
        (
            "nodes:\n  z: {dim: 2}\n  x: {dim: 2, parents: [z], observed: true, noise_dim: 1.5}",
            ["node x", "noise_dim"],
        ),
        ("nodes:\n  z: 2\n  x: {dim: 2, parents: [z], observed: true}", ["node z", "mapping"]),
        ("nodez:\n  z: {dim: 2}", ["nodez"]),
        ("nodes: []", ["nodes"]),
        ("- just\n- a list", ["mapping"]),
        ("nodes: {z: {dim: 2}\n", ["not valid YAML"]),
        # Graph errors come from GraphSpec and still name the node.
        ("nodes:\n  z: {dim: 2}\n  x: {dim: 2, parents: [q], observed: true}", ["x <- q"]),
    ],
)
def test_errors_name_node_and_key(text, words):
    with pytest.raises(SpecError) as err:
        spec_from_yaml(text)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load_and_round_trip(path):
    g = load_yaml(path)
    assert g.meta["name"] == path.stem
    assert spec_from_yaml(dump_yaml(g)) == g


def test_example_configs_exist():
    names = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert {"paper_example", "diamond"} <= names
    paper = load_yaml(CONFIGS / "paper_example.yaml")
    assert paper.children["u"] == ("u1", "u2")
    assert set(paper.children["u1"]) == {"x1", "x2"} and set(paper.children["u2"]) == {"x3", "x4"}


def test_quadtree_round_trips_through_yaml(tmp_path):
    g = quadtree_spec(image_size=16, leaf=4, dims=(2, 4), noise_scales=(1.0, 0.25, 0.5))
    text = dump_yaml(g)
    assert "nodes:" in text and "block: [12, 12, 4, 4]" in text
    (tmp_path / "qt.yaml").write_text(text)
    back = load_yaml(tmp_path / "qt.yaml")
    assert back == g
    assert back.image_shape == (1, 16, 16) and back["x_3_3"].block == (12, 12, 4, 4)


def test_dump_writes_only_non_defaults():
    text = dump_yaml(spec_from_yaml(ISSUE_EXAMPLE))
    assert "z2: {dim: 4, parents: [z1]}" in text
    assert "noise_dim" not in text and "level" not in text


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_yaml(tmp_path / "absent.yaml")
