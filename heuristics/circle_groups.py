"""circle-partitioner's grouping: luci's ``produce_pgroups`` and ``merge_pgroups`` as ONE has them since
November 2021 (Samsung/ONE PR #8024, "Partition merge skip for same output").

The model
---------
Ops ``0..n-1`` in the model's operator order (luci creates one group per op in that order; constants, graph
inputs and outputs and the extra output nodes of multi-output ops get no group of their own), each with a
backend label ``group[v]``. ``preds[v]``: the ops whose outputs op v reads; ``reads_input[v]``: op v reads a
graph input, which counts as the default backend and as no group. Constants never count.

Every op starts as its own group, in op order. Repeatedly: for the first group P (in list order) and the
first group Q (in list order) such that
- Q is not P and has P's backend,
- some op of P writes a tensor an op of Q reads (``is_input_of``),
- every tensor Q reads from outside comes from ops of one backend, a graph input counting as the default
  (``is_input_same``, which compares the backends of the inputs' groups, not the groups themselves), and
- every op that reads a tensor P writes is of P's backend (``is_output_same``: once one of P's outputs feeds
  another backend, P absorbs nothing more; without it, merging could close a cycle through that backend),
- no path leads from P to Q through a third group (``closes_cycle``: not in ONE; see below),
Q is merged into P (P keeps its place, Q leaves the list), and the search starts again; until nothing merges.
The groups, in their final list order, are circle-partitioner's parts.

The one deviation: both of ONE's tests compare backends, so a merge can still close a cycle through a group
of the same backend (P = {a}, Q = {c}, a -> b -> c and a -> c, b a group of its own because it also reads a
graph input from another backend). ONE would then write parts that cannot run one after another; we skip
such a merge (the next candidate is tried), so the parts always form an acyclic session graph.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def circle_groups(
    preds: Sequence[Sequence[int]],
    group: Sequence[Hashable],
    reads_input: Sequence[bool],
    default: Hashable,
) -> list[list[int]]:
    """circle-partitioner's parts: the ops of each, in ONE's order of the parts (see the module's model)."""
    n = len(group)
    succs: list[set[int]] = [set() for _ in range(n)]
    for v in range(n):
        for u in preds[v]:
            succs[u].add(v)
    parts: dict[int, list[int]] = {v: [v] for v in range(n)}
    owner = list(range(n))  # the part of each op, named by the op that started it
    ids = list(range(n))  # the list order of parts: by the op that started each, as merging keeps it
    # Both tests depend only on the part's own ops (backends never change), so they are cached until it grows.
    inputs_same: dict[int, bool] = {}
    outputs_stay: dict[int, bool] = {}

    def input_backends_agree(q: int) -> bool:
        if q not in inputs_same:
            ops = parts[q]
            backends = {group[u] for v in ops for u in preds[v] if owner[u] != q}
            if any(reads_input[v] for v in ops):
                backends.add(default)
            inputs_same[q] = len(backends) <= 1
        return inputs_same[q]

    def outputs_of_one_backend(p: int) -> bool:
        if p not in outputs_stay:
            outputs_stay[p] = all(group[c] == group[p] for v in parts[p] for c in succs[v])
        return outputs_stay[p]

    forward = all(u < v for v in range(n) for u in preds[v])  # model order is topological: searches stop early

    def closes_cycle(p: int, q: int) -> bool:
        limit = max(parts[q]) if forward else n
        seen = {c for v in parts[p] for c in succs[v] if owner[c] not in (p, q)}
        stack = list(seen)
        while stack:
            v = stack.pop()
            for c in succs[v]:
                if owner[c] == q:
                    return True
                if c not in seen and c <= limit and owner[c] != p:
                    seen.add(c)
                    stack.append(c)
        return False

    def absorbable(p: int) -> int | None:
        if not outputs_of_one_backend(p):
            return None
        readers = sorted({owner[c] for v in parts[p] for c in succs[v]} - {p})  # in list order: by start op
        return next((q for q in readers
                     if group[q] == group[p] and input_backends_agree(q) and not closes_cycle(p, q)), None)

    merged = True
    while merged:
        merged = False
        for p in ids:
            q = absorbable(p)
            if q is None:
                continue
            for v in parts[q]:
                owner[v] = p
            parts[p] += parts.pop(q)
            ids.remove(q)
            for cache in (inputs_same, outputs_stay):
                cache.pop(p, None)
                cache.pop(q, None)
            merged = True
            break
    return [sorted(parts[p]) for p in ids]
