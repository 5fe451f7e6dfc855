"""Layout of src/maeid: size per part, long functions, wrong-way imports, import cycles.

    .venv/bin/python benchmarks/layout.py [--max-lines 60] [--package src/maeid]

Prints, for each part of maeid (a subpackage or a top-level module, ordered by the
layering declared in `maeid.layers`): its modules and its lines of code, counted as
lines that are neither blank nor only a comment (docstrings count). Then every function
or method longer than `--max-lines` lines (from its `def` line to its last line,
docstring included, decorators not) with file:line; every import that goes the wrong way
through the declared layering (lazy and TYPE_CHECKING imports included); and every
import cycle between modules. Reads the source with `ast`; imports nothing of maeid's
dependencies.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from maeid.layers import LAYERS, PACKAGE_ROOT, cycles, imports, module_files, part_of, wrong_way


def code_lines(text: str) -> int:
    """Lines that are neither blank nor only a comment."""
    return sum(
        1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def long_functions(path: Path, max_lines: int) -> list[tuple[int, str, int]]:
    """(line, qualified name, length) of each function or method in `path` over
    `max_lines` lines, nested ones included."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = child.end_lineno - child.lineno + 1
                    if length > max_lines:
                        found.append((child.lineno, name, length))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), filename=str(path)), "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=60, help="longest function allowed")
    parser.add_argument(
        "--package",
        type=Path,
        default=PACKAGE_ROOT,
        help="the maeid folder to measure (another checkout's src/maeid, e.g. an older commit)",
    )
    args = parser.parse_args()
    package = args.package.resolve()
    if not (package / "__init__.py").is_file() or package.name != "maeid":
        parser.error(f"--package {args.package} is not a maeid package folder (src/maeid)")
    files = module_files(package)
    repo = package.parent.parent
    order = [part for layer in LAYERS for part in layer]
    parts = sorted(
        {part_of(m) for m in files}, key=lambda p: (order.index(p) if p in order else len(order), p)
    )

    print(f"# Lines of code per part of src/maeid (non-blank, non-comment; {len(files)} modules)")
    sizes = {p: [0, 0] for p in parts}
    for module, path in files.items():
        sizes[part_of(module)][0] += 1
        sizes[part_of(module)][1] += code_lines(path.read_text())
    for part in parts:
        undeclared = "" if part in order else "   (in no layer)"
        print(f"{part:<14} {sizes[part][0]:>4} modules {sizes[part][1]:>7} lines{undeclared}")
    print(f"{'total':<14} {len(files):>4} modules {sum(s[1] for s in sizes.values()):>7} lines")

    print(f"\n# Functions and methods over {args.max_lines} lines (def to last line)")
    long = []
    for path in files.values():
        for line, name, length in long_functions(path, args.max_lines):
            long.append((length, f"{path.relative_to(repo)}:{line}", name))
    for length, where, name in sorted(long, key=lambda x: (-x[0], x[1])):
        print(f"{length:>5}  {where}  {name}")
    print(f"{len(long)} functions over {args.max_lines} lines")

    print("\n# Wrong-way imports (layering in maeid/layers.py, lowest first)")
    print("  " + " < ".join("/".join(layer) for layer in LAYERS))
    found = imports(package)
    bad = [
        imp
        for imp in wrong_way(
            imp
            for imp in found
            if part_of(imp.importer) in order and part_of(imp.imported) in order
        )
    ]
    for imp in bad:
        print(f"  {imp.path.relative_to(repo)}:{imp.line}  {imp.importer} -> {imp.imported}")
    print(f"{len(bad)} wrong-way imports (of {len(found)} imports between maeid modules)")

    print("\n# Import cycles between modules")
    groups = cycles(found)
    for group in groups:
        print("  " + " <-> ".join(group))
    print(f"{len(groups)} import cycles")


if __name__ == "__main__":
    main()
