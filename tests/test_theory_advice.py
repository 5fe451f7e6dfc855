"""`maeid advise`: ranking (ratio, unit) cells of the theory profile for a target level."""

import json

import pytest

from maeid.cli import main
from maeid.hlvm import load_model
from maeid.hlvm.quadtree import quadtree_of_depth
from maeid.hlvm.spec import SpecError
from maeid.theory.advice import advise, tiling_units

DAG_YAML = """\
name: two_parts
nodes:
  r:  {dim: 1}
  u:  {dim: 2, parents: [r]}
  v:  {dim: 2, parents: [r]}
  x1: {dim: 3, parents: [u], observed: true}
  x2: {dim: 3, parents: [u], observed: true}
  x3: {dim: 3, parents: [v], observed: true}
  x4: {dim: 3, parents: [v], observed: true}
"""


def run_json(capsys, *argv: str) -> dict:
    assert main(["advise", *argv, "--masks", "200", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_qt32_target_root_ranks_unit_16_first(capsys):
    assert main(["advise", "--model", "qt32", "--target-level", "0", "--masks", "200"]) == 0
    text = capsys.readouterr().out
    first = text.splitlines()[2].split()
    assert first[:3] == ["1", "0.75", "16"] and first[3:5] == ["1.000", "1.000"]
    assert "ratio 0.9 x unit 16: masking ratio 0.9 leaves no visible unit" in text
    assert "best: ratio 0.75, unit 16 px" in text


def test_json_holds_every_cell_ranked_then_impossible(capsys):
    out = run_json(capsys, "--model", "qt32", "--target-level", "0")
    assert out["model"] == "qt32" and out["target_level"] == 0 and out["levels"] == [0, 1, 2]
    assert out["ratios"] == [0.1, 0.25, 0.5, 0.75, 0.9] and out["units"] == [4, 8, 16]
    assert "ranked by" in out["rule"]
    cells = out["cells"]
    assert len(cells) == 15
    ranked = [c for c in cells if c["possible"]]
    assert [c["rank"] for c in ranked] == list(range(1, 15))
    assert all(c["unit"] == 16 for c in ranked[:4]) and ranked[4]["unit"] != 16
    impossible = cells[14]
    assert (impossible["ratio"], impossible["unit"], impossible["rank"]) == (0.9, 16, None)
    assert impossible["share"] is None and "no visible unit" in impossible["reason"]
    best = ranked[0]
    assert best["share"] == 1.0 and best["p_none_below"] == 1.0 and best["code_dim"] == 2.0
    assert set(best["level_share"]) == {"0", "1", "2"} and best["level_share"]["0"] == 1.0
    # Shares never rise as the ranking goes down.
    shares = [c["share"] for c in ranked]
    assert shares == sorted(shares, reverse=True)


def test_same_seed_same_numbers_other_seed_other_numbers(capsys):
    argv = ("--model", "qt32", "--target-level", "1", "--units", "4,8")
    a, b = run_json(capsys, *argv), run_json(capsys, *argv)
    c = run_json(capsys, *argv, "--seed", "1")
    assert a == b and a["cells"] != c["cells"]


def test_the_target_level_picks_the_unit_aligned_with_it():
    spec = load_model("qt32")  # a model, not only a GraphSpec
    best = {t: advise(spec, t, num_masks=300).best for t in (0, 1, 2)}
    assert (best[0].unit, best[1].unit, best[2].unit) == (16, 8, 4)
    assert best[1].share == 1.0 and best[2].code_dim > 30  # c reaches level 2, not above


def test_a_yaml_dag(tmp_path, capsys):
    path = tmp_path / "dag.yaml"
    path.write_text(DAG_YAML)
    out = run_json(capsys, "--model", str(path), "--target-level", "0")
    assert out["units"] == [1] and out["patch_size"] is None and out["levels"] == [0, 1]
    # 4 observed nodes: 0.9 leaves none visible (the reference's int(4 * 0.1) = 0 kept).
    impossible = [c["ratio"] for c in out["cells"] if not c["possible"]]
    assert impossible == [0.9]
    ranked = [c for c in out["cells"] if c["possible"]]
    # Masking 2 of 4: c is the root when a whole branch is hidden (1/3 of masks), else
    # the half-hidden branch's latent; masking 1 or 3 always splits a branch.
    assert ranked[0]["ratio"] == 0.5
    assert ranked[0]["p_none_below"] == pytest.approx(1 / 3, abs=0.08)
    assert {c["ratio"] for c in ranked[1:]} == {0.1, 0.25, 0.75}
    assert all(c["share"] == 0.0 for c in ranked[1:])


def test_a_quadtree_given_by_three_numbers(capsys):
    spec = quadtree_of_depth(32, 4, 3)
    assert spec.nodes == load_model("qt32").spec.nodes  # qt32's structure
    out = run_json(capsys, "--quadtree", "64,4,4", "--target-level", "1")
    assert out["model"] == "quadtree_64_4_4" and out["levels"] == [0, 1, 2, 3]
    assert out["units"] == [4, 8, 16, 32] == tiling_units(quadtree_of_depth(64, 4, 4))
    best = next(c for c in out["cells"] if c["rank"] == 1)
    assert best["unit"] == 16 and best["share"] == 1.0  # level-1 blocks are 16 px


def test_depth_that_does_not_fit_is_refused():
    with pytest.raises(SpecError, match="use at most 4 levels"):
        quadtree_of_depth(32, 4, 5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nope", "--target-level", "0"], "unknown model 'nope'"),
        (["--target-level", "3"], "target level 3 is not a latent level of this model; "
                                  "use one of 0, 1, 2"),
        (["--target-level", "-1"], "target level -1"),
        (["--target-level", "0", "--units", "12"], "masking unit 12 does not tile the 32x32 "
                                                   "image in 4 px patches; use one of 4, 8, 16"),
        (["--target-level", "0", "--units", "6"], "masking unit 6 does not tile"),
        (["--target-level", "0", "--ratios", "0.5,1.2"], "outside (0, 1)"),
        (["--quadtree", "32,5,3", "--target-level", "0"], "leaf blocks of 5 px do not tile"),
        (["--quadtree", "32,4", "--target-level", "0"], "needs three numbers"),
        (["--quadtree", "32,4,3", "--model", "qt32", "--target-level", "0"], "not both"),
        (["--target-level", "0", "--masks", "0"], "num_masks is 0"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "advice"
    assert main(["advise", *argv, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err, captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == "" and not list(tmp_path.iterdir())


def test_out_that_is_a_file_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "advice"
    out.write_text("keep me")
    assert main(["advise", "--target-level", "0", "--masks", "10", "--out", str(out)]) == 2
    assert "is a file" in capsys.readouterr().err and out.read_text() == "keep me"


def test_out_writes_the_heat_map_and_the_table(tmp_path, capsys):
    out = tmp_path / "advice"
    assert main(["advise", "--target-level", "0", "--masks", "50", "--out", str(out)]) == 0
    assert (out / "advice.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "advice.json").read_text())
    assert saved["cells"][0]["unit"] == 16 and sorted(p.name for p in out.iterdir()) == [
        "advice.json",
        "advice.png",
    ]
