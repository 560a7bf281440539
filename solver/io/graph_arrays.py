"""The JSON graph format read as arrays, element by element: a million ops without a Python object per op.

:func:`read_graph_arrays` accepts exactly what :func:`solver.io.graphs.read_graph_json` accepts and yields the
same graph, held as :class:`GraphArrays`: the op weights and the edge entries in numpy arrays, the op types
shared, names, constants and model inputs/outputs only for the ops that have them. ``to_networkx()`` builds the
reference reader's graph when a caller needs one (drawing, placement); partitioning does not.

The reader scans the file's top-level object with the standard library's JSON scanner, one op or edge at a
time, so the document is never held as Python objects (a 1,000,000-op file took 2.5-3 GB that way); ops and
edges written as plain objects of one layout (``{"id", "type", "weight"}``, ``{"from", "to", "bytes"}``, as
big graphs are) are parsed in bulk by :mod:`solver.io.json_runs` instead (an ASCII file). Any input
it refuses is read again by the reference reader, which raises the error with its message (one wording of
each error, in one place); the cycle check is left to the caller that sorts the graph (``heuristics.dag``),
which refers cycles to the reference reader likewise (:func:`refuse`).
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

import networkx as nx
import numpy as np

from solver.errors import GraphFormatError
from solver.io.graphs import _MODEL_IO, MAX_COUNT, read_graph_json
from solver.io.json_runs import Layout, Run, read_run

_SPACE = re.compile(r"[ \t\n\r]*")
_SPACE_BYTES = re.compile(rb"[ \t\n\r]*")
_AFTER_VALUE = " \t\n\r,:}"  # what may follow a key or a value of the top-level object
_STREAMED = ("ops", "edges")
_OP_LAYOUT = Layout(("id", "type", "weight"), ("int", "str", "int"))
_EDGE_LAYOUT = Layout(("from", "to", "bytes"), ("int", "int", "int"))


class _Refused(Exception):
    """Input the fast reader does not take; the reference reader says why."""


class _Unusual(Exception):
    """A top-level object that does not name 'ops' and then 'edges' once each: read whole instead."""


@dataclass(frozen=True)
class GraphArrays:
    """A JSON graph file as arrays (module doc); ops are ``0..n-1`` in file order, edge entries in file order.

    An edge entry names its tensor by ``tensor[e]``, an index into ``tensor_names``, or -1 for the default name
    (``"<from id>-><to id>"``). Several entries may join one pair of ops (one per tensor, or repeated).
    """

    path: Path
    name: str
    unit: str
    weights: np.ndarray  # int64, op v's weight
    types: list[str]  # op v's type (equal types are one string)
    names: dict[int, str]  # ops whose name is not their id's text
    ids: list[Any] | None  # the file's op ids; None when they are 0..n-1 in order
    constants: dict[int, dict[str, int]]  # ops that read constants: tensor name -> bytes
    model_io: dict[str, dict[int, int]]  # "input_bytes" / "output_bytes" -> op -> bytes
    src: np.ndarray  # int64, edge entry e goes from op src[e] ...
    dst: np.ndarray  # ... to op dst[e]
    nbytes: np.ndarray  # int64, bytes of entry e's tensor
    tensor: np.ndarray  # int64, index into tensor_names or -1
    tensor_names: list[str]

    @property
    def n(self) -> int:
        return len(self.weights)

    def op_id(self, v: int) -> Any:
        return v if self.ids is None else self.ids[v]

    def op_name(self, v: int) -> str:
        return self.names[v] if v in self.names else str(self.op_id(v))

    def tensor_name(self, e: int) -> str:
        t = int(self.tensor[e])
        u, v = int(self.src[e]), int(self.dst[e])
        return self.tensor_names[t] if t >= 0 else f"{self.op_id(u)}->{self.op_id(v)}"

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[int, int, list[int]]]]:
        """The distinct edges sorted by (from, to), the bytes each carries (its distinct tensors) and the
        data tensors (name -> bytes, producer, consumers), in the order ``heuristics.dag.Dag`` lists them.
        Edges already sorted and distinct come back as this object's own arrays, not copies: read them only."""
        key = self.src * max(1, self.n) + self.dst
        if (self.tensor < 0).all():  # a tensor per pair: repeated entries of a pair are one (same bytes, checked)
            if (key[1:] > key[:-1]).all():  # sorted without repeats (as big graphs are written): the arrays as they are
                src, dst, nbytes = self.src, self.dst, self.nbytes
            else:
                first = np.unique(key, return_index=True)[1]
                src, dst, nbytes = self.src[first], self.dst[first], self.nbytes[first]
            if self.ids is None:
                return src, dst, nbytes, EdgeTensors(src, dst, nbytes)
            names = (f"{self.op_id(u)}->{self.op_id(v)}" for u, v in zip(src.tolist(), dst.tolist()))
            tensors = {t: (b, u, [v]) for t, u, v, b in zip(names, src.tolist(), dst.tolist(), nbytes.tolist())}
            return src, dst, nbytes, tensors
        entries = np.lexsort((np.arange(len(key)), key))  # by pair, then file order
        tensors: dict[str, tuple[int, int, list[int]]] = {}
        src, dst, nbytes = [], [], []
        last, seen = -1, set()
        for e in entries.tolist():
            u, v, k = int(self.src[e]), int(self.dst[e]), int(key[e])
            if k != last:
                src.append(u)
                dst.append(v)
                nbytes.append(0)
                last, seen = k, set()
            t = self.tensor_name(e)
            if t not in seen:
                seen.add(t)
                nbytes[-1] += int(self.nbytes[e])
                tensors.setdefault(t, (int(self.nbytes[e]), u, []))[2].append(v)
        as_array = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
        return as_array(src), as_array(dst), as_array(nbytes), tensors

    def constant_table(self) -> dict[str, tuple[int, list[int]]]:
        """Constant tensor -> (bytes, ops reading it), ops ascending."""
        table: dict[str, tuple[int, list[int]]] = {}
        for v in sorted(self.constants):
            for c, nbytes in self.constants[v].items():
                table.setdefault(c, (nbytes, []))[1].append(v)
        return table

    def to_networkx(self) -> nx.DiGraph:
        """The graph :func:`solver.io.graphs.read_graph_json` reads from the same file (nodes, edges, order)."""
        graph = nx.DiGraph(name=self.name)
        for v, (w, t) in enumerate(zip(self.weights.tolist(), self.types)):
            graph.add_node(v, weight=w, type=t, name=self.op_name(v), constants=dict(self.constants.get(v, {})))
        for key in _MODEL_IO:
            for v, nbytes in self.model_io.get(key, {}).items():
                graph.nodes[v][key] = nbytes
        for e, (u, v, nbytes) in enumerate(zip(self.src.tolist(), self.dst.tolist(), self.nbytes.tolist())):
            if not graph.has_edge(u, v):
                graph.add_edge(u, v, tensors={}, bytes=0)
            data, tensor = graph.edges[u, v], self.tensor_name(e)
            data["bytes"] += nbytes - data["tensors"].get(tensor, 0)
            data["tensors"][tensor] = nbytes
        graph.graph["unit"] = self.unit
        return graph


