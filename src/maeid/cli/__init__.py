"""The `maeid` command line. Each subcommand lives in its own module of this package
and exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`
(and, where an interrupted command can be taken up again, `on_interrupt(args) -> str`,
the line that says how).

Bad input ends with status 2 and one line on stderr; Ctrl-C with status 130 and one
line; a warning is one line too. Bugs still raise with their traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator

from maeid.progress import is_terminal

# Subcommand modules, in the order `maeid --help` lists them.
COMMANDS = (
    "theory", "advise", "synth", "train", "sweep", "report", "identify", "evaluate",
    "reconstruct", "export", "demo",
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
    try:
        args = build_parser().parse_args(argv)  # imports torch: Ctrl-C may land here too
    except KeyboardInterrupt:
        print("maeid: interrupted", file=sys.stderr)
        return 130
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for "rerun this" hints
    with _warnings_as_lines(args.command):
        try:
            return int(args.func(args) or 0)
        except (ValueError, FileNotFoundError, KeyError) as err:
            # Bad input: one clear line, no traceback. Bugs still raise.
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"maeid {args.command}: error: {msg}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            hint = getattr(args, "on_interrupt", None)
            # Bars left open would redraw after the line (when collected); close them first.
            # With none, on a terminal, the ^C stands at the end of a line: start a new one.
            closed = _close_progress_bars()
            start = "\n" if is_terminal(sys.stderr) and not closed else ""
            print(f"{start}maeid {args.command}: interrupted"
                  + (f"; {hint(args)}" if hint else ""), file=sys.stderr)  # fmt: skip
            return 130  # 128 + SIGINT, as the shell reports a process Ctrl-C ended


def _close_progress_bars() -> int:
    from tqdm import tqdm

    bars = list(getattr(tqdm, "_instances", ()))
    for bar in bars:
        bar.close()
    return len(bars)


@contextlib.contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Our warnings (UserWarning) as `maeid CMD: warning: ...`, not Python's two lines
    with a source path; other categories keep the usual form."""
    usual = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, UserWarning):
            print(f"maeid {command}: warning: {message}", file=sys.stderr)
        else:
            usual(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = usual
