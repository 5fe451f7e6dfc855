"""maeid's layering holds: no part imports a higher one, and no modules import each other.

The imports are read with `ast` (nothing is executed, torch is not loaded); the layering
is the one declared in `maeid.layers`.
"""

from pathlib import Path

import pytest

from maeid.layers import LAYERS, cycles, imports, layer_index, module_files, part_of, wrong_way


@pytest.fixture(scope="module")
def found():
    return imports()


def test_every_part_of_maeid_is_in_a_layer():
    parts = {part_of(module) for module in module_files()}
    declared = {part for layer in LAYERS for part in layer}
    assert parts <= declared, f"add {sorted(parts - declared)} to LAYERS in maeid/layers.py"
    assert len(declared) == sum(len(layer) for layer in LAYERS), "a part is in two layers"


def test_no_part_imports_a_higher_layer_or_a_peer(found):
    bad = [f"{i.path}:{i.line} {i.importer} -> {i.imported}" for i in wrong_way(found)]
    assert not bad, "wrong-way imports:\n" + "\n".join(bad)


def test_no_import_cycle_between_modules(found):
    groups = [" <-> ".join(group) for group in cycles(found)]
    assert not groups, "import cycles:\n" + "\n".join(groups)


def test_the_import_reader_sees_real_imports(found):
    # Spot checks against what the modules say, so an empty reading cannot pass the above.
    pairs = {(i.importer, i.imported) for i in found}
    assert ("maeid.atomic", "maeid.output_path") in pairs  # top-level `from ... import`
    assert ("maeid.data.synthetic", "maeid.hlvm") in pairs  # `from maeid import hlvm`, lazy
    assert ("maeid.train.loop", "maeid.theory.masking") in pairs


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "maeid" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "maeid"


def test_a_lazy_wrong_way_import_and_a_type_only_cycle_are_caught(tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "hlvm/__init__.py": "",
            "hlvm/a.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from maeid.hlvm.b import B\n",
            "hlvm/b.py": "from .a import A\n",
            "hlvm/c.py": "def f():\n    from maeid import train\n",
            "train/__init__.py": "from maeid.hlvm import a\n",
        },
    )
    found = imports(package)
    assert [(i.importer, i.imported, i.line) for i in wrong_way(found)] == [
        ("maeid.hlvm.c", "maeid.train", 2)
    ]
    assert cycles(found) == [["maeid.hlvm.a", "maeid.hlvm.b"]]


def test_an_undeclared_part_is_named():
    with pytest.raises(KeyError, match="maeid.nowhere is in no layer"):
        layer_index("nowhere")
    assert layer_index("hlvm") < layer_index("theory") < layer_index("train") < layer_index("cli")
