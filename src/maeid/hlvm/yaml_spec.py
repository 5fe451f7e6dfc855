"""Any DAG from YAML. The format is, and stays:

```yaml
name: example            # optional
nodes:
  z1: {dim: 2}
  z2: {dim: 4, parents: [z1]}
  x1: {dim: 8, parents: [z2], observed: true}
```

Optional node keys: `noise_dim` (default: `dim` minus the parents' dims, i.e. a square
mechanism; set it smaller for an injective one), `noise_scale` (default 1), `level`
(default: depth from the roots) and `block: [row, col, h, w]` for image models, which
also set the top-level `image_shape: [C, H, W]`. A top-level `meta:` mapping is kept
as the spec's metadata. `dump_yaml` writes the same format back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from maeid.hlvm.spec import GraphSpec, Node, SpecError

# libyaml's C loader/dumper when present: qt224's spec has ~1000 nodes.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TOP_KEYS = {"nodes", "name", "image_shape", "meta"}
_NODE_KEYS = {"dim", "parents", "observed", "noise_dim", "noise_scale", "level", "block"}


def load_yaml(path: str | os.PathLike[str]) -> GraphSpec:
    """Read a model spec from a YAML file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no model file at {path}; give a builder name (qt32) or an existing YAML path"
        )
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not a text file; a model is a YAML file or a name such as "
                        "qt32")  from None  # fmt: skip
    default_name = path.stem
    return spec_from_yaml(text, default_name=default_name, source=str(path))


def spec_from_yaml(text: str, default_name: str = "model", source: str = "<yaml>") -> GraphSpec:
    """Parse a model spec from YAML text (see the module doc for the format)."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise SpecError(f"{source}: not valid YAML: {err}") from None
    return spec_from_dict(doc, default_name=default_name, source=source)


def spec_from_dict(doc: Any, default_name: str = "model", source: str = "<yaml>") -> GraphSpec:
    if not isinstance(doc, Mapping):
        raise SpecError(f"{source}: expected a mapping with a `nodes:` key at the top")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise SpecError(f"{source}: unknown top-level keys {unknown}; allowed: {sorted(_TOP_KEYS)}")
    nodes_doc = doc.get("nodes")
    if not isinstance(nodes_doc, Mapping) or not nodes_doc:
        raise SpecError(f"{source}: `nodes:` must map node names to their settings")
    nodes = [_node(str(name), fields, source) for name, fields in nodes_doc.items()]

    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise SpecError(f"{source}: `name` must be a non-empty string, got {name!r}")
    meta = doc.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise SpecError(f"{source}: `meta` must be a mapping, got {type(meta).__name__}")
    image_shape = doc.get("image_shape")
    if image_shape is not None:
        image_shape = _int_list(image_shape, 3, "image_shape", source)
    return GraphSpec(tuple(nodes), image_shape=image_shape, meta={**meta, "name": name})


def _node(name: str, fields: Any, source: str) -> Node:
    where = f"{source}: node {name}"
    if not isinstance(fields, Mapping):
        raise SpecError(f"{where}: expected a mapping like {{dim: 4}}, got {fields!r}")
    unknown = sorted(set(fields) - _NODE_KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown keys {unknown}; allowed: {sorted(_NODE_KEYS)}")
    if "dim" not in fields:
        raise SpecError(f"{where}: missing key `dim`")

    def integer(key: str, minimum: int) -> int | None:
        value = fields.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SpecError(f"{where}: `{key}` must be an integer >= {minimum}, got {value!r}")
        return value

    parents = fields.get("parents", [])
    if parents is None:
        parents = []
    if isinstance(parents, str) or not isinstance(parents, list):
        raise SpecError(f"{where}: `parents` must be a list of node names, got {parents!r}")
    if not all(isinstance(p, str) for p in parents):
        raise SpecError(f"{where}: `parents` must be a list of node names, got {parents!r}")
    observed = fields.get("observed", False)
    if not isinstance(observed, bool):
        raise SpecError(f"{where}: `observed` must be true or false, got {observed!r}")
    scale = fields.get("noise_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 0:
        raise SpecError(f"{where}: `noise_scale` must be a number >= 0, got {scale!r}")
    block = fields.get("block")
    if block is not None:
        block = tuple(_int_list(block, 4, "block", where))
    return Node(
        name=name,
        dim=integer("dim", 1),  # type: ignore[arg-type]
        parents=tuple(parents),
        observed=observed,
        noise_dim=integer("noise_dim", 0),
        noise_scale=float(scale),
        level=integer("level", 0),
        block=block,
    )


def _int_list(value: Any, length: int, key: str, where: str) -> tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and len(value) == length
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise SpecError(f"{where}: `{key}` must be a list of {length} integers, got {value!r}")
    return tuple(value)


def spec_to_dict(spec: GraphSpec) -> dict[str, Any]:
    """The YAML document of `spec`, writing only what differs from the defaults."""
    dims = {n.name: n.dim for n in spec.nodes}
    depth: dict[str, int] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for n in spec.nodes:
        depth[n.name] = 1 + max((depth[p] for p in n.parents), default=-1)
        entry: dict[str, Any] = {"dim": n.dim}
        if n.parents:
            entry["parents"] = list(n.parents)
        if n.observed:
            entry["observed"] = True
        if n.noise_dim != n.dim - sum(dims[p] for p in n.parents):
            entry["noise_dim"] = n.noise_dim
        if n.noise_scale != 1.0:
            entry["noise_scale"] = n.noise_scale
        if n.level != depth[n.name]:
            entry["level"] = n.level
        if n.block is not None:
            entry["block"] = list(n.block)
        nodes[n.name] = entry
    doc: dict[str, Any] = {"name": str(spec.meta.get("name", "model"))}
    if spec.image_shape is not None:
        doc["image_shape"] = list(spec.image_shape)
    meta = {k: v for k, v in spec.meta.items() if k != "name"}
    if meta:
        doc["meta"] = _plain(meta)
    doc["nodes"] = nodes
    return doc


def dump_yaml(spec: GraphSpec) -> str:
    """YAML text that `spec_from_yaml` reads back to an equal spec; one line per node."""

    class _Dumper(_BaseDumper):  # type: ignore[valid-type, misc]
        pass

    def node_mapping(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)

    _Dumper.add_representer(_Flow, node_mapping)
    doc = spec_to_dict(spec)
    doc["nodes"] = {k: _Flow(v) for k, v in doc["nodes"].items()}
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)


class _Flow(dict):
    """A mapping that `dump_yaml` writes on one line."""


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so that YAML stays plain."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
