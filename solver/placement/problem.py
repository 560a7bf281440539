"""A placement problem: an op DAG, devices with their own op times, memory and op support, and links.

Op time on a device: from that device's own trace when it has one, else the op's weight divided by the
device's ``speed`` (rounded to whole microseconds). An op type a device does not support has no time there;
``supports`` names TFLite op types, which also match their Keras and onert names (``Conv2D``).
Tensors and constants are those of the validated graph (``heuristics.dag.Dag``, docs/design.md), each data
tensor with one producer and its consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from heuristics.dag import Dag
from solver.errors import PlatformError
from solver.io.optypes import types_agree
from solver.io.platform import Platform
from solver.io.trace import attach_weights, read_trace
from solver.problem import PartitionProblem


@dataclass(frozen=True)
class Tensor:
    """A data tensor between ops: its size, the op that writes it and the ops that read it."""

    key: object
    nbytes: int
    producer: int
    consumers: tuple[int, ...]


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

    @property
    def num_ops(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def devices(self) -> tuple[str, ...]:
        return self.platform.names

    def memory_cap(self, d: int) -> int | None:
        return self.platform.devices[d].memory


def placement_problem(problem: PartitionProblem, platform: Platform) -> PlacementProblem:
    """Op times per device, tensors and link costs of ``problem`` on ``platform``.

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
    return PlacementProblem(problem.name, graph, dag, platform, times, tensors, dag.constants, transfer)


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
