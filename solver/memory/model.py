"""The one memory model of nnpart: what an onert session of a model (or of one part of it) holds.

Model
-----
A part is the set S of ops written as its own model (``solve split``): its inputs are the non-constant tensors
its ops read and no op of S writes (or the model's inputs); its outputs the tensors S writes that an op
outside S reads, or the model's outputs. The terms of its session, in bytes (docs/memory.md has the evidence):

- ``constants(S)``: the constant tensors its ops read, each once. onert's loader copies each buffer out of the
  file (``CachedData``); cpu's Conv2D replaces its filter by a transposed copy at its first run and frees the
  original, the same bytes;
- ``arena(S)``: per backend, the capacity onert's memory planner gives the tensors S's ops write (not its I/O),
  claimed and released in onert's execution order (:mod:`solver.memory.lifetimes`, :mod:`solver.memory.planner`);
  onert zero-fills it (``make_unique<uint8_t[]>``), so every page is resident;
- ``io(S)``: its input and output buffers; ``inputs(S)`` and ``outputs(S)`` apart;
- ``copies(S) = inputs(S) + 2 * outputs(S)``: the further copies of them a caller of onert's Python API holds
  at the peak: the API copies each input (``np.array`` in ``set_inputs``) beside the caller's array, and each
  output lives in onert's buffer, in the array ``get_output`` returns, and in the previous run's array the
  caller still holds while the next run makes its own;
- ``filter(S)``: the largest Conv2D filter: its transposed copy is made while the original is still held;
- ``workspace(S)``: the largest im2col matrix of its Conv2D ops (output height x width x input channels x
  kernel height x width elements). cker builds it only on a single-core device: with two or more cores a float
  Conv2D runs Eigen's spatial convolution, whose packing buffers are far smaller (a 13.8 MB im2col measured
  0.5 MB), so a calibration weighs it (``a_w``);
- ``largest_constant(S)``: loading copies one buffer at a time from a mapping of the file, so the load's peak
  is ``constants + largest_constant`` (the file's pages of the buffer being copied);
- ``activation(S)``: the largest non-constant tensor its ops read or write. The kernels' transient buffers
  (Eigen's packing of a convolution, the caller's arrays) scale with the activations, and malloc keeps the heap
  they freed; a calibration weighs it (``a_t``). An empirical term, kept for what it does to held-out sessions:
  fitted without a part's model and K, the worst part of the benchmark went from 9.1% to 7.7% off; fitted on
  two of its three models, the third from 28% to 19%.

The planner model is ``constants + arena + io + workspace`` (what the tensors need, nothing of the runtime); a
calibration adds the runtime (:mod:`solver.memory.calibration`): the peak of the run,
``fixed + a_c * constants + arena + io + a_io * copies + a_f * filter + a_w * workspace + a_t * activation``, or
of the load,
``a_c * constants + largest_constant``, whichever is larger.

Checked against onert (cpu, Linear, MobileNetV2 1.0): the planners' arenas differ as measured (FirstFit - WIC
0.80 MB predicted, 0.84 measured; Bump - WIC 21.6 predicted, 21.4 measured), and so do the executors.

The upper model keeps every tensor alive for the whole run: ``constants(S) + io(S) + sum of S's tensors``,
what nnpart assumed before (and what onert's Dataflow executor does allocate: its arena is that sum).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from solver.errors import UsageError
import numpy as np

from solver.memory.lifetimes import LINEAR, Graph, OpTensors, backend_lifetimes, onert_order
from solver.memory.planner import DEFAULT_PLANNER, PlanningStopped, arena_bytes, check_planner, live_peak

MODELS = ("upper", "planner", "calibrated")


@dataclass(frozen=True)
class MemoryTerms:
    """The terms of one session's memory in bytes (see the module docstring); ``arena`` per backend."""

    constants: int
    arena: dict[str, int]
    io: int
    workspace: int
    all_tensors: int  # every non-constant tensor its ops write, I/O not included: the upper model's arena
    inputs: int = 0  # io split into the part's inputs and its outputs
    outputs: int = 0
    filter: int = 0  # the largest Conv2D filter (its transposed copy)
    largest_constant: int = 0  # the largest constant buffer (mapped from the file while it is copied)
    activation: int = 0  # the largest non-constant tensor its ops read or write
    # the planner's simulation did not finish by its deadline: ``arena`` is the live-tensor peak, a lower bound
    arena_lower_bound: bool = False

    @property
    def copies(self) -> int:
        """The further copies of the I/O buffers a caller of onert's Python API holds at the peak."""
        return self.inputs + 2 * self.outputs

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
                "inputs": self.inputs, "outputs": self.outputs, "filter": self.filter,
                "largest_constant": self.largest_constant, "activation": self.activation, "planned": self.planned,
                "upper": self.upper, "arena_lower_bound": self.arena_lower_bound}  # fmt: skip


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
    deadline: float | None = None,
) -> MemoryTerms:
    """The terms of ``graph``'s session: ``backend_of[k]`` the backend of op ``k`` (all ``cpu`` by default),
    ``order`` the run order of the ops (positions; :func:`~solver.memory.lifetimes.onert_order` by default).
    Past ``deadline`` (a ``time.monotonic()`` reading) the planner is not simulated further: each arena left
    is its live-tensor peak, a lower bound of it (``arena_lower_bound``; :func:`~solver.memory.planner.live_peak`)."""
    check_planner(planner)
    backend_of = list(backend_of) if backend_of is not None else ["cpu"] * len(graph.ops)
    order = list(order) if order is not None else onert_order(graph)
    arena, bounded = {}, False
    for b in dict.fromkeys(backend_of):
        lives = backend_lifetimes(graph, order, backend_of, b, executor)
        try:
            arena[b] = arena_bytes(lives, planner, deadline)
        except PlanningStopped:
            arena[b], bounded = live_peak(lives), True
    return MemoryTerms(
        constants=graph.constant_bytes(), arena=arena, io=graph.io_bytes(), arena_lower_bound=bounded,
        workspace=max((im2col_bytes(graph, op) for op in graph.ops), default=0) if graph.shapes else 0,
        all_tensors=graph.written_bytes(), inputs=graph.input_bytes(), outputs=graph.output_bytes(),
        # only a graph with shapes (a model file's) has typed ops: an array-made one would build them for nothing
        filter=max((filter_bytes(graph, op) for op in graph.ops), default=0) if graph.shapes else 0,
        largest_constant=graph.largest_constant(), activation=graph.largest_activation(),
    )  # fmt: skip


