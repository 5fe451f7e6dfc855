"""The `maeid` command line. Each subcommand lives in its own module of this package
and exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in the order `maeid --help` lists them.
COMMANDS = (
    "theory", "advise", "synth", "train", "sweep", "report", "identify", "evaluate", "export",
    "demo",
)  # fmt: skip


class OneLineErrors(argparse.ArgumentParser):
    """Usage mistakes as one line that points at --help (argparse prints the whole usage)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="maeid",
        description="Which latent variables does a masked autoencoder recover, and how do "
        "the masking ratio and the patch size decide it?",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"maeid.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        # Bad input: one clear line, no traceback. Bugs still raise.
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"maeid {args.command}: error: {msg}", file=sys.stderr)
        return 2
