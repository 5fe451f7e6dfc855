"""The config tree: YAML, --set overrides, refusals."""

import pytest

from maeid.train.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    differences,
    from_dict,
    load_config,
    to_yaml,
)


def test_yaml_then_overrides_with_types(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  source: fashion_mnist\noptim:\n  base_lr: 1e-3\n  batch_size: 64\n")
    cfg = load_config(
        path,
        ["mask.ratio=0.9", "mask.unit=8", "optim.clip_grad=1", "model.norm_pix_loss=true",
         "data.crop_scale=[0.3, 1]", "data.model=123", "optim.lr=null"],
    )  # fmt: skip
    assert cfg.data.source == "fashion_mnist" and cfg.optim.batch_size == 64
    assert cfg.optim.base_lr == 1e-3 and isinstance(cfg.optim.base_lr, float)
    assert cfg.mask.ratio == 0.9 and cfg.mask.unit == 8
    assert cfg.optim.clip_grad == 1.0 and isinstance(cfg.optim.clip_grad, float)
    assert cfg.model.norm_pix_loss is True and cfg.data.crop_scale == (0.3, 1.0)
    assert cfg.data.model == "123" and cfg.optim.lr is None
    assert cfg.run.steps == TrainConfig().run.steps  # untouched keys keep their defaults


def test_resolved_yaml_round_trips(tmp_path):
    cfg = apply_overrides(TrainConfig(), ["data.mean=[0.5]", "optim.betas=[0.9, 0.99]"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(cfg))
    again = load_config(path)
    assert again == cfg and differences(again, cfg) == []


@pytest.mark.parametrize(
    "override, key",
    [
        ("mask.ratoi=0.9", "mask.ratoi"),
        ("optimizer.lr=1", "optimizer"),
        ("run.steps=ten", "run.steps"),
        ("run.steps=1.5", "run.steps"),
        ("run.steps=true", "run.steps"),
        ("mask.ratio=[0.5]", "mask.ratio"),
        ("optim.betas=[0.9]", "optim.betas"),
        ("data.hflip=maybe", "data.hflip"),
        ("steps=10", "steps"),
        ("run.steps", "run.steps"),
    ],
)
def test_bad_overrides_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        apply_overrides(TrainConfig(), [override])


def test_unknown_yaml_keys_are_refused_with_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr_base: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*optim\.lr_base"):
        load_config(path)
    with pytest.raises(ConfigError, match="section 'trainer'"):
        from_dict({"trainer": {"steps": 1}})


@pytest.mark.parametrize(
    "override", ["mask.ratio=1.0", "data.source=imagenet", "run.device=tpu", "run.steps=0"]
)
def test_meaningless_values_are_refused(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        load_config(None, [override])


def test_differences_list_each_changed_key():
    a = TrainConfig()
    b = apply_overrides(TrainConfig(), ["mask.ratio=0.5", "run.log_every=3"])
    assert differences(a, b) == [("mask.ratio", 0.75, 0.5), ("run.log_every", 10, 3)]
    assert differences(a, b, ignore=frozenset({"run.log_every"})) == [("mask.ratio", 0.75, 0.5)]


def test_later_keys_at_their_defaults_leave_a_runs_identity_unchanged():
    from maeid.train.config import LATER_DEFAULTS, TrainConfig, identity, to_dict

    plain = identity(TrainConfig())
    for key in LATER_DEFAULTS:
        section, name = key.split(".")
        assert name not in plain[section]
        assert name in to_dict(TrainConfig())[section]  # the run's own config keeps it
    set_one = TrainConfig()
    set_one.run.target_excess = 0.25
    assert identity(set_one)["run"]["target_excess"] == 0.25
