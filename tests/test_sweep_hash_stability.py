"""A run's identity must not move when the code grows: finished runs are found by it.

The hashes below are those the shipped specs' first points had before later config keys
(run.compile, run.target_excess, run.init_from) existed; a new key left at its default
must keep them.
"""

from pathlib import Path

import pytest

from maeid.experiments.sweep_spec import SweepSpec

SWEEPS = Path(__file__).resolve().parents[1] / "configs" / "sweeps"


@pytest.mark.parametrize(
    ("spec", "first_hash"),
    [
        ("demo.yaml", "2d58a69444b7747411247972a29276b8b4feb66927f930b9d31f29c613a02553"),
        (
            "rhm32_ratio_unit.yaml",
            "9a2106a806cae35ee2e27fcdcd2db037f8498126f5abc3a3463357839960b533",
        ),
    ],
)
def test_shipped_sweeps_keep_their_run_hashes(spec, first_hash):
    assert SweepSpec.from_yaml(SWEEPS / spec).points()[0].config_hash == first_hash


def test_a_later_key_set_away_from_its_default_changes_the_hash():
    import yaml

    raw = yaml.safe_load((SWEEPS / "demo.yaml").read_text())
    raw["set"] = {**(raw.get("set") or {}), "run.target_excess": 0.25}
    changed = SweepSpec.from_dict(raw, where=SWEEPS / "demo.yaml").points()[0].config_hash
    assert changed != SweepSpec.from_yaml(SWEEPS / "demo.yaml").points()[0].config_hash