class EdgeTensors(Mapping):
    """The data tensors of a graph whose ops are ``0..n-1`` and whose edges name none: one per edge (u, v),
    named ``"u->v"``, of the edge's bytes, read by v. The mapping ``heuristics.dag.Dag.tensors`` holds,
    computed from the edge arrays when asked (as a dict, 250 bytes an edge)."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, nbytes: np.ndarray) -> None:
        self.src, self.dst, self.nbytes = src, dst, nbytes

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self) -> Iterator[str]:
        return (f"{u}->{v}" for u, v in zip(self.src.tolist(), self.dst.tolist()))

    def __getitem__(self, name: object) -> tuple[int, int, list[int]]:
        u, _, v = name.partition("->") if isinstance(name, str) else ("", "", "")
        if not (u.isdecimal() and v.isdecimal() and name == f"{int(u)}->{int(v)}"):
            raise KeyError(name)
        lo, hi = np.searchsorted(self.src, int(u)), np.searchsorted(self.src, int(u), side="right")
        e = lo + int(np.searchsorted(self.dst[lo:hi], int(v)))
        if e >= hi or self.dst[e] != int(v):
            raise KeyError(name)
        return int(self.nbytes[e]), int(u), [int(v)]

    def values(self) -> Iterator[tuple[int, int, list[int]]]:  # type: ignore[override]
        return ((b, u, [v]) for u, v, b in zip(self.src.tolist(), self.dst.tolist(), self.nbytes.tolist()))

    def items(self) -> Iterator[tuple[str, tuple[int, int, list[int]]]]:  # type: ignore[override]
        return zip(iter(self), self.values())

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``Dag.tensor_arrays``: bytes and producer of each tensor, then (tensor, consumer) of every read."""
        return self.nbytes, self.src, np.arange(len(self.src), dtype=np.int64), self.dst


