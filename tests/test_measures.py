"""The measure registry: one definition per measure serves `maeid evaluate` and sweeps,
so a sweep's numbers reproduce exactly from its checkpoint, and every key is declared."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from maeid.cli import main
from maeid.experiments.results_db import ResultsDB
from maeid.measures import MetricKey, get_measure, measure_names
from maeid.measures.keys import undeclared
from maeid.measures.registry import DataKind, check_requested, parse_key

ROOT = Path(__file__).resolve().parents[1]
RHM = "rhm32:size=16,v=4,m=4,n_classes=4,p_texture=0.5"
FMNIST = Path("/usr/share/datasets/fashion-mnist")
TRAIN = {"run.steps": 3, "run.ckpt_every": 3, "run.recon_every": 0, "run.progress": False,
         "run.device": "cpu", "run.seed": 3, "data.seed": 2}  # fmt: skip
# every measure of each data kind, with options small enough for seconds
RHM_MEASURES = {
    "reconstruction": {"recon_images": 8, "max_test": 16},
    "attention": {"images": 8, "max_test": 16},
    "symbols": {"samples": 40, "max_train": 60, "probe_epochs": 1, "pool": "tokens"},
    "masked_loss": {"samples": 24},
    "information": {"samples": 40, "max_train": 60, "probe_epochs": 1},
    "class_probe": {"samples": 40, "budgets": [10, 20], "max_epochs": 2},
    "shape_bias": {"train": 40, "test": 20, "probe_epochs": 1},
    "rendition": {"train": 40, "test": 20, "probe_epochs": 1},
}
QT_MEASURES = {"identifiability": {"samples": 60, "landmarks": 20, "max_train": 60}}
FM_MEASURES = {
    "probe": {"max_train": 200, "max_test": 60, "probe_epochs": 2},
    "knn": {"max_train": 200, "max_test": 60},
    "tsne": {"max_test": 60},
    "robustness": {"max_train": 200, "max_test": 60, "probe_epochs": 2, "robust_images": 20},
}


def test_every_measure_is_registered_once_with_documented_options_and_keys():
    assert set(measure_names()) == {*RHM_MEASURES, *QT_MEASURES, *FM_MEASURES}
    for name in measure_names():
        measure = get_measure(name)
        assert measure.name == name
        assert all(doc for _, _, doc in measure.Options.describe()), name
        assert measure.keys or name == "tsne", name  # t-SNE draws a figure only
        for key in measure.keys:
            assert MetricKey.candidates(str(key))[0] == key
    assert get_measure("recon").name == "reconstruction"  # the earlier names still work
    assert get_measure("identify").name == "identifiability"
    with pytest.raises(ValueError, match="unknown measure 'fid'; choose from probe, knn"):
        get_measure("fid")


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        ({"symbols": {"sample": 10}}, r"unknown symbols option\(s\) \['sample'\]; known:"),
        ({"symbols": {"pool": "max"}}, r"symbols option pool='max': use one of cls, mean, tokens"),
        ({"symbols": {"samples": 1}}, r"symbols option samples=1: must be at least 2"),
        ({"symbols": {"samples": 2.5}}, r"samples=2.5: use a whole number"),
        ({"shape_bias": {"untrained_baseline": "yes"}}, r"untrained_baseline='yes': use true"),
        ({"class_probe": {"budgets": [1000, 3]}}, r"budgets=\[1000, 3\]: must be at least 5"),
        (
            {"probe": {}},
            r"probe needs class labels \(Fashion-MNIST, .*\); rhm32 has none\. "
            r"Measures for this data: reconstruction, attention",
        ),
        ({"recon": {}, "reconstruction": {}}, "named twice"),
    ],
)
def test_bad_requests_are_refused_before_any_work(requested, error):
    with pytest.raises(ValueError, match=error):
        check_requested(requested, DataKind("rhm32", latents=True, rhm=True))


def test_keys_print_as_dotted_names_and_parse_back():
    key = MetricKey("symbols", "probe_full", "level_2")
    assert str(key) == "symbols.probe_full.level_2"
    assert parse_key("symbols.probe_full.level_2") == key
    assert parse_key("rendition.redraw_0.25") == MetricKey("rendition", "redraw_0.25")
    assert parse_key("recon.masked.mse") == MetricKey("recon", "masked", "mse")
    assert key.matches(MetricKey("symbols", "probe_full", "level_*"))
    assert not key.matches(MetricKey("symbols", "knn_full", "level_*"))
    with pytest.raises(ValueError, match="declared by no measure"):
        parse_key("symbols.nonsense.level_0")
    with pytest.raises(ValueError, match="without '.'"):
        MetricKey("a.b", "c")


def _sweep(tmp: Path, name: str, data: dict, evaluate: dict):
    """A one-point sweep that trains for seconds on `data` (config overrides) and runs
    `evaluate`: (its database, its metrics as the database holds them, its training folder)."""
    spec = {"name": name, "base": str(ROOT / "configs" / "tiny.yaml"), "set": {**TRAIN, **data},
            "grid": {"mask_ratio": [0.5], "mask_unit": [4]}, "evaluate": evaluate}  # fmt: skip
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    db = tmp / f"{name}.db"
    assert main(["sweep", str(path), "--db", str(db), "--threads", "1"]) == 0
    with ResultsDB(db) as results:
        (row,) = results.metric_table(name)
        (run,) = results.runs(name)
    stored = {k: v for k, v in row.items() if "." in k and not k.startswith(("train.", "run."))}
    return db, stored, Path(run.run_dir) / "train"


@pytest.fixture(scope="module")
def rhm_sweep(tmp_path_factory):
    return _sweep(tmp_path_factory.mktemp("rhm"), "rhm", {"data.model": RHM}, RHM_MEASURES)


@pytest.fixture(scope="module")
def qt_sweep(tmp_path_factory):
    return _sweep(tmp_path_factory.mktemp("qt"), "qt", {}, QT_MEASURES)


@pytest.fixture(scope="module")
def fm_sweep(tmp_path_factory):
    if not FMNIST.is_dir():
        pytest.skip("Fashion-MNIST is not installed")
    data = {"data.source": "fashion_mnist"}
    return _sweep(tmp_path_factory.mktemp("fm"), "fm", data, FM_MEASURES)


def _evaluate(train_dir: Path, out: Path, evaluate: dict, data: str | None = None) -> dict:
    options = [
        f"--option={m}.{k}={json.dumps(v)}" for m, o in evaluate.items() for k, v in o.items()
    ]
    extra = ["--data", data] if data else []
    code = main(["evaluate", str(train_dir), "--measure", ",".join(evaluate), "--out", str(out),
                 "--threads", "1", "--no-progress", *extra, *options])  # fmt: skip
    assert code == 0
    return json.loads((out / "eval.json").read_text())


def _check_reproduced_and_declared(stored: dict, result: dict, evaluate: dict) -> None:
    metrics = result["metrics"]
    assert metrics == pytest.approx(stored, abs=0, rel=0), sorted(set(metrics) ^ set(stored))
    keys = [parse_key(k) for k in metrics]
    for name in evaluate:
        measure = get_measure(name)
        mine = [k for k in keys if any(k.matches(p) for p in measure.keys)]
        assert not undeclared(mine, measure.keys)
        written = {p for p in measure.keys if any(k.matches(p) for k in mine)}
        missing = set(measure.keys) - written - _CONDITIONAL.get(name, set())
        assert not missing, (name, sorted(map(str, missing)))


# declared keys that only some data write: the object share needs objects on black
_CONDITIONAL = {"attention": {MetricKey("attention", "cls_attention_on_object"),
                              MetricKey("attention", "object_area")}}  # fmt: skip


def test_evaluate_reproduces_an_rhm32_sweeps_metrics_exactly(rhm_sweep, tmp_path):
    _, stored, train_dir = rhm_sweep
    assert len(stored) > 200  # symbols, information, class_probe, texture, ...
    result = _evaluate(train_dir, tmp_path / "eval", RHM_MEASURES)
    _check_reproduced_and_declared(stored, result, RHM_MEASURES)
    assert result["seed"] == 3  # the run's seed, as the sweep used


def test_evaluate_reproduces_a_qt32_sweeps_identifiability_exactly(qt_sweep, tmp_path):
    _, stored, train_dir = qt_sweep
    result = _evaluate(train_dir, tmp_path / "eval", QT_MEASURES)
    _check_reproduced_and_declared(stored, result, QT_MEASURES)


def test_evaluate_reproduces_a_labelled_sweeps_metrics_exactly(fm_sweep, tmp_path):
    _, stored, train_dir = fm_sweep
    result = _evaluate(train_dir, tmp_path / "eval", FM_MEASURES, "fashion_mnist")
    _check_reproduced_and_declared(stored, result, FM_MEASURES)


def test_every_key_a_report_section_reads_is_declared_by_a_measure_or_the_pipeline():
    from maeid.experiments.pipeline import PIPELINE_KEYS
    from maeid.report.registry import SECTIONS, get_section

    get_section("symbols")  # loads the catalog
    declared = [*PIPELINE_KEYS, *(k for name in measure_names() for k in get_measure(name).keys)]
    for section in SECTIONS.values():
        for pattern in section.reads:
            keys = MetricKey.candidates(pattern)
            assert any(k.matches(d) for k in keys for d in declared), (section.name, pattern)


# For each measure, one metric whose value its report section must show (reconstruction's
# section plots against the ratio, so it needs two ratios; attention's are per-run figures).
SHOWN_IN = {
    "symbols": "symbols.probe_full.level_1",
    "information": "information.gain_share_full.level_0",
    "class_probe": "class_probe.accuracy_full.budget_20",
    "shape_bias": "shape_bias.trained",
    "rendition": "rendition.clean",
    "identifiability": "identifiability.measured.level_1",
    "probe": "probe.linear_top1",
    "knn": "probe.knn_top1",
    "robustness": "robustness.mean_top1",
}


@pytest.mark.parametrize("sweep", ["rhm_sweep", "qt_sweep", "fm_sweep"])
def test_each_measure_goes_from_training_through_the_database_into_its_report_section(
    sweep, request, tmp_path
):
    from maeid.report import build_report

    db, stored, _ = request.getfixturevalue(sweep)
    copy = tmp_path / "trained.db"  # the report shows trained runs only: mark this one so
    # (real images have no Bayes limit, hence no excess: their runs are shown as they are)
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)  # the database's write-ahead log included
        with target:
            target.execute("UPDATE metrics SET value = 0.1 WHERE name = 'train.normalised_excess'")
    text = (build_report(copy, tmp_path / "report").path).read_text()
    for name, key in SHOWN_IN.items():
        if key in stored:
            value = stored[key]
            shown = {f"{value:.3f}", f"{value:.2f}", f"{100 * value:.1f}", f"{100 * value:.2f}"}
            assert any(v in text for v in shown), (name, key, value)
