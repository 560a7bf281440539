"""Lower bounds on a placement's objective, valid for throughput and latency alike unless said otherwise.

They ignore the engine's measured cost (``PlacementProblem.engine``) and stay bounds with it: the engine adds to a
device's load and to a part's time only counts times rates >= 0 (tasks, session bytes, messages and their tensors,
hand-offs, the request; solver.placement.engine) and leaves the links' loads as they are, so every placement's
objective is at least its value without the engine."""

from __future__ import annotations

import numpy as np

from heuristics.bisection import least
from solver.placement.objectives import TABLE
from solver.placement.problem import PlacementProblem
from solver.placement.spine import spine_bound
from solver.solving.budget import Budget

SPINE_SECONDS = 2.0  # the most the spine bound may take (it answers with what it proved by then)


def lower_bound(problem: PlacementProblem, objective: str, upper: int, seconds: float = SPINE_SECONDS) -> int:
    """The strongest of :func:`op_bound`, :func:`contraction_bound` and the spine's (solver.placement.spine: a
    chain of parts on a simple path of devices), ``upper`` a known objective value, in at most ``seconds`` for the
    last two together. Each bounds the throughput, and the latency, which is at least every device's compute and
    every link's load."""
    until = Budget(seconds)
    known = max(op_bound(problem, objective), contraction_bound(problem, upper, until))
    if known >= upper:
        return known
    return spine_bound(problem, known, upper, until)


def op_bound(problem: PlacementProblem, objective: str) -> int:
    """A bound from op times alone, each op at its fastest device: the objective's own (its row of
    solver/placement/objectives.py)."""
    return TABLE[objective].bound(problem)


def contraction_bound(problem: PlacementProblem, upper: int, until: Budget | None = None) -> int:
    """The least ``t <= upper`` for which contracting every tensor dearer than ``t`` leaves groups that fit.

    In a placement of objective ``B`` (throughput or latency: both count every crossing's transfer time and
    every part's compute in full), a tensor whose transfer takes more than ``B`` even on the fastest link
    never crosses, so its producer and readers share a device: the groups of ops joined by such tensors each
    lie on one device, which runs all their ops, holds their memory and computes them within ``B``. So
    ``fits(B)`` holds, and ``fits`` only gets easier as ``t`` grows: its least ``t`` bounds every placement.
    Where memory forces cuts on a network of slow links (seed 002's), this is the transfer of the cheapest
    cut that memory allows, on the best link. When ``until`` ends first, the bisection answers what it has proved.
    """
    cheapest = _cheapest_transfers(problem)
    fits = lambda t: _groups_fit(problem, _groups(problem, [i for i, c in enumerate(cheapest) if c > t]), t)  # noqa: E731
    if not fits(upper):
        return upper
    # Past the deadline every value counts as fitting: the bisection ends below what it would have proved.
    return least(0, upper, lambda t: (until is not None and until.passed()) or fits(t))


def tied_groups(problem: PlacementProblem, t: int) -> list[int]:
    """The group of each op when every tensor dearer than ``t`` on the fastest link ties its ops together."""
    return _groups(problem, [i for i, c in enumerate(_cheapest_transfers(problem)) if c > t])


def _cheapest_transfers(problem: PlacementProblem) -> list[float]:
    """Per tensor, its transfer time over the fastest link there is (infinite without links)."""
    cheapest = np.full(len(problem.tensors), np.inf)
    for row in problem.transfer:
        for costs in row:
            if costs is not None:
                np.minimum(cheapest, costs, out=cheapest)
    return cheapest.tolist()


def _groups(problem: PlacementProblem, joined: list[int]) -> list[int]:
    """The group of each op when the tensors ``joined`` tie producer and readers (union-find)."""
    parent = list(range(problem.num_ops))

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for i in joined:
        tensor = problem.tensors[i]
        for c in tensor.consumers:
            parent[root(c)] = root(tensor.producer)
    return [root(v) for v in range(problem.num_ops)]


def _groups_fit(problem: PlacementProblem, group: list[int], t: int) -> bool:
    """Whether each group has a device that runs all its ops within ``t`` and holds their memory."""
    nbytes: dict[int, int] = {}
    held = [(item.relaxed, item.ops) for item in problem.memory_items()]  # the memory model's relaxation
    for nb, ops in held:
        for g in {group[v] for v in ops}:
            nbytes[g] = nbytes.get(g, 0) + nb
    members: dict[int, list[int]] = {}
    for v, g in enumerate(group):
        members.setdefault(g, []).append(v)
    for g, ops in members.items():
        if not any(_holds(problem, d, ops, nbytes.get(g, 0), t) for d in range(len(problem.devices))):
            return False
    return True


def _holds(problem: PlacementProblem, d: int, ops: list[int], nbytes: int, t: int) -> bool:
    cap = problem.relaxed_cap(d)
    if cap is not None and nbytes > cap:
        return False
    total = 0
    for v in ops:
        time = problem.times[v][d]
        if time is None:
            return False
        total += time
    return total <= t
