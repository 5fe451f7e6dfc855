"""A study seed varies every random stream of a run but the grammar; `seed` keeps its
meaning (and old specs their run hashes); the new rhm32 readouts run as sweep
evaluations from a run's config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from maeid.data.fresh import FreshBatches
from maeid.experiments.config_hash import config_hash
from maeid.experiments.evaluations import check_evaluations, run_evaluations
from maeid.experiments.results_db import ResultsDB
from maeid.experiments.runner import register
from maeid.experiments.sweep_spec import SweepSpec, resolve_train_config, set_dotted
from maeid.hlvm import load_model
from maeid.mae.model import untrained_copy
from maeid.mae.presets import build_mae
from maeid.measures import EvalContext
from maeid.measures.symbols import symbol_metrics
from maeid.train.config import from_dict

ROOT = Path(__file__).resolve().parents[1]
MODEL = "rhm32:size=16,v=4,m=4,n_classes=4"


def spec(grid: dict, overrides: dict | None = None) -> SweepSpec:
    return SweepSpec.from_dict({
        "name": "seeds", "base": str(ROOT / "configs" / "tiny.yaml"),
        "set": {"data.model": MODEL, "data.fresh": True, **(overrides or {})}, "grid": grid,
    })  # fmt: skip


def test_a_study_seed_sets_the_run_and_the_data_seed_and_is_recorded_as_the_seed(tmp_path):
    points = spec({"study_seed": [0, 1, 2], "mask_ratio": [0.5]}).points()
    for point, seed in zip(points, (0, 1, 2), strict=True):
        train = point.config["train"]
        assert train["run"]["seed"] == train["data"]["seed"] == seed
        assert train["data"]["model_seed"] == 0  # the grammar stays fixed
        assert point.params == {"study_seed": seed, "mask_ratio": 0.5, "seed": seed}
    with ResultsDB(tmp_path / "r.db") as db:
        register(spec({"study_seed": [0, 1, 2], "mask_ratio": [0.5]}), db, tmp_path / "out")
        assert sorted(run.seed for run in db.runs("seeds")) == [0, 1, 2]  # the seed column


def test_the_seed_axis_still_sets_only_run_seed_so_old_hashes_hold():
    base = spec({"seed": [0]})
    for point, seed in zip(spec({"seed": [3, 4]}).points(), (3, 4), strict=True):
        assert point.config["train"]["run"]["seed"] == seed
        assert point.config["train"]["data"]["seed"] == 0  # the base config's
        by_hand = json.loads(json.dumps(base.base))
        for key, value in {**base.overrides, "run.seed": seed}.items():
            set_dotted(by_hand, key, value)
        expected = {"train": resolve_train_config(by_hand), "evaluate": {}}
        assert point.config_hash == config_hash(expected)  # what a `seed` axis always hashed
        assert point.params == {"seed": seed}


@pytest.mark.parametrize(
    ("grid", "overrides"),
    [
        ({"study_seed": [0, 1], "seed": [0]}, {}),
        ({"study_seed": [0, 1]}, {"data.seed": 5}),
        ({"study_seed": [0, 1], "run.seed": [1]}, {}),
    ],
)
def test_a_study_seed_beside_another_seed_is_refused(grid, overrides):
    with pytest.raises(ValueError, match="study_seed sets run.seed and data.seed together"):
        spec(grid, overrides).points()


def test_each_study_seed_has_its_own_training_stream_probe_images_and_floor():
    configs = {}
    for point in spec({"study_seed": [0, 1]}).points():
        configs[point.params["seed"]] = from_dict(point.config["train"]).validate()
    again = from_dict(spec({"study_seed": [0]}).points()[0].config["train"]).validate()
    model = load_model(MODEL)

    def stream(cfg) -> torch.Tensor:  # the first fresh training batch
        return FreshBatches(model, 8, (0.5,), (0.25,), seed=cfg.data.seed).at(0)

    def splits(cfg) -> list[np.ndarray]:  # the evaluations' probe and test images
        ctx = EvalContext(build_mae("tiny", in_chans=1), cfg, ".")
        return [ctx.train(None, 6).images.numpy(), ctx.test(None, 6).images.numpy()]

    def floor(cfg) -> torch.Tensor:  # the untrained encoder of the run's seed
        return next(
            untrained_copy(build_mae("tiny", in_chans=1), cfg.run.seed).parameters()
        ).detach()

    for read in (stream, splits, floor):
        zero, one, same = read(configs[0]), read(configs[1]), read(again)
        pairs = zip(*(x if isinstance(x, list) else [x] for x in (zero, one, same)), strict=True)
        for a, b, c in pairs:
            assert not np.array_equal(np.asarray(a), np.asarray(b)), read.__name__
            assert np.array_equal(np.asarray(a), np.asarray(c)), read.__name__


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny rhm32 encoder (untrained: the readouts' machinery, not their values) and
    its run's config."""
    cfg = from_dict({**spec({"study_seed": [1]}).points()[0].config["train"]}).validate()
    torch.manual_seed(0)
    return build_mae("tiny", in_chans=1).eval(), cfg, tmp_path_factory.mktemp("run")