def read_graph_arrays(path: str | Path) -> GraphArrays:
    """Read a JSON graph file (docs/graph-format.md) as :class:`GraphArrays`; cycles are not looked for.

    Raises
    ------
    GraphFormatError
        As :func:`solver.io.graphs.read_graph_json` does, with its messages (but for a cycle).
    """
    path = Path(path)
    try:
        return _Reader(path).read()
    except (_Refused, ValueError, KeyError, IndexError, TypeError, StopIteration, RecursionError, OSError):
        pass  # ValueError: JSON syntax, bad UTF-8, Python's int-length limit; OSError: missing or unreadable
    refuse(path)


def refuse(path: Path) -> None:
    """Raise the reference reader's error for ``path``, which the fast reader or the graph's sort refused."""
    read_graph_json(path)
    raise GraphFormatError(f"{path}: the streaming graph reader refused a graph the full reader accepts")


class _Reader:
    """One pass over the file: ops and edges are checked and stored as they are scanned. An ASCII file is held as
    its bytes only (byte and character positions agree): the bulk parse reads them, the top level is scanned a
    window at a time, and the whole text is decoded only when an array is read element by element."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = path.read_bytes()
        ascii_only = data.isascii()
        self.data = data if ascii_only else None
        self._text = None if ascii_only else data.decode("utf-8")
        self.size = len(data) if ascii_only else len(self._text)
        self.scan_once = json.JSONDecoder().scan_once

    @property
    def text(self) -> str:
        """The file's whole text (decoded when first asked for)."""
        if self._text is None:
            self._text = self.data.decode("ascii")
        return self._text

    def char(self, i: int) -> str:
        return self._text[i] if self._text is not None else chr(self.data[i])

    def scan(self, i: int) -> tuple[Any, int]:
        """The JSON value at ``i`` and the index after it (an ASCII file's bytes decoded a window at a time: the
        values scanned at the top level are small, the arrays are not read here)."""
        if self._text is not None:
            return self.scan_once(self._text, i)
        size = 1 << 16
        while True:
            window = self.data[i : i + size].decode("ascii")
            whole = i + size >= len(self.data)
            try:
                value, end = self.scan_once(window, 0)
            except (ValueError, StopIteration):
                if whole:
                    raise
            else:  # a number cut by the window's end parses as a shorter one: accept only what a value ends at
                if whole or (end < len(window) and window[end] in _AFTER_VALUE):
                    return value, i + end
            size *= 4

    def read(self) -> GraphArrays:
        try:
            ops, edges, doc = self._streamed()
        except _Unusual:  # edges before ops, a key given twice: the whole document, then the same checks
            doc = json.loads(self.text)
            if not isinstance(doc, dict) or not isinstance(doc.get("ops"), list):
                raise _Refused from None
            ops = _Ops()
            for op in doc["ops"]:
                ops.add(op)
            edges = _Edges(ops)
            for edge in _listed(doc.get("edges", [])):
                edges.add(edge)
        unit = doc.get("unit", "us")
        weights = np.frombuffer(ops.weights, dtype=np.int64) if ops.weights else np.zeros(0, np.int64)
        if sum(weights.tolist()) > MAX_COUNT or not isinstance(unit, str):  # Python ints: sums may pass 64 bits
            raise _Refused
        return GraphArrays(
            path=self.path, name=str(doc.get("name", self.path.stem)), unit=unit, weights=weights, types=ops.types,
            names=ops.names, ids=ops.ids, constants=ops.constants, model_io=ops.model_io, tensor_names=edges.names,
            **edges.arrays(),
        )  # fmt: skip

    def _streamed(self) -> tuple[_Ops, _Edges, dict[str, Any]]:
        """The ops and edges, streamed, and the other top-level fields; :class:`_Unusual` unless the object
        names 'ops' once and then 'edges' at most once."""
        doc: dict[str, Any] = {}
        char = self.char
        ops, edges = None, None
        i = self._skip(0)
        if char(i) != "{":
            raise _Refused
        i = self._skip(i + 1)
        while char(i) != "}":
            if char(i) != '"':
                raise _Refused
            key, i = self.scan(i)
            i = self._skip(i)
            if char(i) != ":":
                raise _Refused
            i = self._skip(i + 1)
            if key in doc or (key == "ops" and edges is not None) or (key == "edges" and ops is None):
                raise _Unusual
            if key in _STREAMED and char(i) != "[":
                raise _Refused
            if key == "ops":
                ops = _Ops()
                i = self._bulk(i + 1, _OP_LAYOUT, ops.extend) or self._stream(i + 1, ops.add)
            elif key == "edges":
                edges = _Edges(ops)
                i = self._bulk(i + 1, _EDGE_LAYOUT, edges.extend) or self._stream(i + 1, edges.add)
            doc[key], i = (None, i) if key in _STREAMED else self.scan(i)
            i = self._skip(i)
            if char(i) == ",":
                i = self._skip(i + 1)
                if char(i) != '"':
                    raise _Refused
            elif char(i) != "}":
                raise _Refused
        if ops is None or self._skip(i + 1) != self.size:
            raise _Refused
        return ops, edges if edges is not None else _Edges(ops), doc

    def _stream(self, i: int, add) -> int:
        """Scan the array whose '[' is just before ``i``, handing each element to ``add``; the index after ']'."""
        text, scan, skip = self.text, self.scan_once, _SPACE.match
        i = skip(text, i).end()
        if text[i] == "]":
            return i + 1
        while True:
            value, i = scan(text, i)
            add(value)
            i = skip(text, i).end()
            c = text[i]
            if c == "]":
                return i + 1
            if c != ",":
                raise _Refused
            i = skip(text, i + 1).end()

    def _bulk(self, i: int, layout: Layout, extend) -> int | None:
        """Parse the array whose '[' is just before ``i`` in bulk and hand it to ``extend``; the index after ']',
        or None (nothing handed) when it is not plain objects of ``layout`` or ``extend`` declines it."""
        run = read_run(self.data, i, layout) if self.data is not None else None
        return run.end if run is not None and extend(run) else None

    def _skip(self, i: int) -> int:
        if self._text is not None:
            return _SPACE.match(self._text, i).end()
        return _SPACE_BYTES.match(self.data, i).end()


