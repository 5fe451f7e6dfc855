"""`maeid theory` through the CLI entry point."""

import json

from maeid.cli import main
from maeid.theory import TheoryProfile

PAPER_YAML = """\
nodes:
  r:  {dim: 1}
  u:  {dim: 2, parents: [r]}
  u1: {dim: 3, parents: [u]}
  u2: {dim: 3, parents: [u]}
  v:  {dim: 2, parents: [r]}
  x1: {dim: 4, parents: [u1], observed: true}
  x2: {dim: 4, parents: [u1], observed: true}
  x3: {dim: 4, parents: [u2], observed: true}
  x4: {dim: 4, parents: [u2], observed: true}
  x5: {dim: 3, parents: [v], observed: true}
"""


def test_one_mask_json_is_exact(capsys):
    assert main(["theory", "--model", "qt32", "--masked", "x_0_1,x_0_0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("shared", "identified", "code_dim")} == {
        "shared": ["z0", "z1_0_0", "z2_0_0"],
        "identified": ["z2_0_0"],
        "code_dim": 8,
    }
    assert out["masked"] == ["x_0_0", "x_0_1"] and len(out["visible"]) == 62
    # The private sets the text table shows: z2_0_0's other children are visible, so
    # nothing is private to the masked side; every other latent is visible-private.
    assert out["masked_private"] == []
    assert len(out["visible_private"]) == 21 - 3 and "z1_0_0" not in out["visible_private"]


def test_one_mask_of_a_yaml_model(tmp_path, capsys):
    path = tmp_path / "paper.yaml"
    path.write_text(PAPER_YAML)
    assert main(["theory", "--model", str(path), "--masked", "x1,x3,x4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "masked": ["x1", "x3", "x4"],
        "visible": ["x2", "x5"],
        "shared": ["r", "u", "u1"],
        "identified": ["u1"],
        "code_dim": 3,
        "masked_private": ["u2"],
        "visible_private": ["v"],
    }
    assert main(["theory", "--model", str(path), "--masked", "x1,x3,x4"]) == 0
    text = capsys.readouterr().out
    assert "identified c(m): u1" in text and "masked-private: u2" in text
    assert "visible-private: v" in text


def test_profile_table_json_and_heatmap(tmp_path, capsys):
    out = tmp_path / "theory"
    argv = ["theory", "--model", "qt32", "--ratios", "0.5,0.9", "--units", "8,16"]
    assert main([*argv, "--masks", "100", "--seed", "2", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "P(c⊆L0)" in table and "invalid: masking ratio 0.9 leaves no visible unit" in table
    profile = TheoryProfile.load(out / "theory.json")
    assert profile.ratios == [0.5, 0.9] and profile.units == [8, 16] and profile.num_masks == 100
    assert profile.cell(0.5, 16).p_c_within_level[0] == 1.0
    assert (out / "theory_levels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_units_follow_the_leaf_block(capsys):
    assert main(["theory", "--ratios", "0.75", "--masks", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] == [4, 8, 16]


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    cases = [
        (["--masked", "z0"], "latent nodes ['z0']"),
        (["--masked", "x_0_0,nope"], "unknown nodes ['nope']"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--ratios", "0.5,1.5"], "outside (0, 1)"),
        (["--ratios", "half"], "comma-separated numbers"),
        (["--units", "6"], "not a multiple of the 4 px patch"),
    ]
    for extra, message in cases:
        assert main(["theory", "--masks", "10", "--out", str(tmp_path / "out"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # bad input writes nothing
