"""Model Explorer overlays: its custom node data for a partition, a placement, op times and a backend assignment.

Model Explorer (Google AI Edge; PyPI ``ai-edge-model-explorer``, nnpart's extra ``explorer``) opens a TFLite
model and colours its nodes from "custom node data" files. The format, one graph's node data, is documented by
the package's builder (``model_explorer.node_data_builder.GraphNodeData``)::

    {"results": {"<node id>": {"value": 3, "bgColor": "#4e79a7"}, ...},
     "gradient": [{"stop": 0, "bgColor": "#fff5eb"}, {"stop": 1, "bgColor": "#7f2704"}]}

Its TFLite adapter names an operator's node by the operator's index in the subgraph ("12"), which is our op
index. Numbers are the values (part, device or backend number; microseconds); colours say which part, device
or backend, as in nnpart's HTML report. With the package installed, the documents are built with its builder and
:func:`start` serves the model with them; without it, :func:`write_node_data` writes the same JSON and
:func:`how_to_open` says how to look at it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from solver.errors import UsageError
from solver.extras import require
from solver.io.files import read_json, write_atomic
from solver.show.view import PartitionView, part_color

# A white-to-dark-orange ramp: short ops pale, long ops dark (ColorBrewer's Oranges).
HEAT = (("0", "#fff5eb"), ("0.5", "#fd8d3c"), ("1", "#7f2704"))


@dataclass(frozen=True)
class NodeData:
    """One overlay: its name (the file's stem suffix) and Model Explorer's JSON document."""

    name: str
    document: dict


def partition_node_data(view: PartitionView) -> list[NodeData]:
    """The part (or device) of each op, coloured as in the report, and each op's time as a heat map."""
    by = view.colored_by
    parts = {str(op.index): {"value": op.part, "bgColor": view.parts[op.part].color} for op in view.ops}
    times = {str(op.index): {"value": op.time} for op in view.ops}
    heat = [{"stop": float(stop), "bgColor": color} for stop, color in HEAT]
    return [NodeData(by, {"results": parts}), NodeData(f"time_{view.unit}", {"results": times, "gradient": heat})]


def backend_node_data(backends: list[str], names: list[str]) -> NodeData:
    """The backend of each op (``backends[v]``), numbered in the order of ``names`` and coloured by it."""
    number = {name: i for i, name in enumerate(dict.fromkeys([*names, *backends]))}
    results = {str(v): {"value": number[b], "bgColor": part_color(number[b])} for v, b in enumerate(backends)}
    return NodeData("backend", {"results": results})


def read_assignment(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """A backend assignment as ``solve pareto --pick`` prints it: its backends and onert environment.

    Either its lines (``BACKENDS="cpu;ruy"``, ``OP_BACKEND_Conv2D=ruy``, ``OP_BACKEND_MAP="3=ruy;5=cpu"``; ``#``
    comments) or its ``--json`` (``backends`` and ``environment``).

    Raises
    ------
    UsageError
        The file is missing, or names no backends.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read the backend assignment ({err.strerror})") from err
    if text.lstrip().startswith("{"):
        doc = read_json(path, "backend assignment", UsageError, dict)
        backends, environment = doc.get("backends"), doc.get("environment")
    else:
        environment = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                environment[key.strip()] = value.strip().strip('"')
        backends = environment.pop("BACKENDS", "").split(";")
    if not isinstance(environment, dict) or not isinstance(backends, list) or not all(backends):
        raise UsageError(f"{path}: not a backend assignment (solve pareto --pick's lines or its --json)")
    return [str(b) for b in backends], {str(k): str(v) for k, v in environment.items()}


def backends_per_op(backends: list[str], environment: dict[str, str], onert_types: list[str]) -> list[str]:
    """The backend of each op as onert picks it: ``OP_BACKEND_MAP`` by index, then ``OP_BACKEND_<type>``, then the
    first of ``BACKENDS``."""
    by_index = {}
    for item in environment.get("OP_BACKEND_MAP", "").split(";"):
        index, sep, backend = item.partition("=")
        if sep and index.strip().isdigit():
            by_index[int(index)] = backend.strip()
    return [by_index.get(v) or environment.get(f"OP_BACKEND_{t}") or backends[0] for v, t in enumerate(onert_types)]


def write_node_data(directory: str | Path, stem: str, overlays: list[NodeData]) -> list[Path]:
    """Write each overlay as ``<directory>/<stem>.<name>.json`` (built with the package's builder when installed)."""
    directory = Path(directory)
    paths = []
    for overlay in overlays:
        path = directory / f"{stem}.{overlay.name}.json"
        write_atomic(path, to_json(overlay).encode())
        paths.append(path)
    return paths


def to_json(overlay: NodeData) -> str:
    """The overlay's JSON text; with Model Explorer installed, its builder's (``GraphNodeData.to_json_string``)."""
    try:
        builder = importlib.import_module("model_explorer.node_data_builder")
    except ImportError:
        return json.dumps(overlay.document, indent=1)
    return built(builder, overlay.document).to_json_string(indent=1)


def built(builder, document: dict):
    """``document`` as the builder's ``GraphNodeData`` (its dataclasses, so a wrong field fails here)."""
    results = {key: builder.NodeDataResult(**value) for key, value in document["results"].items()}
    gradient = [builder.GradientItem(**item) for item in document.get("gradient", [])]
    return builder.GraphNodeData(results=results, gradient=gradient)


def how_to_open(model: Path, paths: list[Path]) -> str:
    """The command that opens ``model`` in Model Explorer with the overlays."""
    return (f"pip install 'nnpart[explorer]', then: model-explorer {model} "
            f"--node_data_paths={','.join(str(p) for p in paths)}")  # fmt: skip


def start(model: Path, paths: list[Path], host: str = "localhost", port: int = 8080, browser: bool = True) -> None:
    """Serve ``model`` with the overlays in Model Explorer until interrupted (opens a browser unless told not to)."""
    explorer = require("model_explorer", "explorer", "opening the model in Model Explorer")
    config = explorer.config()
    config.add_model_from_path(str(model))
    for path in paths:
        config.add_node_data_from_path(str(path))
    explorer.visualize_from_config(config, host=host, port=port, no_open_in_browser=not browser)
