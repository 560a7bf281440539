"""Metrics of a pipeline partition and the independent checker every result passes before it is written.

Definitions (see docs/design.md for the graph convention); the graph is read through the validated
:class:`heuristics.dag.Dag`, but nothing a solver returned is trusted:

- load of part k: sum of the weights of its ops; bottleneck: the largest load.
- lower bound: :func:`heuristics.dag.lower_bound` (the strongest we have: average, largest op, bin packing,
  station windows); no partition into K parts does better.
- session graph: K x K, 1 where some edge goes from an op of part i to an op of part j != i.
- edge cut and memory overhead as ONE defines them: the number of op pairs (u, v) with an edge across parts,
  and the bytes of the tensors on those edges counted per edge.
- transfer bytes: the bytes a runtime actually sends, each tensor counted once per part that consumes it
  across a cut (edges with no ``tensors`` attribute count their ``bytes`` as one tensor of the producer).
- memory of part k: bytes of the constant tensors its ops read (node attribute ``constants``), each tensor once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from heuristics.arrays import unique_sorted
from heuristics.dag import Dag, check_num_parts, lower_bound
from solver.errors import CheckError

# The memory model of a part (solver.memory): the ops of the part -> the bytes its session needs.
PartMemory = Callable[[Sequence[int]], int]


@dataclass
class PartitionMetrics:
    """Everything the report says about one partition."""

    num_parts: int
    loads: list[int]
    op_counts: list[int]
    total: int
    bottleneck: int
    lower_bound: int
    session_graph: list[list[int]]
    acyclic: bool
    empty_parts: list[int]
    edge_cut: int
    memory_overhead: int
    transfer_bytes: int
    memory: list[int]

    @property
    def ratio(self) -> float:
        """Bottleneck over lower bound (1.0 means provably optimal)."""
        return self.bottleneck / self.lower_bound if self.lower_bound else 1.0


def evaluate(graph: nx.DiGraph | Dag, parts: Sequence[int] | np.ndarray, num_parts: int,
             weight: str = "weight") -> PartitionMetrics:  # fmt: skip
    """The metrics of ``parts`` (one part in ``0..num_parts-1`` per op, a list or an int array); no validity
    checks of the partition."""
    dag = Dag.from_graph(graph, weight)
    part_of = np.asarray(parts, dtype=np.int64)
    loads = np.zeros(num_parts, dtype=np.int64)
    np.add.at(loads, part_of, dag.weight_array)
    counts = np.bincount(part_of, minlength=num_parts)
    memory = [0] * num_parts
    for nbytes, readers in dag.constants.values():
        for k in set(part_of[readers].tolist()):
            memory[k] += nbytes
    source, target = part_of[dag.src], part_of[dag.dst]
    crossing = source != target
    session = np.zeros((num_parts, num_parts), dtype=np.int64)
    session[source[crossing], target[crossing]] = 1
    edge_cut = int(crossing.sum())
    overhead = sum(dag.edge_bytes_array[crossing].tolist())  # Python ints: byte sums may pass 64 bits
    # Each tensor once per part that consumes it outside its producer's part.
    nbytes, producer, tensor, consumer = dag.tensor_arrays
    sent_tensor, sent_part = _sent(tensor, part_of[consumer], num_parts)
    transfer = sum(nbytes[sent_tensor[sent_part != part_of[producer[sent_tensor]]]].tolist())
    session = session.tolist()
    loads, counts = loads.tolist(), counts.tolist()
    session_graph = nx.DiGraph([(a, b) for a in range(num_parts) for b in range(num_parts) if session[a][b]])
    return PartitionMetrics(
        num_parts=num_parts,
        loads=loads,
        op_counts=counts,
        total=sum(loads),
        bottleneck=max(loads, default=0),
        lower_bound=lower_bound(dag, num_parts),
        session_graph=session,
        acyclic=nx.is_directed_acyclic_graph(session_graph),
        empty_parts=[k for k in range(num_parts) if counts[k] == 0],
        edge_cut=edge_cut,
        memory_overhead=overhead,
        transfer_bytes=transfer,
        memory=memory,
    )


def _sent(tensor: np.ndarray, part: np.ndarray, num_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (tensor, consuming part) pairs of the reads (``tensor[i]`` read in part ``part[i]``). Only
    the reads of tensors read more than once are sorted to find them: a graph file's tensor per edge has one
    reader, and sorting 10^7 reads takes seconds."""
    shared = np.bincount(tensor)[tensor] > 1
    pairs = unique_sorted(tensor[shared] * num_parts + part[shared])
    return (np.concatenate((tensor[~shared], pairs // num_parts)),
            np.concatenate((part[~shared], pairs % num_parts)))  # fmt: skip


def check_partition(
    graph: nx.DiGraph | Dag,
    parts: list[int],
    num_parts: int,
    memory_cap: int | None = None,
    weight: str = "weight",
    part_memory: PartMemory | None = None,
) -> PartitionMetrics:
    """Check that ``parts`` is a valid partition of ``graph`` into ``num_parts`` parts and return its metrics.

    Valid: one integer part in ``0..K-1`` per op, ``parts[u] <= parts[v]`` on every edge (so the session graph
    is acyclic), no empty part, loads summing to the total weight, and (with ``memory_cap``) no part whose
    constants exceed the cap, or with ``part_memory`` (the memory model: a part's ops -> bytes) no part whose
    memory does (a calibrated model may count constants at less than their bytes, so then only the model's figure).

    Raises
    ------
    GraphError
        The graph is not a valid instance, or ``num_parts`` is outside ``1..n``.
    CheckError
        The first violated condition, naming the graph, the op, edge or part, and the values.
    """
    dag = Dag.from_graph(graph, weight)
    check_num_parts(dag, num_parts)
    name, n = dag.name, dag.n
    if len(parts) != n:
        raise CheckError(f"{name}: partition has {len(parts)} entries for {n} ops")
    # Every entry an int (bool is not a part) in 0..K-1: checked in C (a generator over 10^7 entries takes 2 s).
    if set(map(type, parts)) != {int} or min(parts) < 0 or max(parts) >= num_parts:
        v, k = next((v, k) for v, k in enumerate(parts) if type(k) is not int or not 0 <= k < num_parts)  # noqa: E721
        raise CheckError(f"{name}: op {v} is in part {k!r}, outside 0..{num_parts - 1}")
    part_of = np.asarray(parts, dtype=np.int64)
    backwards = np.flatnonzero(part_of[dag.src] > part_of[dag.dst])
    if len(backwards):
        u, v = dag.edges[int(backwards[0])]
        raise CheckError(
            f"{name}: edge {u} -> {v} goes backwards (part {parts[u]} -> part {parts[v]}), "
            "the session graph has a cycle"
        )
    metrics = evaluate(dag, part_of, num_parts)
    if metrics.empty_parts:
        raise CheckError(f"{name}: parts {metrics.empty_parts} are empty")
    if metrics.total != dag.total:
        raise CheckError(f"{name}: part loads sum to {metrics.total}, the ops weigh {dag.total}")
    if memory_cap is not None and part_memory is None:
        over = [k for k, m in enumerate(metrics.memory) if m > memory_cap]
        if over:
            raise CheckError(
                f"{name}: parts {over} hold {[metrics.memory[k] for k in over]} bytes of constants, "
                f"over the cap of {memory_cap}"
            )
    if memory_cap is not None and part_memory is not None:
        held = [part_memory(ops) for ops in part_ops(parts, num_parts)]
        over = [k for k, m in enumerate(held) if m > memory_cap]
        if over:
            raise CheckError(f"{name}: parts {over} need {[held[k] for k in over]} bytes (memory model), over the "
                             f"cap of {memory_cap}")  # fmt: skip
    return metrics


def part_ops(parts: Sequence[int], num_parts: int) -> list[list[int]]:
    """The ops of each part, in index order."""
    ops: list[list[int]] = [[] for _ in range(num_parts)]
    for v, k in enumerate(parts):
        ops[k].append(v)
    return ops
