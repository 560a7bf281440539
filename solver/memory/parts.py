"""A partition's parts under the memory model a command uses, and measured parts as calibration samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from heuristics.dag import Dag
from solver.memory.calibration import MemoryModel, MemorySample
from solver.memory.lifetimes import LINEAR, Graph, TensorArrays
from solver.memory.model import MemoryTerms, memory_terms, model_graph, part_graph, parts_terms
from solver.memory.planner import DEFAULT_PLANNER


def problem_graph(model, op_graph: nx.DiGraph | Dag) -> Graph:
    """The memory model's graph of a problem: its TFLite model's when there is one (``model``), else built
    from the op graph's data tensors and constants (docs/design.md: edge ``tensors``, node ``constants``; as
    ``heuristics.dag.Dag`` holds them, so a graph file read as arrays needs no networkx graph); a graph file
    names no model inputs or outputs and no shapes, so its I/O is what crosses parts and its workspace 0."""
    if model is not None:
        return model_graph(model)
    dag = Dag.from_graph(op_graph)
    nbytes, producer, tensor, consumer = dag.tensor_arrays
    data = len(nbytes)
    constants = list(dag.constants.values())  # tensors data, data + 1, ...: (bytes, readers)
    const_tensor = np.repeat(np.arange(data, data + len(constants)), [len(r) for _, r in constants])
    const_reader = np.asarray([v for _, readers in constants for v in readers], dtype=np.int64)
    sizes = np.concatenate((nbytes, np.asarray([b for b, _ in constants], dtype=np.int64))).astype(np.int64)
    total = len(sizes)
    # each op reads its constants, then its data tensors (each once), and writes the tensors it produces
    reader = np.concatenate((const_reader, consumer)).astype(np.int64)
    read = np.concatenate((const_tensor, tensor)).astype(np.int64)
    _, once = np.unique(reader * max(total, 1) + read, return_index=True)
    once = np.sort(once)
    reader, read = reader[once], read[once]
    by_op = np.argsort(reader, kind="stable")
    writes = np.argsort(producer, kind="stable")
    none = np.zeros(total, dtype=bool)
    arrays = TensorArrays(
        ids=range(total), sizes=sizes, constant=np.arange(total) >= data, model_input=none, model_output=none,
        position=np.arange(dag.n, dtype=np.int64), in_ptr=_ranges(reader, dag.n), in_t=read[by_op],
        out_ptr=_ranges(producer, dag.n), out_t=writes.astype(np.int64),
    )  # fmt: skip
    return Graph.from_arrays(arrays)


def _ranges(owner: np.ndarray, n: int) -> np.ndarray:
    """Index ranges of entries grouped by ``owner`` (0..n-1), as a ``ptr`` array."""
    return np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=n)))).astype(np.int64)


@dataclass
class PartsMemory:
    """Each part's memory under ``model``, with the terms it was computed from."""

    model: MemoryModel
    planner: str
    executor: str
    terms: list[MemoryTerms]

    @property
    def predicted(self) -> list[int]:
        return [self.model.predict(t) for t in self.terms]

    @property
    def bounded(self) -> list[int]:
        """The parts whose planner simulation did not finish in time: their figure is a lower bound (the upper
        model has no arena term)."""
        if self.model.name == "upper":
            return []
        return [k for k, t in enumerate(self.terms) if t.arena_lower_bound]

    @property
    def notes(self) -> list[str]:
        if not self.bounded:
            return []
        return [f"the {self.planner} planner was simulated for {len(self.terms) - len(self.bounded)} of "
                f"{len(self.terms)} parts in the time limit; the other {len(self.bounded)} (marked >=, "
                "\"arena_lower_bound\" in JSON) show as their arena the bytes live at once, a lower bound of it (a "
                "longer --time-limit simulates more)"]

    def to_json(self) -> dict:
        return {
            **self.model.to_json(), "planner": self.planner, "executor": self.executor, "notes": self.notes,
            "parts": [{"part": k, "predicted_bytes": p, "terms": t.to_json()}
                      for k, (p, t) in enumerate(zip(self.predicted, self.terms))],
        }  # fmt: skip


def part_memory(graph: Graph, model: MemoryModel, planner: str = DEFAULT_PLANNER,
                executor: str = LINEAR) -> Callable[[Sequence[int]], int]:  # fmt: skip
    """The memory of one part under ``model``: its ops -> bytes (what a memory cap caps)."""
    return lambda ops: model.predict(memory_terms(part_graph(graph, ops), None, planner, executor))


def part_floor(graph: Graph, model: MemoryModel, planner: str = DEFAULT_PLANNER,
               executor: str = LINEAR) -> Callable[[Sequence[int]], int]:  # fmt: skip
    """What every part holding some ops needs at least under ``model``: ops -> bytes (``MemoryModel.floor``)."""
    return lambda ops: model.floor(memory_terms(part_graph(graph, ops), None, planner, executor))


def parts_memory(graph: Graph, parts: Sequence[int], num_parts: int, model: MemoryModel,
                 planner: str = DEFAULT_PLANNER, executor: str = LINEAR,
                 deadline: float | None = None, bounds_by: float | None = None) -> PartsMemory:  # fmt: skip
    """The memory of each part of ``parts`` (a partition map) under ``model``; the planner simulated until
    ``deadline`` (a ``time.monotonic()`` reading; None: to the end), lower bounds of the arenas after it; with
    ``bounds_by``, PlanningStopped when the lower bounds would not be done by then (:func:`parts_terms`)."""
    return PartsMemory(model, planner, executor,
                       parts_terms(graph, parts, num_parts, None, planner, executor, deadline, bounds_by))  # fmt: skip


@dataclass(frozen=True)
class DeviceMemory:
    """One device of a placement: what the placement's model counted, the memory model's figure and seed 002's."""

    device: str
    capacity: int | None
    counted: int  # the placement's own count (constants and every tensor its ops touch)
    predicted: int  # the memory model's figure of the device's session
    seed002: float  # seed 002's estimate of the same ops (output bytes + parameter count)

    @property
    def over(self) -> bool:
        return self.capacity is not None and self.predicted > self.capacity

    def to_json(self) -> dict:
        return {"device": self.device, "capacity": self.capacity, "counted_bytes": self.counted,
                "predicted_bytes": self.predicted, "seed002_estimate": self.seed002, "over_capacity": self.over}  # fmt: skip


def part_samples(
    graph: Graph, parts: Sequence[int], part_ids: Sequence[int], measured: Sequence[float | None], label: str,
    planner: str = DEFAULT_PLANNER, executor: str = LINEAR,
) -> list[MemorySample]:  # fmt: skip
    """Calibration samples of the parts ``part_ids`` of ``parts`` measured alone (``measured[i]`` bytes, None
    where not measured)."""
    out = []
    for part, held in zip(part_ids, measured):
        if held is None:
            continue
        sub = part_graph(graph, [v for v, p in enumerate(parts) if p == part])
        out.append(MemorySample(f"{label} part {part}", memory_terms(sub, None, planner, executor), float(held)))
    return out
