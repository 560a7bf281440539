"""The greedy offloading plans, the baselines beside the exact model and its warm start.

- :func:`delegate_plan`: TFLite-delegate style: every op on the first non-default backend that takes it,
  parts by alternating ready frontiers, small and surplus delegated parts back on the default backend.
- :func:`greedy_plan`: the warm start: the delegate plan, the fastest backend per op and the default
  everywhere, each improved by rejecting parts that do not pay for their hand-offs.

circle-partitioner's own grouping is :mod:`solver.offload.circle_partitioner`.
"""

from __future__ import annotations

from collections.abc import Sequence

from solver.errors import CheckError
from solver.offload.metrics import evaluate_plan
from solver.offload.problem import OffloadProblem
from solver.solving.budget import Budget


def frontier_parts(problem: OffloadProblem, backend: Sequence[int]) -> list[int]:
    """Parts for a fixed backend per op, as TFLite cuts delegated and non-delegated nodes into subsets.

    Take every op of one backend that is ready (all its producers done), and the ops of that backend that
    become ready through them, as one part; then the next backend with ready ops, in turn. Each part is as
    large as the order allows and the parts come out in run order.
    """
    dag, n = problem.base.dag, problem.num_ops
    waiting = [len(dag.preds[v]) for v in range(n)]
    ready = sorted(v for v in range(n) if waiting[v] == 0)
    parts, part = [-1] * n, 0
    current = backend[ready[0]] if ready else 0
    kinds = sorted(set(backend))
    while ready:
        if not any(backend[v] == current for v in ready):
            current = kinds[(kinds.index(current) + 1) % len(kinds)]
            continue
        stack = [v for v in ready if backend[v] == current]
        ready = [v for v in ready if backend[v] != current]
        while stack:
            v = stack.pop()
            parts[v] = part
            for w in dag.succs[v]:
                waiting[w] -= 1
                if waiting[w] == 0:
                    (stack if backend[w] == current else ready).append(w)
        part += 1
        current = kinds[(kinds.index(current) + 1) % len(kinds)]
    return parts


def delegate_plan(problem: OffloadProblem) -> tuple[list[int], list[int]]:
    """A TFLite-delegate-style plan: claim, partition, drop small and surplus delegated parts (no costs used).

    Every op goes to the first backend (in platform order) other than the default that may run it, else the
    default; the parts are :func:`frontier_parts`; a delegated part smaller than ``min_part_ops`` goes back to
    the default (``min_nodes_per_partition``), then the smallest delegated parts go back while there are more
    than ``max_parts`` parts (``max_delegated_partitions``), re-partitioning after each change.
    """
    backend = [next((b for b in problem.allowed[v] if b != problem.default), problem.default) for v in range(problem.num_ops)]
    while True:
        parts = frontier_parts(problem, backend)
        sizes: dict[int, list[int]] = {}
        for v, k in enumerate(parts):
            sizes.setdefault(k, []).append(v)
        movable = [ops for ops in sizes.values()
                   if backend[ops[0]] != problem.default and all(problem.default in problem.allowed[v] for v in ops)]  # fmt: skip
        small = [ops for ops in movable if problem.rejects(backend[ops[0]], ops)]
        if not small and problem.max_parts is not None and len(sizes) > problem.max_parts and movable:
            small = [min(movable, key=len)]
        if not small:
            return backend, parts
        for ops in small:
            for v in ops:
                backend[v] = problem.default


def greedy_plan(problem: OffloadProblem, budget: Budget | None = None) -> tuple[list[int], list[int]] | None:
    """The best valid plan among the delegate plan, fastest-backend and all-default starts, each improved
    by :func:`reject_parts` (until ``budget`` passes; None: no limit); None when none is valid."""
    n = problem.num_ops
    fastest = [min(problem.allowed[v], key=lambda b: problem.time(v, b)) for v in range(n)]
    default = [problem.default if problem.default in problem.allowed[v] else problem.allowed[v][0] for v in range(n)]
    starts = [delegate_plan(problem)[0], fastest, default]
    best, best_value = None, None
    for start in starts:
        backend = reject_parts(problem, start, budget)
        plan = (backend, frontier_parts(problem, backend))
        value = _value(problem, *plan)
        if value is not None and (best_value is None or value < best_value):
            best, best_value = plan, value
    return best


def reject_parts(problem: OffloadProblem, backend: Sequence[int], budget: Budget | None = None) -> list[int]:
    """Move whole parts to another allowed backend while that lowers the latency (optimize_for's reject), until
    no move does or ``budget`` passes (None: no limit).

    Invalid plans (too small or too many parts, backends over their memory) count as infinitely slow, so moves
    that repair them are taken.
    """
    backend = list(backend)
    best = _score(problem, backend)
    improved = True
    while improved and (budget is None or not budget.passed()):
        improved = False
        parts = frontier_parts(problem, backend)
        for k in sorted(set(parts)):
            ops = [v for v in range(problem.num_ops) if parts[v] == k]
            for b in sorted(set.intersection(*(set(problem.allowed[v]) for v in ops)) - {backend[ops[0]]}):
                trial = list(backend)
                for v in ops:
                    trial[v] = b
                score = _score(problem, trial)
                if score < best:
                    backend, best, improved = trial, score, True
                    break
            if improved:
                break
    return backend


def _score(problem: OffloadProblem, backend: list[int]) -> tuple[int, int]:
    """(parts over the limits and backends over their memory, latency): lexicographic, so a valid plan beats
    every invalid one."""
    parts = frontier_parts(problem, backend)
    groups: dict[int, list[int]] = {}
    for v, k in enumerate(parts):
        groups.setdefault(k, []).append(v)
    excess = sum(1 for ops in groups.values() if problem.rejects(backend[ops[0]], ops))
    if problem.max_parts is not None:
        excess += max(0, len(groups) - problem.max_parts)
    excess += len(problem.over_memory(backend, parts))
    value = _value(problem, backend, parts, limits=False)
    return excess, value if value is not None else 2**62


def _value(problem: OffloadProblem, backend, parts, limits: bool = True) -> int | None:
    try:
        return evaluate_plan(problem, backend, parts, limits=limits).latency
    except CheckError:
        return None