def filter_bytes(graph: Graph, op: OpTensors) -> int:
    """Bytes of the constant filter of a Conv2D ``op`` (0 for other ops): cpu's Conv2D transposes it at its
    first run into a copy of the same size before it frees the original."""
    if op.type != "CONV_2D" or len(op.inputs) < 2 or op.inputs[1] not in graph.constants:
        return 0
    return graph.sizes[op.inputs[1]]


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
    planner: str = DEFAULT_PLANNER, executor: str = LINEAR, deadline: float | None = None,
    bounds_by: float | None = None,
) -> list[MemoryTerms]:  # fmt: skip
    """The terms of each part's session, ``parts[k]`` the part of op ``k`` (a partition map). With a
    ``deadline`` (a ``time.monotonic()`` reading) every part's terms are first taken with its live-tensor peak
    as the arena (a lower bound, quick), then the planner is simulated part after part, the largest lower bound
    first, until the deadline (:func:`memory_terms`). That first pass over the parts takes seconds at 10^7 ops:
    with ``bounds_by`` (a reading) it raises :class:`PlanningStopped` as soon as the parts done price the rest
    past that time (at the pace of the ops done so far), so ``bounds_by`` bounds the whole."""
    parts = np.asarray(parts, dtype=np.int64)
    by_part = np.argsort(parts, kind="stable")
    starts = np.searchsorted(parts[by_part], np.arange(num_parts + 1))

    def terms(p: int, until: float | None) -> MemoryTerms:
        ops = by_part[starts[p]:starts[p + 1]]
        backends = None if backend_of is None else [backend_of[k] for k in ops.tolist()]
        return memory_terms(part_graph(graph, ops), backends, planner, executor, deadline=until)

    if deadline is None:
        return [terms(p, None) for p in range(num_parts)]
    out: list[MemoryTerms] = []
    began = time.monotonic()
    for p in range(num_parts):
        if bounds_by is not None and _ends_after(began, int(starts[p]), len(parts), bounds_by):
            raise PlanningStopped(f"the parts' lower bounds would not be done in time ({p} of {num_parts} done)")
        out.append(terms(p, -math.inf))
    # Largest lower bound first: the largest part's memory (what a cap caps) is the figure most worth having exact.
    for p in sorted(range(num_parts), key=lambda p: -sum(out[p].arena.values())):
        if out[p].arena_lower_bound and time.monotonic() < deadline:
            out[p] = terms(p, deadline)
    return out


def _ends_after(began: float, done: int, total: int, end: float) -> bool:
    """Whether work begun at ``began``, ``done`` of ``total`` units done by now, ends after ``end`` at its pace."""
    now = time.monotonic()
    return now > end or (done > 0 and now + (now - began) * (total - done) / done > end)
