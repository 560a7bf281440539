"""What an offloading plan costs: the checker and the measure (sequential latency = compute + hand-offs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from solver.errors import CheckError
from solver.offload.problem import OffloadProblem


@dataclass
class OffloadMetrics:
    """What a plan costs: compute, hand-offs and the end-to-end latency, with its parts in run order."""

    backend: list[int]  # backend of each op
    parts: list[int]  # part of each op, numbered in run order
    part_backends: list[int]
    part_ops: list[int]
    compute: int
    handoffs: int  # tensors handed into parts
    handoff_bytes: int
    handoff_time: int
    memory: list[int] | None = None  # per backend, its parts' sessions under the memory model (None: no model)

    @property
    def latency(self) -> int:
        return self.compute + self.handoff_time

    @property
    def num_parts(self) -> int:
        return len(self.part_backends)


def evaluate_plan(problem: OffloadProblem, backend: Sequence[int], parts: Sequence[int], *,
                  limits: bool = True, memory: bool = True) -> OffloadMetrics:
    """The cost of a plan (backend and part of each op), its parts renumbered in run order; ``limits=False``
    skips the part-size and part-count limits (the greedy scores plans that still break them), ``memory=False``
    the backends' memory capacities (a plan over them is measured, to show by how much).

    Raises
    ------
    CheckError
        The plan breaks a rule of the module docstring (the message names the first).
    """
    name, n = problem.base.name, problem.num_ops
    if len(backend) != n or len(parts) != n:
        raise CheckError(f"{name}: a plan needs a backend and a part for each of the {n} ops")
    groups: dict[int, list[int]] = {}
    for v in range(n):
        if backend[v] not in problem.allowed[v]:
            raise CheckError(f"{name}: op {v} may not run on backend {backend[v]}")
        groups.setdefault(parts[v], []).append(v)
    for k, ops in groups.items():
        if len({backend[v] for v in ops}) > 1:
            raise CheckError(f"{name}: part {k} mixes backends")
        if limits and problem.rejects(backend[ops[0]], ops):
            raise CheckError(f"{name}: backend {problem.backends[backend[ops[0]]]} rejects part {k} ({len(ops)} ops; "
                             f"at least {problem.min_ops(backend[ops[0]])})")  # fmt: skip
    if limits and problem.max_parts is not None and len(groups) > problem.max_parts:
        raise CheckError(f"{name}: {len(groups)} parts, more than {problem.max_parts}")
    held = problem.backend_memory(backend, parts)
    for b, _ in problem.over_memory(backend, parts) if limits and memory else ():
        raise CheckError(f"{name}: the sessions of backend {problem.backends[b]} need {held[b]} bytes "
                         f"({problem.base.memory_name} model), over its {problem.base.memory_cap(b)}")  # fmt: skip
    session = nx.DiGraph()
    session.add_nodes_from(groups)
    session.add_edges_from((parts[u], parts[v]) for u, v in problem.base.graph.edges if parts[u] != parts[v])
    if not nx.is_directed_acyclic_graph(session):
        raise CheckError(f"{name}: the session graph of the plan has a cycle")
    order = list(nx.lexicographical_topological_sort(session, key=lambda k: min(groups[k])))
    rank = {k: r for r, k in enumerate(order)}
    count = nbytes = seconds = 0
    for i, tensor in enumerate(problem.base.tensors):
        src = parts[tensor.producer]
        for k in {parts[c] for c in tensor.consumers} - {src}:
            costs = problem.handoff[backend[tensor.producer]][backend[groups[k][0]]]
            if costs is None:
                raise CheckError(f"{name}: tensor {tensor.key!r} crosses between backends that have no link")
            count, nbytes, seconds = count + 1, nbytes + tensor.nbytes, seconds + costs[i]
    return OffloadMetrics(
        backend=list(backend),
        parts=[rank[parts[v]] for v in range(n)],
        part_backends=[backend[groups[k][0]] for k in order],
        part_ops=[len(groups[k]) for k in order],
        compute=sum(problem.time(v, backend[v]) for v in range(n)),
        handoffs=count,
        handoff_bytes=nbytes,
        handoff_time=seconds,
        memory=held,
    )


def evaluate_or_none(problem: OffloadProblem, backend, parts) -> OffloadMetrics | None:
    """The plan's metrics, or None when it breaks a rule."""
    try:
        return evaluate_plan(problem, backend, parts)
    except CheckError:
        return None
