"""A placement problem: an op DAG, devices with their own op times, memory and op support, and links.

Op time on a device: from that device's own trace when it has one, else the op's weight divided by the
device's ``speed`` (rounded to whole microseconds). An op type a device does not support has no time there;
``supports`` names TFLite op types, which also match their Keras and onert names (``Conv2D``).
Tensors and constants are those of the validated graph (``heuristics.dag.Dag``, docs/design.md), each data
tensor with one producer and its consumers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from heuristics.dag import Dag
from solver.errors import PlatformError
from solver.io.optypes import types_agree
from solver.io.platform import Platform
from solver.io.trace import attach_weights, read_trace
from solver.placement.engine import DeviceEngine, Flow, engines_of, flows
from solver.problem import PartitionProblem


@dataclass(frozen=True)
class Tensor:
    """A data tensor between ops: its size, the op that writes it and the ops that read it."""

    key: object
    nbytes: int
    producer: int
    consumers: tuple[int, ...]


@dataclass(frozen=True)
class MemoryFigure:
    """The memory model a device's capacity is checked against (docs/memory.md), as the placement sees it.

    ``figure(ops)``: the bytes of a session of the ops (a part), under the model ``name``; any function (a
    planner's arena is not monotone: an op added may free a tensor held as an output). Its *relaxation*, which
    the solvers state and prune with, is the monotone sum every figure is at least::

        figure(S) >= fixed + constant_scale * constants(S) + tensor_scale * tensors(S)

    (``constants(S)``, ``tensors(S)``: the bytes of the constant and data tensors S's ops touch, each once).
    The upper model holds this with ``tensor_scale = 1``, the planner and calibrated ones with 0 (their arena
    and I/O may hold less than every tensor); the model's fixed cost and constants scale are its own.
    """

    name: str
    figure: Callable[[Sequence[int]], int]
    fixed: float = 0.0
    constant_scale: float = 1.0
    tensor_scale: float = 0.0
    floor: Callable[[Sequence[int]], int] | None = None  # what every part holding the ops needs (None: figure)


COUNTED = "counted"  # no memory model: a device holds its constants and every tensor its ops touch


@dataclass(frozen=True)
class MemoryItem:
    """A tensor a device holds when it runs one of ``ops``: its key and its bytes in the relaxation."""

    key: tuple
    relaxed: int
    ops: tuple[int, ...]


@dataclass
class PlacementProblem:
    """Everything the placement algorithms need, as plain lists indexed by op and device number."""

    name: str
    graph: nx.DiGraph
    dag: Dag
    platform: Platform
    times: list[list[int | None]]  # times[v][d]: microseconds of op v on device d; None: d cannot run v
    tensors: list[Tensor]
    constants: dict[object, tuple[int, list[int]]]  # constant tensor -> (bytes, ops reading it)
    transfer: list[list[list[int] | None]]  # transfer[a][b][i]: us to send tensor i from a to b; None: no link
    memory_model: MemoryFigure | None = None  # None: the count (constants and every tensor touched) is checked
    # The engine's measured cost per device (solver.placement.engine; None: not measured) and the tensors it
    # moves; None: no device measured, the engine costs nothing.
    engine: tuple[DeviceEngine | None, ...] | None = None
    flows: list[Flow] | None = None
    _figures: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # op set -> figure
    # Derived once and kept (solver.placement.spine); a copy made with dataclasses.replace derives its own.
    derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def num_ops(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def devices(self) -> tuple[str, ...]:
        return self.platform.names

    def memory_cap(self, d: int) -> int | None:
        return self.platform.devices[d].memory

    @property
    def memory_name(self) -> str:
        """The memory model the caps are checked against."""
        return COUNTED if self.memory_model is None else self.memory_model.name

    def memory_items(self) -> list[MemoryItem]:
        """Every constant and data tensor with the ops that make a device hold it, and its relaxed bytes (the
        counted bytes when no memory model is set; see :class:`MemoryFigure`)."""
        m = self.memory_model
        constant_scale, tensor_scale = (1.0, 1.0) if m is None else (m.constant_scale, m.tensor_scale)
        items = [MemoryItem(("constant", c), math.floor(constant_scale * nbytes), tuple(readers))
                 for c, (nbytes, readers) in self.constants.items()]  # fmt: skip
        items += [MemoryItem(("tensor", i), math.floor(tensor_scale * t.nbytes), (t.producer, *t.consumers))
                  for i, t in enumerate(self.tensors)]  # fmt: skip
        return items

    def relaxed_cap(self, d: int) -> int | None:
        """The cap on a used device's relaxed bytes: its capacity less the model's fixed cost (negative: the
        device can hold no part); None for no limit."""
        cap = self.memory_cap(d)
        if cap is None or self.memory_model is None:
            return cap
        return math.floor(cap - self.memory_model.fixed)

    def part_memory(self, ops: Sequence[int]) -> int:
        """The memory of a part of ``ops`` under the memory model (which must be set), kept per op set: the
        solvers ask again."""
        key = frozenset(ops)
        if key not in self._figures:
            self._figures[key] = int(self.memory_model.figure(sorted(key)))
        return self._figures[key]

    def part_floor(self, ops: Sequence[int]) -> int:
        """What every part holding ``ops`` needs at least under the memory model (which must be set): a bound
        the solvers may state for a part that holds them and more (the figure itself is not monotone)."""
        m = self.memory_model
        return self.part_memory(ops) if m.floor is None else int(m.floor(sorted(ops)))

    def holds(self, d: int, ops: Sequence[int]) -> bool:
        """Whether device ``d`` holds a part of ``ops`` under the memory model (true without a model, where the
        solvers state the count itself, or without a capacity)."""
        cap = self.memory_cap(d)
        return self.memory_model is None or cap is None or self.part_memory(ops) <= cap


def placement_problem(problem: PartitionProblem, platform: Platform, memory_model: MemoryFigure | None = None,
                      engine: dict | None = None) -> PlacementProblem:  # fmt: skip
    """Op times per device, tensors and link costs of ``problem`` on ``platform``; the devices' memory checked
    against ``memory_model`` (None: the count of every tensor touched); ``engine``: the measured devices
    (``solver.io.linkfile.DeviceFit`` by name), whose per-request engine cost (solver.placement.engine) the
    placement then counts.

    Raises
    ------
    PlatformError
        A device trace for a graph that is not a model, or an op that no device supports.
    TraceError
        A device's trace does not match the model.
    GraphError
        The graph is not a valid op DAG.
    """
    graph = problem.graph
    dag = Dag.from_graph(graph)
    n = graph.number_of_nodes()
    columns = [_device_times(problem, platform, d) for d in range(len(platform.devices))]
    times = [[column[v] for column in columns] for v in range(n)]
    orphan = next((v for v in range(n) if all(t is None for t in times[v])), None)
    if orphan is not None:
        op_type = graph.nodes[orphan].get("type", "?")
        raise PlatformError(f"{platform.source}: no device supports op {orphan} ({op_type}) of {problem.name}")
    tensors = [Tensor(key, nbytes, u, tuple(vs)) for key, (nbytes, u, vs) in dag.tensors.items()]
    transfer = [
        [
            None if (link := platform.link(a.name, b.name)) is None else [link.transfer_us(t.nbytes) for t in tensors]
            for b in platform.devices
        ]
        for a in platform.devices
    ]
    engines = engines_of(platform.names, engine)
    return PlacementProblem(problem.name, graph, dag, platform, times, tensors, dag.constants, transfer, memory_model,
                            engines, flows(problem) if engines else None)  # fmt: skip


def _device_times(problem: PartitionProblem, platform: Platform, d: int) -> list[int | None]:
    device = platform.devices[d]
    graph = problem.graph
    if device.trace is not None:
        if problem.model is None:
            raise PlatformError(f"{platform.source}: device {device.name!r} has a trace, but {problem.name} is not a model")
        measured = graph.copy()
        attach_weights(measured, problem.model, read_trace(device.trace))
        weights = [int(measured.nodes[v]["weight"]) for v in range(graph.number_of_nodes())]
    else:
        weights = [round(int(graph.nodes[v].get("weight", 0)) / device.speed) for v in range(graph.number_of_nodes())]
    return [w if supports_type(device.supports, graph.nodes[v].get("type", "")) else None for v, w in enumerate(weights)]


def supports_type(supports: frozenset[str] | None, op_type: str) -> bool:
    """Whether a device that runs the TFLite op types ``supports`` runs ``op_type`` (also a Keras or onert name)."""
    return supports is None or op_type in supports or any(types_agree(name, op_type) for name in supports)
