"""Every command's --help states each option's default once."""

import re

import pytest

from maeid.cli import COMMANDS, build_parser


def command_help(name: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[name].format_help()


@pytest.mark.parametrize("name", COMMANDS)
def test_each_default_is_stated_once(name):
    text = command_help(name)
    options = re.split(r"\n(?=  -)", text.split("\noptions:", 1)[1])
    for block in options:
        assert len(re.findall("default", block, re.IGNORECASE)) <= 1, " ".join(block.split())
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_percent_signs_once(name):
    # argparse %-formats option help but prints descriptions as written: "95%%" in a
    # description reached users as "95%%".
    assert "%%" not in command_help(name)


def test_train_help_says_what_extending_does_to_the_lr_schedule():
    text = " ".join(command_help("train").split())
    assert "--resume --set run.steps=N" in text
    assert "recomputed for the new end" in text and "decays to optim.min_lr at step N" in text
    assert "--threads N" in text