def _listed(edges: Any) -> list:
    if not isinstance(edges, list):
        raise _Refused
    return edges


def _count(value: Any) -> int:
    """A non-negative 64-bit integer (an integral float accepted), else refused."""
    if type(value) is not int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise _Refused
    if not 0 <= value <= MAX_COUNT:
        raise _Refused
    return value


class _Ops:
    """The ops as they are scanned: weights packed, types shared, the rest only where an op has it."""

    def __init__(self) -> None:
        self.weights = array("q")
        self.types: list[str] = []
        self.shared: dict[str, str] = {}
        self.names: dict[int, str] = {}
        self.ids: list[Any] | None = None  # kept once an id is not its position
        self.index: dict[Any, int] | None = None
        self.constants: dict[int, dict[str, int]] = {}
        self.model_io: dict[str, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self.weights)

    def add(self, op: Any) -> None:
        v = len(self.weights)
        if type(op) is not dict:
            raise _Refused
        op_id = op["id"]
        if self.ids is None and not (type(op_id) is int and op_id == v):
            self.ids, self.index = list(range(v)), {u: u for u in range(v)}
        if self.ids is not None:
            if isinstance(op_id, bool) or not isinstance(op_id, (int, str)) or op_id in self.index:
                raise _Refused
            self.index[op_id] = v
            self.ids.append(op_id)
        self.weights.append(_count(op["weight"]))
        kind = op.get("type", "OP")
        kind = kind if type(kind) is str else str(kind)
        self.types.append(self.shared.setdefault(kind, kind))
        if "name" in op:
            name = str(op["name"])
            if name != str(op_id):
                self.names[v] = name
        if "constants" in op or "constants_bytes" in op:
            self._constants(v, op)
        for key in _MODEL_IO:
            if key in op:
                self.model_io.setdefault(key, {})[v] = _count(op[key])

    def extend(self, run: Run) -> bool:
        """Take the ops of a bulk-parsed array (``_OP_LAYOUT``) when they are all there is and their ids are
        0..n-1 in order; whether it took them."""
        ids, weights = run.ints[:, 0], run.ints[:, 1]
        if len(self) or not np.array_equal(ids, np.arange(len(ids))):
            return False
        self.weights.frombytes(weights.astype(np.int64).tobytes())
        self.types = run.strings[0]  # equal texts are one string already (json_runs decodes each text once)
        self.shared = {kind: kind for kind in set(self.types)}
        return True

    def _constants(self, v: int, op: dict) -> None:
        shared = op.get("constants", {})
        if not isinstance(shared, dict):
            raise _Refused
        constants = {str(name): _count(nbytes) for name, nbytes in shared.items()}
        own = _count(op["constants_bytes"]) if "constants_bytes" in op else 0
        if own:
            constants[f"{op['id']}:constants"] = own
        if constants:
            self.constants[v] = constants

    def node(self, op_id: Any) -> int:
        """The op of an id an edge names."""
        if self.index is None:
            if type(op_id) is int and 0 <= op_id < len(self.weights):
                return op_id
            raise _Refused
        if isinstance(op_id, bool) or not isinstance(op_id, (int, str)):
            raise _Refused
        return self.index[op_id]


