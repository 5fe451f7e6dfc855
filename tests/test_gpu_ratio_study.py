"""The GPU script of the ratio study runs unchanged on the CPU with a tiny budget."""

import os
import subprocess
import sys
from pathlib import Path

from maeid.experiments.results_db import ResultsDB

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_ratio_study.py"


def test_gpu_ratio_study_smoke_run_on_cpu(tmp_path):
    db = tmp_path / "study.db"
    env = {**os.environ, "SMOKE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--db", str(db), "--minutes", "5"],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with ResultsDB(db) as results:
        runs = results.runs("rhm32_ratio_study_smoke")
    assert sorted(r.mask_ratio for r in runs) == [0.25, 0.75]
    assert all(r.status == "done" and r.metrics["train"]["steps"] <= 4 for r in runs)
    assert all(r.config["train"]["run"]["device"] == "cpu" for r in runs)
    assert "rhm32_ratio_study_smoke on cpu" in done.stdout
    assert done.stdout.count(" done ") == 2