def test_the_sweep_measures_information_per_level(run):
    model, cfg, run_dir = run
    requested = {"information": {"samples": 40, "max_train": 60, "probe_epochs": 1}}
    metrics, artefacts = run_evaluations(requested, model, cfg, run_dir)
    saved = json.loads(Path(artefacts["eval_json"]).read_text())["information"]
    assert saved["pool"] == "tokens" and saved["test"] == 40
    metrics = metrics["information"]
    for view in ("full", "visible"):
        for name in ("ce", "untrained_ce", "pixels_ce", "bayes_ce", "gain_share",
                     "pixels_gain_share", "gap_se"):  # fmt: skip
            assert set(metrics[f"{name}_{view}"]) == {"level_0", "level_1", "level_2"}
    assert metrics["ce_full"]["level_1"] == pytest.approx(saved["full_image"]["ce"]["trained"]["1"])
    with pytest.raises(ValueError, match=r"unknown information option\(s\) \['budgets'\]"):
        run_evaluations({"information": {"budgets": [5]}}, model, cfg, run_dir)


def test_the_sweep_measures_the_class_only_probe_at_each_budget(run):
    model, cfg, run_dir = run
    requested = {"class_probe": {"samples": 40, "budgets": [30, 10], "max_epochs": 2}}
    metrics, artefacts = run_evaluations(requested, model, cfg, run_dir)
    assert "class_probe" in json.loads(Path(artefacts["eval_json"]).read_text())
    metrics = metrics["class_probe"]
    for view in ("full", "visible"):
        for who in ("", "untrained_", "pixels_"):
            for score in ("accuracy", "ce"):
                assert set(metrics[f"{who}{score}_{view}"]) == {"budget_10", "budget_30"}
        assert 0.0 <= metrics[f"bayes_accuracy_{view}"] <= 1.0
    with pytest.raises(ValueError, match="budgets=\\[2\\]: must be at least 5"):
        check_evaluations({"class_probe": {"budgets": [2]}}, {"source": "synthetic",
                                                              "model": MODEL})  # fmt: skip
    with pytest.raises(ValueError, match="class_probe needs the rhm32"):
        check_evaluations({"class_probe": {}}, {"source": "synthetic", "model": "qt32"})


def test_the_symbols_metrics_carry_the_rules_share_per_view():
    def view(trained: float, floor: float, bayes: float) -> dict:
        return {"trained": {"mean": {"rules": {0: trained}}},
                "untrained": {"mean": {"rules": {0: floor}}}, "bayes": {0: bayes}}  # fmt: skip

    result = {"test": 1000, "full_image": view(0.99, 0.9, 1.0),
              "visible_tokens": view(0.93, 0.9, 0.94)}  # fmt: skip
    for view in result.values():
        if isinstance(view, dict):
            view["trained"]["mean"]["chance"] = {0: 0.25}
    theory = {"d_c_bits": 1.0, "c_share": {0: 1.0}, "p_in_S": {0: 1.0}}
    metrics = {str(k): v for k, v in symbol_metrics(result, theory, "mean").items()}
    assert metrics["symbols.rules_share.full"] == pytest.approx(0.9)
    assert metrics["symbols.rules_readable.full"] == 1.0  # 10.5 SE
    assert metrics["symbols.rules_readable.visible"] == 0.0  # 4.2 SE
    assert metrics["symbols.rules_gap_se.visible"] == pytest.approx(0.04 / (0.09 / 1000) ** 0.5)
