"""circle-partitioner's plan: its backend per op (the rules, else the default) and its grouping into parts."""

from __future__ import annotations

from collections.abc import Sequence

from solver.errors import PlatformError
from solver.offload.problem import OffloadProblem


def circle_partitioner_plan(problem: OffloadProblem, group: Sequence[int]) -> list[int]:
    """circle-partitioner's parts for the backend ``group[v]`` of each op (luci ``merge_pgroups``, faithful).

    Every op starts as its own part, in op order. Repeatedly, the first part P (in list order) that has a
    later-or-earlier part Q (first in list order) of the same backend such that some output of P is an input
    of Q, and all of Q's non-constant inputs come from ops of one backend *and* of one part (a model input
    counts as the default backend and as no part), absorbs Q; until nothing merges. Constants never count.

    Where it makes more parts than needed: Q is never merged when its inputs come from two parts, even of its
    own backend. A residual block ``a -> b(npu) -> c``, ``a -> c`` on cpu leaves ``c`` alone (its inputs mix
    backends), and every op after it that also reads ``a`` stays alone too, so a chain of k such ops gives k
    parts where one would do; ops reading a model input beside a non-default input are never merged either.
    """
    n = problem.num_ops
    reads: list[list[int]] = [[] for _ in range(n)]  # producers of the data tensors each op reads
    for tensor in problem.base.tensors:
        for c in tensor.consumers:
            if tensor.producer not in reads[c]:
                reads[c].append(tensor.producer)
    owner = list(range(n))  # part of each op: the id of the op that started it
    members = {v: [v] for v in range(n)}
    inputs = {v: set(reads[v]) for v in range(n)}  # producer ops outside the part
    model_input = {v: problem.reads_input[v] for v in range(n)}
    outputs_to = {v: set(problem.base.dag.succs[v]) for v in range(n)}  # ops reading the part's outputs

    def inputs_same(q: int) -> bool:
        groups = {group[u] for u in inputs[q]} | ({problem.default} if model_input[q] else set())
        return len(groups) <= 1 and len({owner[u] for u in inputs[q]}) <= 1

    changed = True
    while changed:
        changed = False
        for p in sorted(members):
            candidates = sorted({owner[c] for c in outputs_to[p]} - {p})
            q = next((q for q in candidates if group[q] == group[p] and inputs_same(q)), None)
            if q is None:
                continue
            for v in members.pop(q):
                owner[v] = p
                members[p].append(v)
            inputs[p] = {u for u in inputs[p] | inputs.pop(q) if owner[u] != p}
            model_input[p] = model_input[p] or model_input.pop(q)
            outputs_to[p] |= outputs_to.pop(q)
            changed = True
            break
    return owner


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
