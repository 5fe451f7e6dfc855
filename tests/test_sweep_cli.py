"""`maeid sweep` from the command line: local runs, dry runs, and the SLURM dry run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from maeid.cli import main
from maeid.experiments.results_db import ResultsDB

STUB = """
from maeid.experiments.runner import RunOutcome

def quick_run(ctx):
    return RunOutcome({"score": ctx.config["train"]["mask"]["ratio"]}, {})
"""


def make_spec(tmp_path, monkeypatch):
    (tmp_path / "cli_stub.py").write_text(STUB)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {
        "name": "grid",
        "config": {"run": {"steps": 2}},
        "grid": {"mask_ratio": [0.5, 0.75], "mask_unit": [4, 8], "seed": [0]},
        "run": "cli_stub:quick_run",
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_sweep_command_runs_then_skips(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path, monkeypatch)
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--db", str(db)]) == 0
    with ResultsDB(db) as results:
        runs = results.runs("grid")
    assert len(runs) == 4 and {r.status for r in runs} == {"done"}
    assert all(str(tmp_path / "grid") in r.run_dir for r in runs)  # DB_DIR/SWEEP_NAME
    capsys.readouterr()
    assert main(["sweep", str(spec), "--db", str(db), "--dry-run"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("#")]
    assert len(lines) == 4 and all(ln.startswith("skip") for ln in lines)


def test_slurm_dry_run_lists_the_job_array_without_submitit(tmp_path, monkeypatch):
    spec = make_spec(tmp_path, monkeypatch)
    db = tmp_path / "r.db"
    code = (
        "import sys; from maeid.cli import main\n"
        f"rc = main(['sweep', {str(spec)!r}, '--db', {str(db)!r}, '--launcher', 'slurm',"
        " '--dry-run', '--partition', 'gpu', '--gpus-per-node', '4', '--time-min', '90'])\n"
        "assert 'submitit' not in sys.modules, 'dry run imported submitit'\n"
        "sys.exit(rc)\n"
    )
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "4 run(s) to submit as one SLURM job array" in out
    assert "slurm_partition = gpu" in out and "gpus_per_node = 4" in out
    assert "timeout_min = 90" in out and "function = cli_stub:quick_run" in out
    tasks = [ln for ln in out.splitlines() if ln.startswith("task ")]
    assert len(tasks) == 4
    assert "mask_ratio=0.75 mask_unit=8 seed=0" in tasks[3]
    assert all(": new run [" in task for task in tasks)
    assert not db.exists() and not (tmp_path / "grid").exists()  # a dry run writes nothing


def test_slurm_dry_run_leaves_out_finished_runs(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path, monkeypatch)
    db = tmp_path / "r.db"
    main(["sweep", str(spec), "--db", str(db)])
    capsys.readouterr()
    assert main(["sweep", str(spec), "--db", str(db), "--launcher", "slurm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 run(s) to submit" in out
    assert not [ln for ln in out.splitlines() if ln.startswith("task ")]


def test_a_missing_spec_is_one_clear_line(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.yaml"), "--db", str(tmp_path / "r.db")]) == 2
    assert "nope.yaml not found" in capsys.readouterr().err


def test_every_shipped_sweep_spec_resolves():
    from maeid.experiments.sweep_spec import SweepSpec

    specs = sorted(Path(__file__).parents[1].glob("configs/sweeps/*.yaml"))
    assert any(p.name == "demo.yaml" for p in specs)
    for path in specs:
        spec = SweepSpec.from_yaml(path)
        points = spec.points()
        assert len(points) == spec.size >= 1
        assert len({p.config_hash for p in points}) == len(points), path.name
    demo = SweepSpec.from_yaml(Path(__file__).parents[1] / "configs/sweeps/demo.yaml")
    assert len(demo.grid["mask_ratio"]) >= 3 and len(demo.grid["mask_unit"]) >= 2


class _FakeJob:
    """What submitit returns per task; here the task has already run in-process."""

    def __init__(self, index: int, fn, args):
        self.job_id = f"4242_{index}"
        try:
            self._result, self._error = fn(*args), None
        except Exception as err:
            self._result, self._error = None, err

    def done(self) -> bool:
        return True

    def result(self):
        if self._error is not None:
            raise self._error
        return self._result


class _FakeExecutor:
    """A stand-in for submitit.AutoExecutor that records parameters and runs tasks inline."""

    last = None

    def __init__(self, folder):
        self.folder, self.params, self.jobs = folder, {}, []
        _FakeExecutor.last = self

    def update_parameters(self, **params):
        self.params.update(params)

    def batch(self):
        import contextlib

        return contextlib.nullcontext()

    def submit(self, fn, *args):
        self.jobs.append(_FakeJob(len(self.jobs), fn, args))
        return self.jobs[-1]


def test_slurm_submit_records_each_task_result(tmp_path, monkeypatch):
    import types

    from maeid.experiments.slurm import SlurmOptions, submit
    from maeid.experiments.sweep_spec import SweepSpec

    monkeypatch.setitem(sys.modules, "submitit", types.SimpleNamespace(AutoExecutor=_FakeExecutor))
    spec = SweepSpec.from_yaml(make_spec(tmp_path, monkeypatch))
    tally = submit(
        spec, tmp_path / "r.db", tmp_path / "runs", SlurmOptions(partition="p"), poll_s=0
    )
    assert tally == {"done": 4, "failed": 0, "lost": 0}
    assert _FakeExecutor.last.params["slurm_partition"] == "p"
    with ResultsDB(tmp_path / "r.db") as results:
        runs = results.runs("grid")
    assert {r.status for r in runs} == {"done"}
    assert sorted(r.metrics["score"] for r in runs) == [0.5, 0.5, 0.75, 0.75]
    assert all((Path(r.run_dir) / "result.json").is_file() for r in runs)
    # Nothing left: a second submission submits no task.
    assert submit(spec, tmp_path / "r.db", tmp_path / "runs", SlurmOptions(), poll_s=0)["done"] == 0


def test_impossible_cells_are_listed_skipped_and_reported(tmp_path, monkeypatch, capsys):
    # qt32 images are 32 px: unit 16 leaves 4 units, and ratio 0.9 keeps int(0.4) = 0.
    path = make_spec(tmp_path, monkeypatch)
    spec = yaml.safe_load(path.read_text())
    spec["grid"] = {"mask_ratio": [0.5, 0.9], "mask_unit": [4, 16], "seed": [0]}
    path.write_text(yaml.safe_dump(spec))
    db = tmp_path / "r.db"
    assert main(["sweep", str(path), "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    impossible = [ln for ln in out.splitlines() if ln.startswith("impossible")]
    assert impossible == [
        "impossible, skipped: mask_ratio=0.9 mask_unit=16 seed=0: mask.ratio=0.9 with "
        "mask.unit=16 (patch 4) on 32x32 images: masking ratio 0.9 leaves no visible unit "
        "out of 4; use a smaller ratio or a smaller masking unit"
    ]
    assert len([ln for ln in out.splitlines() if ln.startswith("run ")]) == 3

    assert main(["sweep", str(path), "--db", str(db)]) == 0  # the sweep finishes
    err = capsys.readouterr().err
    assert "3 done, 1 impossible cell(s) skipped" in err
    with ResultsDB(db) as results:
        assert results.counts("grid")["done"] == 3
        assert [c["params"] for c in results.skipped("grid")] == [
            {"mask_ratio": 0.9, "mask_unit": 16, "seed": 0}
        ]
    assert main(["report", str(db)]) == 0
    report = (tmp_path / "r-report" / "report.md").read_text()  # DB_DIR/DB_STEM-report
    assert "1 grid cell(s) cannot run and were skipped" in report
    assert "- mask_ratio=0.9 mask_unit=16 seed=0: mask.ratio=0.9 with mask.unit=16" in report


def test_the_shipped_qt32_sweep_plans_its_two_impossible_cells():
    from maeid.experiments.sweep_spec import SweepSpec

    spec = SweepSpec.from_yaml(Path(__file__).parents[1] / "configs/sweeps/qt32_ratio_unit.yaml")
    runnable, skipped = spec.plan()
    assert len(runnable) == 28 and len(skipped) == 2
    assert {(s.params["mask_ratio"], s.params["mask_unit"]) for s in skipped} == {(0.9, 16)}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_dry_run_and_report_read_the_database_without_changing_it(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path, monkeypatch)
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--db", str(db), "--dry-run"]) == 0  # nothing yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli_stub.py", "grid.yaml"]
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("#")]
    assert len(lines) == 4 and all(ln.startswith("run  new run [new] ") for ln in lines)

    assert main(["sweep", str(spec), "--db", str(db)]) == 0
    (tmp_path / "grid" / "stray").mkdir()  # any folder content: a dry run leaves it be
    before = _files(tmp_path)
    assert main(["sweep", str(spec), "--db", str(db), "--dry-run"]) == 0
    assert main(["report", str(db)]) == 0
    after = _files(tmp_path)
    report = {k for k in after if k.startswith("r-report/")}
    assert {k: v for k, v in after.items() if k not in report} == before  # db bytes too
    assert "r-report/report.md" in report  # DB_DIR/<db stem>-report


def test_reports_of_two_databases_in_one_folder_do_not_collide(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path, monkeypatch)
    for name in ("a.db", "b.db"):
        assert main(["sweep", str(spec), "--db", str(tmp_path / name)]) == 0
        assert main(["report", str(tmp_path / name)]) == 0
    assert (tmp_path / "a-report" / "report.md").is_file()
    assert (tmp_path / "b-report" / "report.md").is_file()
    assert not (tmp_path / "report").exists()
