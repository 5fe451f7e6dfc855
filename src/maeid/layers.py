"""The package's layering: which part of maeid may import which, and the check of it.

`LAYERS` lists maeid's parts lowest first. A part is a subpackage (`maeid.hlvm`) or a
top-level module (`maeid.atomic`); `__init__` is the root package itself. A module may
import anything in its own part, and any part of a *lower* layer; parts that share a
layer are independent of each other. The order is the one the code followed but for
three imports, which were moved (`mae.export` read checkpoints through `train`;
`train.heldout_plot` and `theory.gaussian_plot` saved figures through `evaluate`):

- the root (`__version__`) and the standalone helpers, which import nothing of maeid;
  `atomic` reports failures as `output_path.OutputError`, and `figures` saves through
  `atomic`, hence three layers;
- `hlvm` (the data models) < `theory` (what they imply for masking) < `mae` (the
  network, whose masks come from `theory.masking`) and `data` (data sets, which sample
  `hlvm`), two independent parts < `train` (fits an `mae` on `data`, measured against
  `theory`) < `evaluate` (reads trained models) and `shipped` (the trained models that
  ship with a checkout), independent < `measures` (the registry of named
  evaluations) and `formal` (the bottleneck regime: trains and evaluates), independent
  < `experiments` (sweeps of all of these, into a results database) < `report` (renders
  that database) and `shipped_evidence` (the shipped models held against the theory),
  independent < `demo` (theory, the shipped models, a live run and the report) < `cli` <
  `__main__`.

Imports are read from the source with `ast`, never executed, so this runs without
torch. Every import counts, also one inside a function (a lazy import is still a
dependency) and one under `if TYPE_CHECKING:` (a type is still a dependency: it is how
an import cycle hides).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__",),
    ("output_path", "progress", "memory_budget", "seeds", "threads", "layers"),
    ("atomic",),
    ("figures",),
    ("hlvm",),
    ("theory",),
    ("mae", "data"),
    ("train",),
    ("evaluate", "shipped"),
    ("measures", "formal"),
    ("experiments",),
    ("report", "shipped_evidence"),
    ("demo",),
    ("cli",),
    ("__main__",),
)

PACKAGE_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    """`importer` imports `imported` at `path:line` (both dotted module names)."""

    importer: str
    imported: str
    path: Path
    line: int


def module_files(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """Every module of the package under `root`, by dotted name (`maeid.hlvm.spec`)."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def part_of(module: str) -> str:
    """The part of maeid a dotted module name belongs to (`maeid.hlvm.spec` -> `hlvm`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_index(part: str) -> int:
    """The position of `part` in `LAYERS`, lowest 0; KeyError naming it if undeclared."""
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise KeyError(f"maeid.{part} is in no layer: add it to LAYERS in {__name__}")


def imports(root: Path = PACKAGE_ROOT) -> list[Import]:
    """Every import of one maeid module by another, in file and line order."""
    files = module_files(root)
    found = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for target in _targets(node, module, is_package, files):
                if target in files and target != module:
                    found.append(Import(module, target, path, node.lineno))
    return sorted(found, key=lambda i: (str(i.path), i.line, i.imported))


def wrong_way(found: Iterable[Import]) -> list[Import]:
    """The imports of a part by a part that is not below it (a higher layer or a peer)."""
    bad = []
    for imp in found:
        here, there = part_of(imp.importer), part_of(imp.imported)
        if here != there and layer_index(there) >= layer_index(here):
            bad.append(imp)
    return bad


def cycles(found: Iterable[Import]) -> list[list[str]]:
    """The import cycles between modules: each strongly connected group of two or more
    modules, sorted, as one list."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    return sorted(sorted(group) for group in _strongly_connected(graph) if len(group) > 1)


def _targets(node: ast.AST, module: str, is_package: bool, files: Mapping[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: climb from this module's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # `from maeid import hlvm` imports the module maeid.hlvm, not a name of maeid.
    named = [f"{source}.{alias.name}" for alias in node.names]
    submodules = [name for name in named if name in files]
    return submodules if len(submodules) == len(named) else [source, *submodules]


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[set[str]]:
    # Tarjan's algorithm, iterative: the package is small but recursion depth is not ours.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups
