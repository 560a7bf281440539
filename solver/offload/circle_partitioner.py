"""circle-partitioner's plan: its backend per op (the rules, else the default) and its grouping into parts
(``heuristics.circle_groups``)."""

from __future__ import annotations

from collections.abc import Sequence

from heuristics.circle_groups import circle_groups
from solver.errors import PlatformError
from solver.offload.problem import OffloadProblem


def circle_partitioner_plan(problem: OffloadProblem, group: Sequence[int]) -> list[int]:
    """circle-partitioner's parts for the backend ``group[v]`` of each op, numbered in ONE's order of the
    parts: ``heuristics.circle_groups`` (luci's ``merge_pgroups`` as ONE has it since November 2021)."""
    preds: list[list[int]] = [[] for _ in range(problem.num_ops)]
    for tensor in problem.base.tensors:
        for c in tensor.consumers:
            preds[c].append(tensor.producer)
    parts = [0] * problem.num_ops
    for k, ops in enumerate(circle_groups(preds, group, problem.reads_input, problem.default)):
        for v in ops:
            parts[v] = k
    return parts


def rules_backends(problem: OffloadProblem) -> list[int]:
    """circle-partitioner's backend of each op: its rule's, else the default (PlatformError if it cannot run)."""
    rules, names = problem.rules, problem.backends
    backend = []
    for v in range(problem.num_ops):
        op_type = problem.base.graph.nodes[v].get("type", "")
        chosen = names.index(rules.backend(op_type, problem.op_names[v])) if rules else problem.default
        if problem.base.times[v][chosen] is None:
            why = "by the rules" if rules else "the default backend"
            raise PlatformError(f"{rules.source if rules else problem.base.platform.source}: op {v} ({op_type}) goes "
                                f"to {names[chosen]} ({why}), which does not run it")  # fmt: skip
        backend.append(chosen)
    return backend
