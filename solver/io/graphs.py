"""Generic graph inputs: the JSON graph format (docs/graph-format.md) and SALBP ``.IN2`` files.

Both readers return a ``networkx.DiGraph`` that follows docs/design.md: nodes ``0..n-1`` in file order
with ``weight``, ``type``, ``name`` and ``constants``; edges with ``tensors`` and ``bytes``; graph
attributes ``name`` and ``unit`` (of the weights). Anything malformed raises :class:`GraphFormatError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from solver.errors import GraphFormatError
from solver.io.files import read_json, write_json

FORMAT_VERSION = 1
# Weights and byte counts are summed in 64-bit integers (numpy prefix sums, CP-SAT): each and their sum must fit.
MAX_COUNT = 2**63 - 1
# Optional op fields: bytes of the model inputs the op reads and of the model outputs it writes.
_MODEL_IO = ("input_bytes", "output_bytes")


def read_graph_json(path: str | Path) -> nx.DiGraph:
    """Read a JSON graph file (docs/graph-format.md).

    Raises
    ------
    GraphFormatError
        Not JSON, a missing or mistyped field, a duplicate or unknown op id, a negative weight or byte
        count, a tensor written by two ops, or a cycle.
    """
    path = Path(path)
    doc = read_json(path, "graph", GraphFormatError)
    if not isinstance(doc, dict) or not isinstance(doc.get("ops"), list):
        raise GraphFormatError(f"{path}: expected an object with an 'ops' list")
    graph = nx.DiGraph(name=str(doc.get("name", path.stem)))
    index = _add_ops(path, graph, doc["ops"])
    _check_total(path, graph)
    edges = doc.get("edges", [])
    if not isinstance(edges, list):
        raise GraphFormatError(f"{path}: 'edges' must be a list")
    _add_edges(path, graph, index, edges)
    _check_acyclic(path, graph, lambda v: repr(doc["ops"][v]["id"]))
    unit = doc.get("unit", "us")
    if not isinstance(unit, str):
        raise GraphFormatError(f"{path}: 'unit' must be a string")
    graph.graph["unit"] = unit
    return graph


def read_in2(path: str | Path) -> nx.DiGraph:
    """Read a SALBP ``.IN2`` file: task count, task times, precedence pairs ``i,j`` ending with ``-1,-1``.

    Tasks ``1..n`` become ops ``0..n-1``. Text after the ``-1,-1`` line is ignored (several classical
    files carry notes there, some in an 8-bit encoding).

    Raises
    ------
    GraphFormatError
        A missing or non-integer count or time, a negative time, a malformed pair, a task number out of
        range, no ``-1,-1`` end marker, or a cycle.
    """
    path = Path(path)
    lines = _lines(path)
    n = _int_line(path, lines, 0, "the task count")
    if n < 1:
        raise GraphFormatError(f"{path}: line 1: the task count must be positive, not {n}")
    graph = nx.DiGraph(name=path.stem, unit="time units")
    for i in range(1, n + 1):
        time = _int_line(path, lines, i, f"the time of task {i}")
        if time < 0:
            raise GraphFormatError(f"{path}: line {i + 1}: task {i} has a negative time {time}")
        if time > MAX_COUNT:
            raise GraphFormatError(f"{path}: line {i + 1}: task {i} has a time {time} beyond 64 bits (2^63-1)")
        graph.add_node(i - 1, weight=time, type="TASK", name=f"task {i}", constants={})
    for lineno in range(n + 1, len(lines)):
        pair = _pair(path, lines[lineno], lineno + 1)
        if pair == (-1, -1):
            _check_acyclic(path, graph, lambda v: f"task {v + 1}")
            _check_total(path, graph)
            return graph
        if pair is None:
            continue
        i, j = pair
        if not (1 <= i <= n and 1 <= j <= n):
            raise GraphFormatError(f"{path}: line {lineno + 1}: task number out of 1..{n} in '{i},{j}'")
        graph.add_edge(i - 1, j - 1, tensors={}, bytes=0)
    raise GraphFormatError(f"{path}: no '-1,-1' line ends the precedence list")


def graph_to_json(graph: nx.DiGraph, name: str | None = None, unit: str = "us") -> dict[str, Any]:
    """The JSON graph document of ``graph`` (inverse of :func:`read_graph_json`, ids ``0..n-1``).

    An edge carrying several tensors becomes one entry per tensor; tensor keys become strings.
    """
    ops = []
    for v in range(graph.number_of_nodes()):
        data = graph.nodes[v]
        op = {"id": v, "name": data.get("name", str(v)), "type": data.get("type", "OP"),
              "weight": int(data.get("weight", 0))}
        if data.get("constants"):
            op["constants"] = {str(t): int(b) for t, b in data["constants"].items()}
        op.update({key: int(data[key]) for key in _MODEL_IO if key in data})
        ops.append(op)
    edges = []
    for u, v, data in graph.edges(data=True):
        tensors = data.get("tensors") or {}
        if not tensors:
            edges.append({"from": u, "to": v, "bytes": int(data.get("bytes", 0))})
        for t, nbytes in tensors.items():
            edges.append({"from": u, "to": v, "bytes": int(nbytes), "tensor": str(t)})
    return {"format": "nnpart-graph", "version": FORMAT_VERSION, "name": name or graph.graph.get("name", ""),
            "unit": unit, "ops": ops, "edges": edges}


def write_graph_json(path: str | Path, graph: nx.DiGraph, name: str | None = None, unit: str = "us") -> Path:
    """Write ``graph`` as a JSON graph file, atomically."""
    return write_json(path, graph_to_json(graph, name, unit), indent=1)


def _add_ops(path: Path, graph: nx.DiGraph, ops: list) -> dict[Any, int]:
    """Add the ops in file order; return op id -> node number."""
    index: dict[Any, int] = {}
    for v, op in enumerate(ops):
        where = f"{path}: ops[{v}]"
        if not isinstance(op, dict) or "id" not in op:
            raise GraphFormatError(f"{where}: expected an object with an 'id'")
        op_id = op["id"]
        if isinstance(op_id, bool) or not isinstance(op_id, (int, str)):
            raise GraphFormatError(f"{where}: 'id' must be an integer or a string")
        if op_id in index:
            raise GraphFormatError(f"{where}: duplicate op id {op_id!r}")
        index[op_id] = v
        constants = _constants(where, op)
        graph.add_node(v, weight=_count(where, op, "weight", required=True), type=str(op.get("type", "OP")),
                       name=str(op.get("name", op_id)), constants=constants)
        for key in _MODEL_IO:
            if key in op:
                graph.nodes[v][key] = _count(where, op, key, required=True)
    return index


def _constants(where: str, op: dict) -> dict[str, int]:
    """``constants`` (shared tensors by name) plus ``constants_bytes`` (the op's own, unnamed)."""
    shared = op.get("constants", {})
    if not isinstance(shared, dict):
        raise GraphFormatError(f"{where}: 'constants' must map tensor names to bytes")
    constants = {str(name): _count(where, shared, name, required=True) for name in shared}
    own = _count(where, op, "constants_bytes", required=False)
    if own:
        constants[f"{op['id']}:constants"] = own
    return constants


def _add_edges(path: Path, graph: nx.DiGraph, index: dict[Any, int], edges: list) -> None:
    producers: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for e, edge in enumerate(edges):
        where = f"{path}: edges[{e}]"
        if not isinstance(edge, dict) or "from" not in edge or "to" not in edge:
            raise GraphFormatError(f"{where}: expected an object with 'from' and 'to'")
        ends = []
        for key in ("from", "to"):
            op_id = edge[key]
            if isinstance(op_id, bool) or not isinstance(op_id, (int, str)) or op_id not in index:
                raise GraphFormatError(f"{where}: unknown op id {op_id!r} in '{key}'")
            ends.append(index[op_id])
        u, v = ends
        nbytes = _count(where, edge, "bytes", required=False)
        tensor = str(edge.get("tensor", f"{edge['from']}->{edge['to']}"))
        if producers.setdefault(tensor, u) != u:
            raise GraphFormatError(f"{where}: tensor {tensor!r} is written by two ops")
        if sizes.setdefault(tensor, nbytes) != nbytes:
            raise GraphFormatError(f"{where}: tensor {tensor!r} has {nbytes} bytes here, {sizes[tensor]} on another edge")
        if not graph.has_edge(u, v):
            graph.add_edge(u, v, tensors={}, bytes=0)
        data = graph.edges[u, v]
        data["bytes"] += nbytes - data["tensors"].get(tensor, 0)
        data["tensors"][tensor] = nbytes


def _count(where: str, obj: dict, key: str, required: bool) -> int:
    """A non-negative integer field (an integral float is accepted)."""
    if key not in obj:
        if required:
            raise GraphFormatError(f"{where}: missing '{key}'")
        return 0
    value = obj[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphFormatError(f"{where}: '{key}' must be an integer, not {value!r}")
    if value < 0:
        raise GraphFormatError(f"{where}: '{key}' is negative ({value})")
    if value > MAX_COUNT:
        raise GraphFormatError(f"{where}: '{key}' is {value}, more than a 64-bit integer holds (2^63-1)")
    return value


def _check_total(path: Path, graph: nx.DiGraph) -> None:
    total = sum(weight for _, weight in graph.nodes(data="weight"))
    if total > MAX_COUNT:
        raise GraphFormatError(f"{path}: the weights sum to {total}, more than a 64-bit integer holds (2^63-1)")


def _check_acyclic(path: Path, graph: nx.DiGraph, label) -> None:
    if nx.is_directed_acyclic_graph(graph):  # fast; find_cycle's search takes 15 s on 100,000 ops
        return
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = " -> ".join(label(u) for u, _ in cycle) + f" -> {label(cycle[0][0])}"
    raise GraphFormatError(f"{path}: the graph has a cycle: {names}")


def _lines(path: Path) -> list[str]:
    try:
        # latin-1 maps every byte, so 8-bit notes after the end marker cannot fail decoding.
        return path.read_bytes().decode("latin-1").splitlines()
    except FileNotFoundError as err:
        raise GraphFormatError(f"{path}: no such file") from err
    except OSError as err:
        raise GraphFormatError(f"{path}: cannot read ({err.strerror})") from err


def _int_line(path: Path, lines: list[str], i: int, what: str) -> int:
    if i >= len(lines):
        raise GraphFormatError(f"{path}: the file ends before {what} (line {i + 1})")
    try:
        return int(lines[i].strip())
    except ValueError as err:
        raise GraphFormatError(f"{path}: line {i + 1}: expected {what}, got {lines[i].strip()!r}") from err


def _pair(path: Path, line: str, lineno: int) -> tuple[int, int] | None:
    """``i,j`` as integers; None for a blank line."""
    text = line.strip()
    if not text:
        return None
    fields = [f.strip() for f in text.split(",")]
    try:
        if len(fields) != 2:
            raise ValueError
        return int(fields[0]), int(fields[1])
    except ValueError as err:
        raise GraphFormatError(f"{path}: line {lineno}: expected a precedence pair 'i,j', got {text!r}") from err
