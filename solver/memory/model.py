"""The one memory model of nnpart: what an onert session of a model (or of one part of it) holds.

Model
-----
A part is the set S of ops written as its own model (``solve split``): its inputs are the non-constant tensors
its ops read and no op of S writes (or the model's inputs); its outputs the tensors S writes that an op
outside S reads, or the model's outputs. Its session holds, in bytes::

    memory(S) = fixed + constants(S) + arena(S) + io(S) + a_w * workspace(S)

- ``constants(S)``: the constant tensors its ops read, each once (onert keeps the model's data; cpu's Conv2D
  replaces a filter by its transposed copy, the same bytes);
- ``arena(S)``: per backend, the capacity onert's memory planner gives the tensors S's ops write (not its I/O),
  claimed and released in onert's execution order (:mod:`solver.memory.lifetimes`, :mod:`solver.memory.planner`);
- ``io(S)``: its input and output buffers, provided by the caller;
- ``workspace(S)``: the largest im2col matrix of its Conv2D ops (cker builds one when the kernel is not 1x1 or
  the stride not 1: output height x width x input channels x kernel height x width elements). It is scratch,
  but the pages stay resident (and ruy packs a copy of it), so the peak holds a multiple ``a_w`` of it;
- ``fixed``, ``a_w``: a device's terms. The planner model has ``fixed = 0``, ``a_w = 1`` (what the tensors
  need, nothing of the runtime); a calibration fits both to measurements (:mod:`solver.memory.calibration`).

Checked against onert (cpu, Linear, MobileNetV2 1.0): the planners' arenas differ as measured (FirstFit - WIC
0.80 MB predicted, 0.84 measured; Bump - WIC 21.6 predicted, 21.4 measured), and so do the executors.

The upper model keeps every tensor alive for the whole run: ``constants(S) + io(S) + sum of S's tensors``,
what nnpart assumed before (and what onert's Dataflow executor does allocate: its arena is that sum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.errors import UsageError
import numpy as np

from solver.memory.lifetimes import LINEAR, Graph, OpTensors, backend_lifetimes, onert_order
from solver.memory.planner import DEFAULT_PLANNER, arena_bytes, check_planner

MODELS = ("upper", "planner", "calibrated")


@dataclass(frozen=True)
class MemoryTerms:
    """The terms of one session's memory in bytes (see the module docstring); ``arena`` per backend."""

    constants: int
    arena: dict[str, int]
    io: int
    workspace: int
    all_tensors: int  # every non-constant tensor its ops write, I/O not included: the upper model's arena

    @property
    def planned(self) -> int:
        """The planner model: constants + arena + I/O buffers + workspace."""
        return self.constants + sum(self.arena.values()) + self.io + self.workspace

    @property
    def upper(self) -> int:
        """The upper model: every tensor alive for the whole run."""
        return self.constants + self.all_tensors + self.io

    def to_json(self) -> dict:
        return {"constants": self.constants, "arena": dict(self.arena), "io": self.io, "workspace": self.workspace,
                "planned": self.planned, "upper": self.upper}  # fmt: skip


def check_model(name: str) -> str:
    """``name`` if it is one of :data:`MODELS`, else ``UsageError``."""
    if name not in MODELS:
        raise UsageError(f"unknown memory model {name!r} (choose from {', '.join(MODELS)})")
    return name


def model_graph(model) -> Graph:
    """The memory model's view of a ``solver.io.tflite.Model``."""
    return Graph(
        ops=tuple(OpTensors(op.index, tuple(op.inputs), tuple(op.outputs), op.type) for op in model.operators),
        sizes={t.index: t.nbytes for t in model.tensors},
        shapes={t.index: tuple(t.shape) for t in model.tensors},
        constants=frozenset(t.index for t in model.tensors if t.is_constant),
        inputs=tuple(model.inputs),
        outputs=tuple(model.outputs),
    )


def part_graph(graph: Graph, ops: Sequence[int]) -> Graph:
    """The ops at positions ``ops`` of ``graph`` as their own model (see the module docstring)."""
    return graph.part(ops)


def memory_terms(
    graph: Graph,
    backend_of: Sequence[str] | None = None,
    planner: str = DEFAULT_PLANNER,
    executor: str = LINEAR,
    order: Sequence[int] | None = None,
) -> MemoryTerms:
    """The terms of ``graph``'s session: ``backend_of[k]`` the backend of op ``k`` (all ``cpu`` by default),
    ``order`` the run order of the ops (positions; :func:`~solver.memory.lifetimes.onert_order` by default)."""
    check_planner(planner)
    backend_of = list(backend_of) if backend_of is not None else ["cpu"] * len(graph.ops)
    order = list(order) if order is not None else onert_order(graph)
    arena = {b: arena_bytes(backend_lifetimes(graph, order, backend_of, b, executor), planner)
             for b in dict.fromkeys(backend_of)}  # fmt: skip
    return MemoryTerms(
        constants=graph.constant_bytes(), arena=arena, io=graph.io_bytes(),
        workspace=max((im2col_bytes(graph, op) for op in graph.ops), default=0) if graph.shapes else 0,
        all_tensors=graph.written_bytes(),
    )  # fmt: skip


def im2col_bytes(graph: Graph, op: OpTensors) -> int:
    """Bytes of the im2col matrix cker builds for ``op`` (0 for other ops, 1x1 kernels of stride 1, unknown
    shapes). The stride is read off the shapes: an output of another height or width than the input."""
    if op.type != "CONV_2D" or len(op.inputs) < 2 or not op.outputs:
        return 0
    x, w, y = (graph.shapes.get(t, ()) for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if len(x) != 4 or len(w) != 4 or len(y) != 4:
        return 0
    if (w[1], w[2]) == (1, 1) and y[1:3] == x[1:3]:
        return 0
    elements = y[0] * y[1] * y[2]
    item = graph.sizes[op.outputs[0]] // max(elements * y[3], 1)
    return elements * x[3] * w[1] * w[2] * item


def parts_terms(
    graph: Graph, parts: Sequence[int], num_parts: int, backend_of: Sequence[str] | None = None,
    planner: str = DEFAULT_PLANNER, executor: str = LINEAR,
) -> list[MemoryTerms]:  # fmt: skip
    """The terms of each part's session, ``parts[k]`` the part of op ``k`` (a partition map)."""
    parts = np.asarray(parts, dtype=np.int64)
    by_part = np.argsort(parts, kind="stable")
    starts = np.searchsorted(parts[by_part], np.arange(num_parts + 1))
    out = []
    for p in range(num_parts):
        ops = by_part[starts[p]:starts[p + 1]]
        backends = None if backend_of is None else [backend_of[k] for k in ops.tolist()]
        out.append(memory_terms(part_graph(graph, ops), backends, planner, executor))
    return out