class _Edges:
    """The edge entries as they are scanned, packed; tensor names kept only where given."""

    def __init__(self, ops: _Ops) -> None:
        if not isinstance(ops, _Ops):
            raise _Refused
        self.ops = ops
        self.src, self.dst, self.nbytes, self.tensor = array("q"), array("q"), array("q"), array("q")
        self.names: list[str] = []
        self.named: dict[str, int] = {}
        self.bulk: dict[str, np.ndarray] | None = None  # a bulk-parsed array's columns, kept as they are

    def add(self, edge: Any) -> None:
        if type(edge) is not dict:
            raise _Refused
        ops = self.ops
        self.src.append(ops.node(edge["from"]))
        self.dst.append(ops.node(edge["to"]))
        self.nbytes.append(_count(edge["bytes"]) if "bytes" in edge else 0)
        if "tensor" in edge:
            name = str(edge["tensor"])
            self.tensor.append(self.named.setdefault(name, len(self.named)))
            if len(self.named) > len(self.names):
                self.names.append(name)
        else:
            self.tensor.append(-1)

    def extend(self, run: Run) -> bool:
        """Take the edges of a bulk-parsed array (``_EDGE_LAYOUT``) when ops are numbered by position and every
        edge joins two of them; whether it took them."""
        src, dst, nbytes = run.ints.T
        n = len(self.ops)
        if len(self.src) or self.bulk is not None or self.ops.index is not None or (
                len(src) and max(src.max(), dst.max()) >= n):
            return False
        columns = {"src": src, "dst": dst, "nbytes": nbytes}
        self.bulk = {key: np.ascontiguousarray(values, dtype=np.int64) for key, values in columns.items()}
        self.bulk["tensor"] = np.full(len(src), -1, dtype=np.int64)
        return True

    def arrays(self) -> dict[str, np.ndarray]:
        """src, dst, nbytes, tensor as int64 arrays, once every tensor has one writer and one size (checked)."""
        packed = self.bulk or {key: np.frombuffer(getattr(self, key), dtype=np.int64) if len(getattr(self, key))
                               else np.zeros(0, np.int64) for key in ("src", "dst", "nbytes", "tensor")}  # fmt: skip
        self._check_tensors(packed)
        return packed

    def _check_tensors(self, packed: dict[str, np.ndarray]) -> None:
        src, dst, nbytes, tensor = packed["src"], packed["dst"], packed["nbytes"], packed["tensor"]
        if self.ops.ids is None and not self.names:  # default names, one per pair: equal bytes on repeats
            key = src * max(1, len(self.ops)) + dst
            if (key[1:] > key[:-1]).all():
                return  # sorted without repeats (as big graphs are written)
            order = np.argsort(key, kind="stable")
            same = key[order][1:] == key[order][:-1]
            if (nbytes[order][1:][same] != nbytes[order][:-1][same]).any():
                raise _Refused
            return
        # Names may meet across pairs (given names, or ids whose text repeats): one writer and size by name.
        writer: dict[str, tuple[int, int]] = {}
        label = (lambda u: u) if self.ops.ids is None else self.ops.ids.__getitem__
        for u, v, b, t in zip(src.tolist(), dst.tolist(), nbytes.tolist(), tensor.tolist()):
            name = self.names[t] if t >= 0 else f"{label(u)}->{label(v)}"
            if writer.setdefault(name, (u, b)) != (u, b):
                raise _Refused
