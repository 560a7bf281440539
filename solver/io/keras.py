"""Keras models (``.keras``, ``.h5``) as operator graphs: one op per layer, read by Keras in a child process.

TensorFlow (the ``keras`` extra) never enters nnpart's process: it takes seconds to import and shares no
process safely with OR-Tools (a CP-SAT solve after TensorFlow was imported crashed with a segmentation
fault here). A child process (``python -m solver.io.keras MODEL OUT``) loads the model and writes its layer
graph as a JSON graph (docs/graph-format.md), which this process reads.

The layer graph follows docs/design.md: nodes ``0..n-1`` are the layers in the model's order without its
input layers, with ``type`` (the layer class, e.g. ``Conv2D``), ``name``, ``weight`` 0 (times come from a
layer-times file or are measured, see ``solver.deploy.keras_timing``), ``constants`` (the layer's
variables, bytes each), and ``input_bytes`` / ``output_bytes`` on layers that read a model input or write a
model output; an edge u -> v carries u's output tensor when v reads it, in bytes at batch 1.
A layer called several times (a shared layer) is read at its first call, as Keras' own summary does.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import networkx as nx

from solver.errors import ModelError, TraceError
from solver.extras import require_installed
from solver.io.files import read_json
from solver.io.graphs import read_graph_json, write_graph_json

SUFFIXES = (".keras", ".h5")


def read_keras(path: str | Path) -> nx.DiGraph:
    """The layer graph of the Keras model in ``path`` (see the module docstring).

    Raises
    ------
    ModelError
        No such file, or Keras cannot load it (the message carries Keras' last line).
    MissingExtraError
        Keras (TensorFlow) is not installed.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "graph.json"
        run_keras_child("solver.io.keras", [path, out], path, "reading Keras models")
        graph = read_graph_json(out)
    graph.graph.update(unit="us")
    return graph


def run_keras_child(module: str, args: list, model: Path, what: str) -> None:
    """Run ``python -m module *args`` with TensorFlow quiet; ModelError naming ``model`` when it fails."""
    require_installed("keras", "keras", what)
    if not model.is_file():
        raise ModelError(f"{model}: no such Keras model file")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ModelError(f"{model}: Keras failed ({lines[-1] if lines else f'exit {done.returncode}'})")


def read_layer_times(path: str | Path, graph: nx.DiGraph) -> list[str]:
    """Set each layer's ``weight`` from a layer-times file ``{"unit": "us", "times": {layer name: us}}``.

    Returns the layers the file says could not be timed alone (its optional ``failed`` list; they count 0 us).

    Raises
    ------
    TraceError
        Not JSON, a time that is not a finite number >= 0, or a layer of the graph without a time.
    """
    path = Path(path)
    doc = read_json(path, "layer-times file", TraceError, dict)
    times = doc.get("times")
    if not isinstance(times, dict):
        raise TraceError(f"{path}: expected an object with 'times': {{layer name: microseconds}}")
    for v, name in graph.nodes(data="name"):
        value = times.get(name)
        if value is None:
            raise TraceError(f"{path}: no time for layer {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise TraceError(f"{path}: the time of layer {name!r} must be a finite number >= 0, not {value!r}")
        graph.nodes[v]["weight"] = round(value)
    failed = doc.get("failed", [])
    return [str(name) for name in failed] if isinstance(failed, list) else []


def load_model(path: str | Path):
    """The Keras model in ``path``, uncompiled (in the child process only: this imports TensorFlow)."""
    import keras

    return keras.models.load_model(path, compile=False)


def layer_graph(model) -> nx.DiGraph:
    """The layer graph of a loaded Keras model (in the child process)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    index = {layer.name: v for v, layer in enumerate(layers)}
    graph = nx.DiGraph(name=model.name)
    for v, layer in enumerate(layers):
        constants = {w.path: _nbytes(w.shape, w.dtype) for w in layer.weights}
        graph.add_node(v, type=type(layer).__name__, name=layer.name, weight=0, constants=constants)
    for v, layer in enumerate(layers):
        if not layer._inbound_nodes:
            continue
        for tensor in layer._inbound_nodes[0].input_tensors:
            source = tensor._keras_history.operation
            u = index.get(source.name)
            if u is None:  # a model input
                graph.nodes[v]["input_bytes"] = graph.nodes[v].get("input_bytes", 0) + _nbytes(tensor.shape[1:], tensor.dtype)
                continue
            key = f"{source.name}:{tensor._keras_history.tensor_index}"
            data = graph.get_edge_data(u, v) or {"tensors": {}, "bytes": 0}
            data["tensors"][key] = _nbytes(tensor.shape[1:], tensor.dtype)
            data["bytes"] = sum(data["tensors"].values())
            graph.add_edge(u, v, **data)
    for tensor in model.outputs:
        v = index.get(tensor._keras_history.operation.name)
        if v is not None:
            graph.nodes[v]["output_bytes"] = graph.nodes[v].get("output_bytes", 0) + _nbytes(tensor.shape[1:], tensor.dtype)
    return graph


def _nbytes(shape, dtype) -> int:
    size = {"float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int8": 1, "uint8": 1, "bool": 1}
    return math.prod(1 if d is None else int(d) for d in shape) * size.get(str(dtype), 4)


if __name__ == "__main__":
    model_file, out_file = sys.argv[1:3]
    write_graph_json(out_file, layer_graph(load_model(model_file)))
